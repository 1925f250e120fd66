package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
)

// TestMailOverHTTP: on the whole stack, as the browser drives it, with the
// portal's own background worker sending to mailpit: a member added
// through the API is told within seconds; the lead's "Files received" is
// switched off through the API and the next hour's summary is not sent to
// them; /api/v1/me/notifications reads it back.
func TestMailOverHTTP(t *testing.T) {
	bin, err := devstack.FindMailpit()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("mail tests need mailpit: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	ts := startStackSetup(t, func(o *devstack.Options) {
		o.Mailpit, o.MailpitBinary = true, bin
		o.Env = map[string]string{"PORTAL_MAIL_INTERVAL": "200ms"}
	})
	ctx := context.Background()
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")

	waitMail := func(subject, to string) devstack.Mail {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			list, err := ts.Mailpit.Messages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range list {
				if m.Subject == subject && len(m.To) == 1 && m.To[0].Address == to {
					full, err := ts.Mailpit.Message(ctx, m.ID)
					if err != nil {
						t.Fatal(err)
					}
					return full
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no mail %q to %s within 15 s", subject, to)
		return devstack.Mail{}
	}
	// The demo's members were told at start-up.
	waitMail("You have been added to visit FV-DEMO", "uploader@cafcass.example")

	resp := admin.sendJSON("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"email": "new.sao@ofsted.example", "role": "analyst"})
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("add member: %s", resp.Status)
	}
	m := waitMail("You have been added to visit FV-DEMO", "new.sao@ofsted.example")
	if !strings.Contains(m.Text, "as an analyst (SAO)") || !strings.Contains(m.Text, ts.PortalURL+"/") {
		t.Fatalf("member added: %s", m.Text)
	}

	resp = lead.sendJSON("PUT", "/api/v1/me/notifications", map[string][]string{"on": {"cases_named", "provider_digest"}})
	var got struct {
		Notifications []struct {
			Kind string
			On   bool
		}
	}
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(got.Notifications) != 3 || got.Notifications[2].Kind != "files_arrived" || got.Notifications[2].On {
		t.Fatalf("PUT /api/v1/me/notifications: %s %+v", resp.Status, got)
	}
	if r := uploader.uploadItem(v.ID, "1.01 Zanzibar-Quokka.pdf", "", []byte("data")); r.ID == "" {
		t.Fatal("upload failed")
	}
	ts.offset.Add(int64(61 * time.Minute))
	time.Sleep(2 * time.Second) // several rounds of the worker
	notes, err := ts.Portal.Store().Notifications(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	skipped := 0
	for _, n := range notes {
		if n.Kind == "files_arrived" && n.State != "skipped" {
			t.Fatalf("files received, switched off: %+v", n)
		}
		if n.Kind == "files_arrived" {
			skipped++
		}
	}
	if skipped != 1 {
		t.Fatalf("%d files_arrived rows; want 1, skipped", skipped)
	}
	list, _ := ts.Mailpit.Messages(ctx)
	for _, s := range list {
		full, err := ts.Mailpit.Message(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(full.Subject+full.Text+full.HTML, "Zanzibar") {
			t.Fatalf("a file name in mail: %s", full.Subject)
		}
	}
	page := lead.get("/notifications")
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if !strings.Contains(string(body), `id="on-cases_named"`) || strings.Contains(string(body), `value="files_arrived" aria-describedby="on-files_arrived-hint" checked`) {
		t.Fatalf("notifications page: %s", body)
	}
}
