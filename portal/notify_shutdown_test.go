package portal_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/mail"
	"github.com/ofsted-portal/evidence/portal/metrics"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestMailCutByStoppingIsNoFailure: a notification whose sending the
// portal's stopping cuts short (the worker's context ends while the mail
// server has not answered) waits for the next round as it was: it is not
// an attempt, nor a failure of the mail. Before, it was counted in
// portal_mail_failures_total (whose alert sends the operator to the SMTP
// server) and took one of the notification's attempts, so that a portal
// restarted often enough gave up mail that was never refused.
func TestMailCutByStoppingIsNoFailure(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	v, _, coord := coordinatorAnnounced(t, d)

	// A mail server that takes the connection and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The portal stops once the server has the connection (or after
	// half a minute, which the test then fails).
	stopping, stop := context.WithTimeout(ctx, 30*time.Second)
	defer stop()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			time.AfterFunc(100*time.Millisecond, stop)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	cfg := d.Config
	cfg.Mail.SMTPURL = "smtp://" + ln.Addr().String()
	if cfg.Mail.SMTP, err = mail.ParseURL(cfg.Mail.SMTPURL); err != nil {
		t.Fatal(err)
	}
	reg := metrics.New(nil)
	svc := closingNoteOn(t, d, cfg, reg, v, coord)
	if n, _ := svc.DeliverNotifications(stopping); n != 0 {
		t.Fatalf("sent %d through a mail server that never answered", n)
	}
	mu.Lock()
	accepted := len(conns)
	mu.Unlock()
	if accepted == 0 {
		t.Fatal("the portal stopped before it reached the mail server: the test did not cut a sending short")
	}
	ns, err := svc.Store().Notifications(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var waiting []store.Notification
	for _, n := range ns {
		if n.Kind == portal.NoteAccessClosing {
			waiting = append(waiting, n)
		}
	}
	if len(waiting) != 1 || waiting[0].State != store.NotePending || waiting[0].Attempts != 0 || waiting[0].NextAt.After(svc.Now()) {
		t.Errorf("the notification is %+v; want it due for the next round, with no attempt spent", waiting)
	}
	if got := mailFailures(t, reg); got != 0 {
		t.Errorf("portal_mail_failures_total is %v after a sending cut short by the portal stopping, want 0", got)
	}
}
