package portal_test

import (
	"context"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/retention"
)

// TestComplaintDeadlineFollowsFinalLetter: the final letter goes out three
// working days later than planned. The lead inspector and the provider's
// coordinator must see the deadline the portal enforces for a complaint
// (the fifth working day after the recorded final letter) and the first
// day publication can be recorded, not the plan's; before the final letter
// the plan's deadline is shown, marked as planned.
func TestComplaintDeadlineFollowsFinalLetter(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	cal := d.svc.Calendar()
	lead := d.person("ofsted", "lead@ofsted.example")
	final := cal.AddWorkingDays(tl.FieldworkEnd, 25)
	d.at(final)

	planned := cal.AddWorkingDays(tl.FieldworkEnd, 27)
	view := d.mustAccess(lead, policy.VisitView).View(ctx)
	before := view.Timeline
	if before == nil || !view.ComplaintsPlanned || view.PublicationFrom != nil || !before.ComplaintsUntil.Equal(planned) {
		t.Fatalf("before the final letter: %+v, want the planned deadline %s marked as planned", before, planned.Format(time.DateOnly))
	}
	rec := d.mustAccess(lead, policy.VisitRecordEvent)
	for _, e := range []struct {
		event string
		on    time.Time
	}{{"draft_sent", cal.AddWorkingDays(tl.FieldworkEnd, 10)}, {"final_sent", final}} {
		if _, err := rec.RecordEvent(ctx, e.event, e.on.Format(time.DateOnly)); err != nil {
			t.Fatalf("%s: %v", e.event, err)
		}
	}
	until := retention.ComplaintsUntil(cal, final)
	view = d.mustAccess(lead, policy.VisitView).View(ctx)
	got := view.Timeline
	if got == nil {
		t.Fatal("no timeline")
	}
	if !got.ComplaintsUntil.Equal(until) || view.ComplaintsPlanned {
		t.Fatalf("complaints until %s (planned %v), want %s as enforced (the plan said %s)",
			got.ComplaintsUntil.Format(time.DateOnly), view.ComplaintsPlanned, until.Format(time.DateOnly), planned.Format(time.DateOnly))
	}
	if from := until.AddDate(0, 0, 1).Format(time.DateOnly); view.PublicationFrom == nil || *view.PublicationFrom != from {
		t.Fatalf("publication from %v, want %s", view.PublicationFrom, from)
	}
	// The portal refuses publication on the shown deadline and takes it the day after.
	if _, err := rec.RecordEvent(ctx, "published", got.ComplaintsUntil.Format(time.DateOnly)); err == nil {
		t.Fatal("publication recorded on the last day to complain")
	}
}
