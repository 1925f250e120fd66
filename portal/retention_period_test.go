package portal_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestRetentionPeriodKeptByTheVisit: a visit keeps the retention period it
// was created with. An instance started with another PORTAL_RETENTION_DAYS
// (a restart after the setting changed, or a second replica configured
// differently) shows the same destruction date for it, and its sweep does
// not destroy it sooner; the new setting applies to the visits created
// after it, and every instance agrees on those too. Before, a visit that
// took the portal's default stored none, and each instance computed its
// date from its own setting at each use.
func TestRetentionPeriodKeptByTheVisit(t *testing.T) {
	ctx := context.Background()
	d := startDomain(t)
	if d.Config.RetentionDays != 30 {
		t.Fatalf("the stack's retention period is %d days, the test expects the default 30", d.Config.RetentionDays)
	}
	v := d.demo()
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	day := d.publish(lead, v)
	want := day.AddDate(0, 0, 30).Format(time.DateOnly)

	cfg := d.Config
	cfg.RetentionDays = 10
	clock := func() time.Time { return time.Now().Add(time.Duration(d.offset.Load())) }
	second, err := portal.New(ctx, cfg, portal.WithClock(clock), portal.WithLogger(portal.NewLogger(&bytes.Buffer{}, "error")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Close() })

	for name, svc := range map[string]*portal.Service{"first (30 days)": d.svc, "second (10 days)": second} {
		acc, err := svc.Authorize(ctx, lead, policy.VisitView, v.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		view := acc.View(ctx)
		if view.DestroyOn == nil || *view.DestroyOn != want || view.RetentionDays != 30 {
			t.Fatalf("%s instance: the visit created at 30 days is destroyed on %v after %d days, want %s after 30", name, deref(view.DestroyOn), view.RetentionDays, want)
		}
	}
	// The second instance's sweep on the 10th day, then past its notice
	// period: nothing is destroyed before the 30th day.
	for _, after := range []int{10, 18, 29} {
		d.at(day.AddDate(0, 0, after))
		if ids, err := second.RunRetention(ctx); err != nil || len(ids) != 0 {
			t.Fatalf("the second instance's sweep %d days after publication destroyed %v (%v): the visit keeps 30 days", after, ids, err)
		}
	}
	if _, err := d.access(lead, policy.VisitView, ""); err != nil {
		t.Fatalf("the visit before its 30 days: %v", err)
	}

	// A visit created under the new setting keeps 10 days, on every
	// instance.
	cal, notified := second.Calendar(), second.Today()
	if !cal.IsWorkingDay(notified) {
		notified = cal.PreviousWorkingDay(notified)
	}
	nv, err := second.CreateVisit(ctx, admin, portal.NewVisit{Reference: "FV-TEN", Title: "Ten days", Provider: "Cafcass",
		NotificationDate: notified.Format(time.DateOnly), FieldworkStart: cal.AddWorkingDays(notified, 5).Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	for name, svc := range map[string]*portal.Service{"first (30 days)": d.svc, "second (10 days)": second} {
		acc, err := svc.Authorize(ctx, admin, policy.VisitView, nv.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := acc.View(ctx).RetentionDays; got != 10 {
			t.Fatalf("%s instance: the visit created at 10 days keeps %d", name, got)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "(none)"
	}
	return *s
}
