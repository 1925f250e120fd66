package portal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// longDate writes a date as the portal's refusals do.
func longDate(d time.Time) string { return d.Format("2 January 2006") }

// TestLateComplaintDoesNotStopPublication: Cafcass has 5 working days
// after the final letter is sent to complain, and only a complaint made
// in that time stops publication. A complaint received the day after the
// fifth working day is refused as a letter event with a sentence naming
// the deadline, and the letter's publication can then be recorded as it
// happened, without an administrator recording the complaint as resolved
// to get past it.
func TestLateComplaintDoesNotStopPublication(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	lead := d.person("ofsted", "lead@ofsted.example")
	draft, final, closes := complaintWindow(t, d)
	late := closes.AddDate(0, 0, 1)
	d.at(late.AddDate(0, 0, 7))
	acc := d.mustAccess(lead, policy.VisitRecordEvent)
	for _, e := range []struct{ event, date string }{{"draft_sent", draft.Format(time.DateOnly)}, {"final_sent", final.Format(time.DateOnly)}} {
		if _, err := acc.RecordEvent(ctx, e.event, e.date); err != nil {
			t.Fatalf("%s: %v", e.event, err)
		}
	}
	_, err := acc.RecordEvent(ctx, "complaint_received", late.Format(time.DateOnly))
	if kindOf(err) != portal.KindConflict || !strings.Contains(errMsg(err), longDate(closes)) {
		t.Fatalf("complaint received after the deadline (%s): %v, want a conflict naming the deadline", longDate(closes), err)
	}
	view, err := acc.RecordEvent(ctx, "published", late.Format(time.DateOnly))
	if err != nil {
		t.Fatalf("publication after a late complaint: %v", err)
	}
	if view.State != portal.StatePublished {
		t.Fatalf("after publication: %+v", view)
	}
}

// TestPublicationWaitsForTheComplaintWindow: the letter cannot be recorded
// as published while Cafcass may still complain (to the end of the fifth
// working day after the final letter is sent, bank holidays not counted):
// such a record would refuse a complaint made in time. The refusal names
// the first date publication may be recorded; a complaint made on the
// last day is recorded and stops publication until resolved.
func TestPublicationWaitsForTheComplaintWindow(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	lead := d.person("ofsted", "lead@ofsted.example")
	draft, final, closes := complaintWindow(t, d)
	first := closes.AddDate(0, 0, 1)
	d.at(first.AddDate(0, 0, 7))
	acc := d.mustAccess(lead, policy.VisitRecordEvent)
	date := func(t time.Time) string { return t.Format(time.DateOnly) }
	for _, tc := range []struct {
		event string
		on    time.Time
		kind  portal.Kind
	}{
		{"draft_sent", draft, 0},
		{"final_sent", final, 0},
		{"published", final, portal.KindConflict},
		{"published", closes, portal.KindConflict},
		{"complaint_received", closes, 0},
		{"published", first, portal.KindConflict},
		{"complaint_resolved", first, 0},
		{"published", first, 0},
	} {
		_, err := acc.RecordEvent(ctx, tc.event, date(tc.on))
		if kindOf(err) != tc.kind || tc.kind == 0 && err != nil {
			t.Fatalf("%s on %s: %v, want kind %d", tc.event, date(tc.on), err, tc.kind)
		}
		if tc.event == "published" && tc.kind == portal.KindConflict && !tc.on.After(closes) && !strings.Contains(errMsg(err), longDate(first)) {
			t.Fatalf("publication on %s refused with %q, which does not name %s, the first date it may be recorded", date(tc.on), errMsg(err), longDate(first))
		}
	}
}

// complaintWindow gives the demo visit's draft and final letters on the
// guidance's working days after fieldwork, and the last day the provider
// may complain: the fifth working day after the final letter.
func complaintWindow(t *testing.T, d *domain) (draft, final, closes time.Time) {
	t.Helper()
	tl, err := timelineOf(d, d.demo())
	if err != nil {
		t.Fatal(err)
	}
	cal := d.svc.Calendar()
	final = cal.AddWorkingDays(tl.FieldworkEnd, 22)
	return cal.AddWorkingDays(tl.FieldworkEnd, 10), final, cal.AddWorkingDays(final, 5)
}
