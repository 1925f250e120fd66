package portal_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/metrics"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestSuspendedAccessIsNoMailFailure: a notification to a member whose
// access is suspended (the visit's dates no longer fit the bank holiday
// calendar) waits, and is tried again, but is not counted as mail that
// could not be delivered: portal_mail_failures_total drives the alert that
// sends the operator to the SMTP server, which has nothing to do with it.
// The reason is kept on the notification, for administrators to see.
// Before, every round counted it as a mail failure.
func TestSuspendedAccessIsNoMailFailure(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	v, tl, coord := coordinatorAnnounced(t, d)
	// The operator's calendar adds a bank holiday inside the notice
	// period: the visit's timeline cannot be worked out.
	holiday := d.svc.Calendar().AddWorkingDays(tl.Notification, 2)
	file := filepath.Join(t.TempDir(), "holidays.txt")
	if err := os.WriteFile(file, []byte(holiday.Format(time.DateOnly)+" add State funeral\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := d.Config
	cfg.CalendarFile = file
	reg := metrics.New(nil)
	svc := closingNoteOn(t, d, cfg, reg, v, coord)
	if n, _ := svc.DeliverNotifications(ctx); n != 0 {
		t.Errorf("sent %d to a member whose access is suspended", n)
	}
	ns, err := svc.Store().Notifications(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var held []store.Notification
	for _, n := range ns {
		if n.Kind == portal.NoteAccessClosing {
			held = append(held, n)
		}
	}
	if len(held) != 1 || held[0].State != store.NotePending || held[0].Attempts != 1 || !strings.Contains(held[0].LastError, "suspended") {
		t.Errorf("the notification is %+v; want it waiting after one attempt, with the suspension as its reason", held)
	}
	if got := mailFailures(t, reg); got != 0 {
		t.Errorf("portal_mail_failures_total is %v after a notification held for a suspended access, want 0", got)
	}
}

// coordinatorAnnounced has d's clock at the demo visit's notification day,
// the set-up's mail delivered, and returns the visit, its timeline and the
// Cafcass coordinator's membership of it.
func coordinatorAnnounced(t *testing.T, d *domain) (store.Visit, *timelineView, store.Member) {
	t.Helper()
	d.deliver() // the set-up's own mail
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	d.at(tl.Notification)
	coord := d.person("cafcass", "coordinator@cafcass.example")
	ms, err := d.svc.Store().MembershipsOf(context.Background(), v.ID, coord.UserID)
	if err != nil || len(ms) != 1 {
		t.Fatalf("memberships: %v %v", ms, err)
	}
	d.deliver()
	return v, tl, ms[0]
}

// closingNoteOn starts a second service on d's stack with cfg, counting
// into reg, on d's clock, and puts in its outbox an access-closing
// notification to the member m of v.
func closingNoteOn(t *testing.T, d *domain, cfg portal.Config, reg *metrics.Registry, v store.Visit, m store.Member) *portal.Service {
	t.Helper()
	ctx := context.Background()
	clock := func() time.Time { return time.Now().Add(time.Duration(d.offset.Load())) }
	svc, err := portal.New(ctx, cfg, portal.WithClock(clock), portal.WithMetrics(reg), portal.WithLogger(portal.NewLogger(&bytes.Buffer{}, "error")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if err := svc.Store().Enqueue(ctx, svc.Now(), store.Outgoing{Kind: portal.NoteAccessClosing, VisitID: v.ID, To: store.Audience{MemberID: m.ID}}); err != nil {
		t.Fatal(err)
	}
	return svc
}
