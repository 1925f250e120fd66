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
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	cal := d.svc.Calendar()
	lead := d.person("ofsted", "lead@ofsted.example")
	draft := cal.AddWorkingDays(tl.FieldworkEnd, 10)
	final := cal.AddWorkingDays(tl.FieldworkEnd, 22)
	closes := cal.AddWorkingDays(final, 5)
	late := closes.AddDate(0, 0, 1)
	d.at(late.AddDate(0, 0, 7))
	acc := d.mustAccess(lead, policy.VisitRecordEvent)
	for _, e := range []struct{ event, date string }{{"draft_sent", draft.Format(time.DateOnly)}, {"final_sent", final.Format(time.DateOnly)}} {
		if _, err := acc.RecordEvent(ctx, e.event, e.date); err != nil {
			t.Fatalf("%s: %v", e.event, err)
		}
	}
	_, err = acc.RecordEvent(ctx, "complaint_received", late.Format(time.DateOnly))
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
