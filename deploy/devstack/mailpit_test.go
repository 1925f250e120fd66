package devstack_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
)

func TestMailpit(t *testing.T) {
	bin := need(t, devstack.FindMailpit)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	mp, err := devstack.StartMailpit(ctx, devstack.MailpitOptions{Dir: t.TempDir(), Binary: bin, Output: logWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	defer mp.Stop()
	t.Logf("mailpit ready in %s (SMTP %s, web %s)", time.Since(start).Round(time.Millisecond), mp.SMTPAddr, mp.WebURL)

	msg := strings.Join([]string{
		"From: Evidence portal <portal@ofsted.example>",
		"To: lead@ofsted.example",
		"Subject: Evidence received for FV-TEST",
		"MIME-Version: 1.0",
		`Content-Type: multipart/alternative; boundary="b"`,
		"",
		"--b",
		"Content-Type: text/plain; charset=utf-8",
		"",
		"Item 1.03 has 2 files.",
		"--b",
		"Content-Type: text/html; charset=utf-8",
		"",
		"<p>Item <b>1.03</b> has 2 files.</p>",
		"--b--",
		"",
	}, "\r\n")
	if err := smtp.SendMail(mp.SMTPAddr, nil, "portal@ofsted.example", []string{"lead@ofsted.example"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}

	list, err := mp.Messages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%d messages; want 1: %+v", len(list), list)
	}
	m := list[0]
	if m.From.Address != "portal@ofsted.example" || m.From.Name != "Evidence portal" ||
		len(m.To) != 1 || m.To[0].Address != "lead@ofsted.example" || m.Subject != "Evidence received for FV-TEST" {
		t.Fatalf("summary %+v", m)
	}
	full, err := mp.Message(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(full.Text) != "Item 1.03 has 2 files." || !strings.Contains(full.HTML, "<b>1.03</b>") || full.Subject != m.Subject {
		t.Fatalf("bodies: text %q, html %q", full.Text, full.HTML)
	}

	// The viewer make run serves lists the message and shows its bodies.
	view := httptest.NewServer(devstack.MailViewer(mp))
	defer view.Close()
	for path, want := range map[string]string{"/": `<a href="/m/` + m.ID + `">Evidence received for FV-TEST</a>`, "/m/" + m.ID: "Item 1.03 has 2 files."} {
		resp, err := http.Get(view.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Fatalf("viewer %s: %s %s", path, resp.Status, b)
		}
	}

	if err := mp.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	if list, err = mp.Messages(ctx); err != nil || len(list) != 0 {
		t.Fatalf("after DeleteAll: %d messages, %v", len(list), err)
	}
	if err := mp.Stop(); err != nil {
		t.Fatal(err)
	}
}
