package portal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestDigestLeavesOutCompleteItems: on the notification day the
// coordinator marks the day-3 lists complete without a file (there is
// nothing more to send for them). The digest does not tell provider staff
// they are due, nor, once day 3 has passed, that they are overdue: the
// request shows them complete, and the digest says the same.
func TestDigestLeavesOutCompleteItems(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	coord := d.person("cafcass", "coordinator@cafcass.example")
	digests := func() []map[string]string {
		t.Helper()
		if err := d.svc.ScheduleNotifications(ctx); err != nil {
			t.Fatal(err)
		}
		ns, err := d.svc.Store().Notifications(ctx, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		var out []map[string]string
		for _, n := range ns {
			if n.Kind == portal.NoteProviderDigest && n.VisitID == v.ID && n.Data["date"] == d.svc.Calendar().NextWorkingDay(d.svc.Today()).Format(time.DateOnly) {
				out = append(out, n.Data)
			}
		}
		return out
	}

	d.at(tl.Notification)
	acc := d.mustAccess(coord, policy.ItemComplete)
	for _, code := range []string{portal.ItemChildLevelData, portal.ItemAuditedCases} {
		if err := acc.CompleteItem(ctx, code, true); err != nil {
			t.Fatal(err)
		}
	}
	items, err := d.mustAccess(coord, policy.VisitView).InformationRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if (it.Code == portal.ItemChildLevelData || it.Code == portal.ItemAuditedCases) && it.Status != "complete" {
			t.Fatalf("item %s is %s, want complete", it.Code, it.Status)
		}
	}
	// The notification day: only the day-3 lists are due next, and they
	// are complete.
	if got := digests(); len(got) != 0 {
		t.Fatalf("digest on the notification day for items marked complete: %v", got)
	}
	// The working day after day 3: the Annex A items are due next, and
	// nothing is overdue.
	d.at(d.svc.Calendar().AddWorkingDays(tl.Notification, 2))
	got := digests()
	if len(got) == 0 {
		t.Fatal("no digest of the Annex A items due")
	}
	for _, data := range got {
		if data["overdue"] != "0" || data["due"] != "5" {
			t.Fatalf("digest after day 3 for the day-3 items marked complete: %v, want 5 due and 0 overdue", data)
		}
	}
}

// TestCaseFileNamedDuringFieldwork: case files are due when fieldwork
// starts, for the children named the day before. A child the lead
// inspector names on the second fieldwork day cannot have been due the
// day before: the case file is due by the end of the day it is asked for,
// not overdue from the moment it is asked for. One asked for before
// fieldwork is still due when fieldwork starts. The same holds for an
// Annex A item added after day 5.
func TestCaseFileNamedDuringFieldwork(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	lead := d.person("ofsted", "lead@ofsted.example")
	coord := d.person("cafcass", "coordinator@cafcass.example")
	start := d.svc.Calendar().PreviousWorkingDay(tl.FieldworkEnd)

	d.at(d.svc.Calendar().PreviousWorkingDay(start))
	first, err := d.mustAccess(lead, policy.RequestManage).SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Title: "Case of Child A"}, portal.AddItem)
	if err != nil {
		t.Fatal(err)
	}
	if first.Due != start.Format(time.DateOnly) || first.Status != "due" {
		t.Fatalf("case file named on day 6: due %s (%s), want %s (due)", first.Due, first.Status, start.Format(time.DateOnly))
	}

	annex, err := d.mustAccess(lead, policy.RequestManage).SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindAnnexA, Code: "1.06", Title: "Staff survey"}, portal.AddItem)
	if err != nil {
		t.Fatal(err)
	}
	if day6 := d.svc.Calendar().PreviousWorkingDay(start).Format(time.DateOnly); annex.Due != day6 || annex.Status != "due" {
		t.Fatalf("Annex A item added on day 6: due %s (%s), want %s (due)", annex.Due, annex.Status, day6)
	}

	d.at(tl.FieldworkEnd)
	later, err := d.mustAccess(lead, policy.RequestManage).SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Title: "Case of Child B"}, portal.AddItem)
	if err != nil {
		t.Fatal(err)
	}
	if later.Due != tl.FieldworkEnd.Format(time.DateOnly) || later.Status != "due" {
		t.Fatalf("case file named on the last fieldwork day: due %s (%s), want %s (due)", later.Due, later.Status, tl.FieldworkEnd.Format(time.DateOnly))
	}
	items, err := d.mustAccess(coord, policy.VisitView).InformationRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Code == first.Code && (it.Due != start.Format(time.DateOnly) || it.Status != "overdue") {
			t.Fatalf("the case file named on day 6, on the last fieldwork day: due %s (%s), want %s (overdue)", it.Due, it.Status, start.Format(time.DateOnly))
		}
	}
}

// TestDueDateTheProviderCanMeet: a date set for an item is one the
// provider can meet: from the notification date (they cannot be asked
// before it) to the end of fieldwork (uploads close then). A mistyped
// year, or a date after fieldwork, is refused on the field with the range,
// and the item keeps its date; a date in the range is kept.
func TestDueDateTheProviderCanMeet(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	cal := d.svc.Calendar()
	lead := d.person("ofsted", "lead@ofsted.example")
	d.at(tl.Notification)
	req := d.mustAccess(lead, policy.RequestManage)
	for _, due := range []time.Time{
		cal.PreviousWorkingDay(tl.Notification), // before the provider is told
		cal.NextWorkingDay(tl.FieldworkEnd),     // after uploads close
		tl.FieldworkEnd.AddDate(1, 0, 0),        // a mistyped year
	} {
		if !cal.IsWorkingDay(due) {
			due = cal.NextWorkingDay(due)
		}
		_, err := req.SaveRequestItem(ctx, portal.RequestItemInput{Code: "1.03", Title: "Management information", Due: due.Format(time.DateOnly)}, portal.ChangeItem)
		if e, ok := portal.AsError(err); !ok || e.Kind != portal.KindInvalid || e.Field != "due" || !strings.Contains(e.Msg, tl.FieldworkEnd.Format("2 January 2006")) {
			t.Fatalf("due %s: %v, want refused on the due date, naming the end of fieldwork", due.Format(time.DateOnly), err)
		}
	}
	items, err := req.InformationRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Code == "1.03" && it.Due != cal.AddWorkingDays(tl.Notification, 3).Format(time.DateOnly) {
			t.Fatalf("a refused due date changed item 1.03: due %s", it.Due)
		}
	}
	it, err := req.SaveRequestItem(ctx, portal.RequestItemInput{Code: "1.03", Title: "Management information", Due: tl.FieldworkEnd.Format(time.DateOnly)}, portal.ChangeItem)
	if err != nil || it.Due != tl.FieldworkEnd.Format(time.DateOnly) {
		t.Fatalf("due on the last fieldwork day: %v %+v", err, it)
	}
}
