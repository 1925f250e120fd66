package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ofsted-portal/evidence/deploy/owned"
)

// Mailpit is a mailpit child process: an SMTP server that keeps every mail
// it receives (and delivers none), with an HTTP API and web page to read
// them. It accepts mail without authentication or TLS.
type Mailpit struct {
	SMTPAddr string // host:port for SMTP
	WebURL   string // http://host:port: the web page and the API under /api/v1

	cmd      *exec.Cmd
	done     chan error
	stopOnce sync.Once
}

// MailpitOptions configure StartMailpit.
type MailpitOptions struct {
	Dir string // holds mailpit.db, the stored mail
	// SMTPAddr and HTTPAddr are "127.0.0.1:port"; empty or port 0 picks a
	// free port.
	SMTPAddr, HTTPAddr string
	Output             io.Writer // mailpit's log (nil: discarded)
	Binary             string    // empty: FindMailpit
	StartupWait        time.Duration
	// AllowedRecipients, when set, is a regular expression: mailpit
	// refuses other recipients with a 5xx (tests of a refused address).
	AllowedRecipients string
}

// FindMailpit returns the mailpit binary: $PORTAL_MAILPIT_BIN, else
// bin/mailpit in the module root.
func FindMailpit() (string, error) { return FindTool("mailpit", "PORTAL_MAILPIT_BIN") }

// StartMailpit starts mailpit and waits until it is ready.
func StartMailpit(ctx context.Context, o MailpitOptions) (*Mailpit, error) {
	var err error
	if o.Binary == "" {
		if o.Binary, err = FindMailpit(); err != nil {
			return nil, err
		}
	}
	for _, a := range []*string{&o.SMTPAddr, &o.HTTPAddr} {
		if *a == "" || strings.HasSuffix(*a, ":0") {
			if *a, err = FreeAddr(); err != nil {
				return nil, err
			}
		}
	}
	if o.StartupWait == 0 {
		o.StartupWait = 30 * time.Second
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	args := []string{"--database", filepath.Join(o.Dir, "mailpit.db"),
		"--smtp", o.SMTPAddr, "--listen", o.HTTPAddr, "--disable-version-check"}
	if o.AllowedRecipients != "" {
		args = append(args, "--smtp-allowed-recipients", o.AllowedRecipients)
	}
	cmd := exec.Command(o.Binary, args...)
	if o.Output == nil {
		o.Output = io.Discard
	}
	cmd.Stdout, cmd.Stderr = o.Output, o.Output
	// Own process group: Ctrl-C in a terminal reaches us, and we stop it
	// ourselves, in order.
	cmd.SysProcAttr = owned.SysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start mailpit: %w", err)
	}
	m := &Mailpit{SMTPAddr: o.SMTPAddr, WebURL: "http://" + o.HTTPAddr, cmd: cmd, done: make(chan error, 1)}
	go func() { m.done <- cmd.Wait() }()
	if err := waitChild(ctx, "mailpit", o.StartupWait, m.done, httpOK(m.WebURL+"/readyz")); err != nil {
		m.Stop()
		return nil, err
	}
	return m, nil
}

// Pid is mailpit's process id.
func (m *Mailpit) Pid() int { return m.cmd.Process.Pid }

// Stop ends mailpit: SIGTERM, then SIGKILL after 10 seconds. It may be
// called more than once.
func (m *Mailpit) Stop() error {
	if m == nil || m.cmd.Process == nil {
		return nil
	}
	m.stopOnce.Do(func() {
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.done:
		case <-time.After(10 * time.Second):
			_ = m.cmd.Process.Kill()
			<-m.done
		}
	})
	return nil
}

// MailSummary is a message as mailpit lists it.
type MailSummary struct {
	ID        string
	MessageID string // the Message-ID header, without angle brackets
	From      mail.Address
	To        []mail.Address
	Subject   string
}

// Mail is a whole message: its summary and its bodies.
type Mail struct {
	MailSummary
	Text string // the text/plain body
	HTML string // the text/html body
}

// Messages lists the stored messages, newest first (at most 500, mailpit's
// default store limit).
func (m *Mailpit) Messages(ctx context.Context) ([]MailSummary, error) {
	var list struct{ Messages []MailSummary }
	err := m.api(ctx, http.MethodGet, "/api/v1/messages?limit=500", &list)
	return list.Messages, err
}

// Message fetches one message with its text and HTML bodies.
func (m *Mailpit) Message(ctx context.Context, id string) (Mail, error) {
	var msg Mail
	err := m.api(ctx, http.MethodGet, "/api/v1/message/"+url.PathEscape(id), &msg)
	return msg, err
}

// DeleteAll deletes every stored message.
func (m *Mailpit) DeleteAll(ctx context.Context) error {
	return m.api(ctx, http.MethodDelete, "/api/v1/messages", nil)
}

func (m *Mailpit) api(ctx context.Context, method, path string, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, m.WebURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("mailpit: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("mailpit: %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if into == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		return fmt.Errorf("mailpit: %s %s: %w", method, path, err)
	}
	return nil
}
