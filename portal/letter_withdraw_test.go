package portal_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestWithdrawWrongPublication: the lead inspector records the letter's
// publication weeks late and with the wrong date (the first day after
// Cafcass's time to complain, when it was published later). The
// destruction date that follows is already past: the sweep gives notice at
// once, and the evidence would go within the notice period. An
// administrator withdraws the wrong event (only the last one, only an
// administrator; recorded), which takes the destruction date, the notice
// and the inspectors' closed access with it, and records the right date:
// the destruction date moves to it and a fresh notice is needed.
func TestWithdrawWrongPublication(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	lead := d.person("ofsted", "lead@ofsted.example")
	hmi := d.person("ofsted", "hmi@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	day := func(n int) time.Time { return tl.FieldworkEnd.AddDate(0, 0, n) }
	date := func(n int) string { return day(n).Format(time.DateOnly) }

	// Recorded five days after the wrong date's destruction date; the
	// right date is two days ago.
	const final = 22
	wrong := int(retention.ComplaintsUntil(d.svc.Calendar(), day(final)).AddDate(0, 0, 1).Sub(tl.FieldworkEnd).Hours() / 24)
	late := wrong + d.Config.RetentionDays + 5
	d.at(day(late))
	rec := d.mustAccess(lead, policy.VisitRecordEvent)
	for _, e := range []struct {
		event string
		on    int
	}{{"draft_sent", 14}, {"final_sent", final}, {"published", wrong}} {
		if _, err := rec.RecordEvent(ctx, e.event, date(e.on)); err != nil {
			t.Fatalf("%s: %v", e.event, err)
		}
	}
	wrongOn := day(wrong + d.Config.RetentionDays)
	if view := d.mustAccess(admin, policy.VisitView).View(ctx); view.DestroyOn == nil || *view.DestroyOn != wrongOn.Format(time.DateOnly) {
		t.Fatalf("destruction date after the wrong publication: %v, want %s", view.DestroyOn, wrongOn.Format(time.DateOnly))
	}
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("retention run: %v %v", ids, err)
	}
	if n, err := d.svc.Store().GetNotice(ctx, v.ID); err != nil || !n.DestroyOn.Equal(wrongOn) {
		t.Fatalf("notice for the wrong date: %+v %v", n, err)
	}
	// Recording it again is refused: the letter is published.
	if _, err := d.mustAccess(admin, policy.VisitRecordEvent).RecordEvent(ctx, "published", date(late-2)); kindOf(err) != portal.KindConflict {
		t.Fatalf("publication recorded twice: %v", err)
	}

	// Only an administrator withdraws an event, and only the last one,
	// named as it was recorded.
	if acc, err := d.access(lead, policy.VisitView, ""); err != nil {
		t.Fatal(err)
	} else if _, err := acc.WithdrawEvent(ctx, "published", date(wrong)); kindOf(err) != portal.KindForbidden {
		t.Fatalf("the lead inspector withdrawing: %v, want forbidden", err)
	}
	manage := d.mustAccess(admin, policy.VisitManage)
	for _, tc := range []struct {
		event, date string
		kind        portal.Kind
		msg         string
	}{
		{"final_sent", date(final), portal.KindConflict, "Only the last letter event can be withdrawn: it is published dated " + date(wrong)},
		{"published", date(wrong - 1), portal.KindConflict, "Only the last letter event can be withdrawn"},
		{"published", "31/12/2026", portal.KindInvalid, "YYYY-MM-DD"},
		{"drafted", date(wrong), portal.KindInvalid, ""},
	} {
		_, err := manage.WithdrawEvent(ctx, tc.event, tc.date)
		if kindOf(err) != tc.kind || !strings.Contains(errMsg(err), tc.msg) {
			t.Fatalf("withdraw %s %s: %v, want kind %d saying %q", tc.event, tc.date, err, tc.kind, tc.msg)
		}
	}
	if evs, err := d.svc.Store().Events(ctx, v.ID); err != nil || len(evs) != 3 {
		t.Fatalf("a refused withdrawal changed the events: %v %v", evs, err)
	}

	view, err := manage.WithdrawEvent(ctx, "published", date(wrong))
	if err != nil {
		t.Fatal(err)
	}
	if view.State == portal.StatePublished || view.DestroyOn != nil {
		t.Fatalf("after the withdrawal: state %s, destroy on %v", view.State, view.DestroyOn)
	}
	if _, err := d.svc.Store().GetNotice(ctx, v.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the notice for the wrong date stayed: %v", err)
	}
	// Not published: the inspectors' access is back, as it was.
	d.mustAccess(hmi, policy.FileList)
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{Action: "letter.withdrawn", VisitID: v.ID})
	if err != nil || len(recs) != 1 || recs[0].ActorEmail != "admin@ofsted.example" ||
		!strings.Contains(recs[0].Detail, `"event":"published"`) || !strings.Contains(recs[0].Detail, `"date":"`+date(wrong)+`"`) {
		t.Fatalf("withdrawal records: %v %+v", err, recs)
	}

	// The right date, recorded again: the destruction date follows it, and
	// nothing is destroyed on the wrong one.
	view, err = d.mustAccess(admin, policy.VisitRecordEvent).RecordEvent(ctx, "published", date(late-2))
	rightOn := day(late - 2 + d.Config.RetentionDays)
	if err != nil || view.DestroyOn == nil || *view.DestroyOn != rightOn.Format(time.DateOnly) {
		t.Fatalf("publication on the right date: %v, destroy on %v, want %s", err, view.DestroyOn, rightOn.Format(time.DateOnly))
	}
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("retention run after the correction: %v %v", ids, err)
	}
	if _, err := d.svc.Store().GetNotice(ctx, v.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("notice given for a date %d days away: %v", d.Config.RetentionDays-2, err)
	}
	d.at(rightOn.AddDate(0, 0, -7))
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("retention run at the notice: %v %v", ids, err)
	}
	if n, err := d.svc.Store().GetNotice(ctx, v.ID); err != nil || !n.DestroyOn.Equal(rightOn) {
		t.Fatalf("notice for the right date: %+v %v", n, err)
	}
}
