package portal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestCompletingAgainKeepsTheFirst: the coordinator marks Annex A item
// 1.03 complete on the day it is due, then, two working days later (a
// second click, another coordinator, a script run again), marks it
// complete again. The item was complete on time: the request keeps when,
// and by whom, it was first marked complete, and the trail records the
// completion once. Before, the second mark replaced the first, and the
// item read as completed after its due date.
func TestCompletingAgainKeepsTheFirst(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	coord := d.person("cafcass", "coordinator@cafcass.example")
	annexADue := d.svc.Calendar().AddWorkingDays(tl.Notification, 3) // day 5
	d.at(annexADue)
	if err := d.mustAccess(coord, policy.ItemComplete).CompleteItem(ctx, "1.03", true); err != nil {
		t.Fatal(err)
	}
	first := d.svc.Now()
	d.at(d.svc.Calendar().AddWorkingDays(annexADue, 2))
	if err := d.mustAccess(coord, policy.ItemComplete).CompleteItem(ctx, "1.03", true); err != nil {
		t.Fatal(err)
	}
	items, err := d.mustAccess(coord, policy.VisitView).InformationRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Code == "1.03" && (it.CompletedAt == nil || it.CompletedAt.Sub(first).Abs() > time.Minute) {
			t.Fatalf("item 1.03 completed on %s, due %s, marked complete again later: completed_at %v, want %s", first.Format(time.DateOnly), it.Due, it.CompletedAt, first)
		}
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "request.item_completed"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d request.item_completed records for one completion, want 1", len(recs))
	}
}

// TestRemovedCaseFileNumberNotReused: the lead inspector asks for Child
// A's case file (case-1) and asks the provider a question on it, then
// removes the request (the wrong child; nothing was filed under it). The
// thread keeps its item. The case file asked for next, Child B's, must
// not take the number case-1: the question about Child A would show
// under Child B's request, and anything filed under case-1 before (a
// purged file, an upload in progress, a restriction) with it.
func TestRemovedCaseFileNumberNotReused(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	lead := d.person("ofsted", "lead@ofsted.example")
	d.at(d.svc.Calendar().PreviousWorkingDay(d.svc.Calendar().PreviousWorkingDay(tl.FieldworkEnd))) // day 6
	a, err := d.mustAccess(lead, policy.RequestManage).SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Title: "Case of Child A"}, portal.AddItem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.mustAccess(lead, policy.QuestionPost).Ask(ctx, portal.QuestionInput{Item: a.Code, Text: "Is the court order on file?"}); err != nil {
		t.Fatal(err)
	}
	if err := d.mustAccess(lead, policy.RequestManage).RemoveRequestItem(ctx, a.Code); err != nil {
		t.Fatal(err)
	}
	b, err := d.mustAccess(lead, policy.RequestManage).SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Title: "Case of Child B"}, portal.AddItem)
	if err != nil {
		t.Fatal(err)
	}
	if b.Code == a.Code {
		t.Fatalf("Child B's case file asked for after Child A's (%s, with a question on it) was removed: %s, want a new number", a.Code, b.Code)
	}
	qs, err := d.mustAccess(lead, policy.VisitView).Questions(ctx, portal.QuestionQuery{Item: b.Code})
	if err != nil || len(qs) != 0 {
		t.Fatalf("questions on Child B's case file %s: %d, %v; want none", b.Code, len(qs), err)
	}
}

// TestCaseFileOnlyWhenRequested: a child's case file is sent when the
// inspectors ask for that child, and under the request's number. An
// upload, or a refiling, under a case-file number not in the request
// (case-1 before any child is named, a number mistyped) is refused on the
// item: the file would sit under a number the lead inspector gives later
// to another child, or under none, and a child's whole record would be
// sent without being asked for. Once case-1 is asked for, it is taken.
func TestCaseFileOnlyWhenRequested(t *testing.T) {
	d, _, tl, uploader, a := oneFileUploaded(t)
	ctx := context.Background()
	lead := d.person("ofsted", "lead@ofsted.example")
	coord := d.person("cafcass", "coordinator@cafcass.example")
	up := d.mustAccess(uploader, policy.FileUpload)
	if f, err := up.Upload(ctx, portal.NewFile{Name: "chronology.pdf", Item: "case-1", Size: 5}, strings.NewReader("chron")); kindOf(err) != portal.KindInvalid {
		t.Fatalf("upload under case-1 before any case file was asked for: %+v, %v; want refused on the item", f, err)
	}
	refile, err := d.access(coord, policy.FileRefile, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := refile.Refile(ctx, "case-1"); kindOf(err) != portal.KindInvalid {
		t.Fatalf("refiling %s under case-1 before any case file was asked for: %+v, %v; want refused on the item", a.Name, f, err)
	}
	d.at(d.svc.Calendar().PreviousWorkingDay(d.svc.Calendar().PreviousWorkingDay(tl.FieldworkEnd))) // day 6
	c, err := d.mustAccess(lead, policy.RequestManage).SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Title: "Case of Child A"}, portal.AddItem)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "chronology.pdf", Item: c.Code, Size: 5}, strings.NewReader("chron")); err != nil || f.Item != c.Code {
		t.Fatalf("upload under %s once asked for: %+v, %v", c.Code, f, err)
	}
	// An Annex A number not in the request is still taken (1.06 onwards
	// exist whether or not the lead inspector has added them).
	if _, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "survey.pdf", Item: "1.07", Size: 2}, strings.NewReader("sv")); err != nil {
		t.Fatalf("upload under Annex A item 1.07: %v", err)
	}
}

// TestDueDateNotBeforeItIsAsked: on day 6 the lead inspector adds Annex A
// item 1.07 with a due date of day 3, and moves item 1.03's date to day
// 3: both dates are in the visit's range (the notification date to the
// end of fieldwork), but before the day they are asked. An item is never
// due before it is asked for: the provider cannot have sent by day 3 what
// it is asked for on day 6, and the request, the digest and the visit page
// would show it overdue from the moment it is asked. Both are refused on
// the due date, and nothing is stored; the day itself is taken.
func TestDueDateNotBeforeItIsAsked(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	cal := d.svc.Calendar()
	lead := d.person("ofsted", "lead@ofsted.example")
	day3, day6 := cal.AddWorkingDays(tl.Notification, 1), cal.PreviousWorkingDay(cal.PreviousWorkingDay(tl.FieldworkEnd))
	d.at(day6)
	req := d.mustAccess(lead, policy.RequestManage)
	if it, err := req.SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindAnnexA, Code: "1.07", Title: "Staff survey", Due: day3.Format(time.DateOnly)}, portal.AddItem); kindOf(err) != portal.KindInvalid {
		t.Fatalf("item added on %s due on %s: %+v, %v; want refused on the due date", day6.Format(time.DateOnly), day3.Format(time.DateOnly), it, err)
	}
	if it, err := req.SaveRequestItem(ctx, portal.RequestItemInput{Code: "1.03", Title: "Management information", Due: day3.Format(time.DateOnly)}, portal.ChangeItem); kindOf(err) != portal.KindInvalid {
		t.Fatalf("item 1.03 moved on %s to be due on %s: %+v, %v; want refused on the due date", day6.Format(time.DateOnly), day3.Format(time.DateOnly), it, err)
	}
	items, err := req.InformationRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Code == "1.07" || it.Status == "overdue" && it.Code == "1.03" && it.Due == day3.Format(time.DateOnly) {
			t.Fatalf("stored: %+v", it)
		}
	}
	if it, err := req.SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindAnnexA, Code: "1.07", Title: "Staff survey", Due: day6.Format(time.DateOnly)}, portal.AddItem); err != nil || it.Due != day6.Format(time.DateOnly) || it.Status != "due" {
		t.Fatalf("item added on %s due the same day: %+v, %v", day6.Format(time.DateOnly), it, err)
	}
}

// TestRequestWithFilesIsNotRemoved: the provider has filed Child A's
// chronology under case-1 when the lead inspector removes case-1 from the
// request. The request's title is the one record of which child case-1
// is, and the request is what the file answers: removed, the file would
// stay under a number no line of the request explains, out of the
// request's counts. The removal is refused (conflict) and the item stays,
// with its file; once the file is filed elsewhere it may go.
func TestRequestWithFilesIsNotRemoved(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	lead := d.person("ofsted", "lead@ofsted.example")
	uploader := d.person("cafcass", "uploader@cafcass.example")
	coord := d.person("cafcass", "coordinator@cafcass.example")
	d.at(d.svc.Calendar().PreviousWorkingDay(d.svc.Calendar().PreviousWorkingDay(tl.FieldworkEnd))) // day 6
	a, err := d.mustAccess(lead, policy.RequestManage).SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Title: "Case of Child A"}, portal.AddItem)
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: a.Code + " chronology.pdf", Size: 5}, strings.NewReader("chron"))
	if err != nil || f.Item != a.Code {
		t.Fatalf("upload: %+v, %v", f, err)
	}
	if err := d.mustAccess(lead, policy.RequestManage).RemoveRequestItem(ctx, a.Code); kindOf(err) != portal.KindConflict {
		t.Fatalf("removing %s with a file filed under it: %v; want a conflict", a.Code, err)
	}
	items, err := d.mustAccess(lead, policy.VisitView).InformationRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kept := false
	for _, it := range items {
		kept = kept || it.Code == a.Code && it.Files == 1 && it.Title == "Case of Child A"
	}
	if !kept {
		t.Fatalf("%s not kept with its file: %+v", a.Code, items)
	}
	refile, err := d.access(coord, policy.FileRefile, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := refile.Refile(ctx, "1.03"); err != nil {
		t.Fatal(err)
	}
	if err := d.mustAccess(lead, policy.RequestManage).RemoveRequestItem(ctx, a.Code); err != nil {
		t.Fatalf("removing %s once its file is filed elsewhere: %v", a.Code, err)
	}
}

// TestRequestItemAddedAfterARemoval: an item added to the information
// request comes last on its page, after every item there before it, even
// when an item was removed first (here 1.03, removed and added back).
// Before, it took the count of items as its position, which the last item
// already had: it was shown before that item when its number sorted
// first.
func TestRequestItemAddedAfterARemoval(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	lead := d.person("ofsted", "lead@ofsted.example")
	if err := d.mustAccess(lead, policy.RequestManage).RemoveRequestItem(ctx, "1.03"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.mustAccess(lead, policy.RequestManage).SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindAnnexA, Code: "1.03", Title: "Added back after its removal"}, portal.AddItem); err != nil {
		t.Fatal(err)
	}
	items, err := d.mustAccess(lead, policy.VisitView).InformationRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := items[len(items)-1]; last.Code != "1.03" {
		t.Fatalf("1.03, added last, is shown before %s, there before it", last.Code)
	}
}

// TestCaseFileRemovedWhileUploadingToIt: a child's case file is asked for
// (case-1, Child A) and the provider starts a large upload to it. While
// the file streams the lead removes case-1 (the wrong child) and names
// Child B. The removal is refused while the upload is in progress, as it
// is for a file stored: the file would otherwise be committed under a
// number no line of the request explains, or under Child B's when the
// number was given again. An item removed in the moment between the
// upload's check and its reservation (simulated here by removing the row
// itself) refuses the file at its commit.
func TestCaseFileRemovedWhileUploadingToIt(t *testing.T) {
	d, v, lead, uploader := onDay6(t)
	ctx := context.Background()
	a, err := d.mustAccess(lead, policy.RequestManage).SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Title: "Case of Child A"}, portal.AddItem)
	if err != nil {
		t.Fatal(err)
	}
	var removal error
	remove := func() { removal = d.mustAccess(lead, policy.RequestManage).RemoveRequestItem(ctx, a.Code) }
	f, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: a.Code + " chronology.pdf", Size: 5}, &holdingReader{r: strings.NewReader("chron"), hold: remove})
	if kindOf(removal) != portal.KindConflict {
		t.Errorf("removing %s while an upload to it streams: %v, want a conflict", a.Code, removal)
	}
	if err != nil || f.Item != a.Code {
		t.Fatalf("the upload to %s: %+v, %v", a.Code, f, err)
	}

	// Gone between the upload's check and its reservation: the commit
	// finds it gone, and stores nothing.
	b, err := d.mustAccess(lead, policy.RequestManage).SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Title: "Case of Child C"}, portal.AddItem)
	if err != nil {
		t.Fatal(err)
	}
	gone := func() {
		if _, err := d.svc.Store().DB().Exec(`DELETE FROM request_items WHERE visit_id = ? AND code = ?`, v.ID, b.Code); err != nil {
			t.Error(err)
		}
	}
	if g, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: b.Code + " chronology.pdf", Size: 5}, &holdingReader{r: strings.NewReader("chron"), hold: gone}); err == nil {
		t.Errorf("a file committed under %s, removed from the request as it streamed: %s under %s", b.Code, g.ID, g.Item)
	}
	// The trail says the upload was refused, not that storage failed.
	failed, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "upload.failed"})
	if err != nil || len(failed) != 1 || !strings.Contains(failed[0].Detail, `"reason":"refused"`) {
		t.Errorf("the upload refused at its commit is recorded %v (%v), want one upload.failed, refused", failed, err)
	}
	files, err := d.svc.Store().Files(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Item == b.Code {
			t.Errorf("file %s stored under %s, which the request no longer has", f.ID, b.Code)
		}
	}
}

// TestCaseFileTitleStaysWhileFiled: a case file's title says which child
// its files are about. While files are filed under it, the title is not
// changed (409), as the item is not removed: "Child A" retitled "Child B"
// would make Child A's records read as Child B's, and the trail keeps no
// title. Its due date may still change, and so may the title of a case
// file with nothing filed under it.
func TestCaseFileTitleStaysWhileFiled(t *testing.T) {
	d, _, lead, uploader := onDay6(t)
	ctx := context.Background()
	manage := func() *portal.Access { return d.mustAccess(lead, policy.RequestManage) }
	a, err := manage().SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Title: "Case of Child A"}, portal.AddItem)
	if err != nil {
		t.Fatal(err)
	}
	b, err := manage().SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Title: "Case of Child Bee"}, portal.AddItem)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: a.Code + " chronology.pdf", Size: 5}, strings.NewReader("chron")); err != nil {
		t.Fatal(err)
	}
	if _, err := manage().SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Code: a.Code, Title: "Case of Child B"}, portal.ChangeItem); kindOf(err) != portal.KindConflict {
		t.Errorf("retitling %s, with a file filed under it: %v, want a conflict", a.Code, err)
	}
	today := d.svc.Today().Format(time.DateOnly)
	if got, err := manage().SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Code: a.Code, Title: "Case of Child A", Due: today}, portal.ChangeItem); err != nil || got.Due != today {
		t.Errorf("changing the due date of %s, its title as it was: %+v, %v", a.Code, got, err)
	}
	if got, err := manage().SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Code: b.Code, Title: "Case of Child B"}, portal.ChangeItem); err != nil || got.Title != "Case of Child B" {
		t.Errorf("correcting the title of %s, nothing filed under it: %+v, %v", b.Code, got, err)
	}
	items, err := d.mustAccess(lead, policy.VisitView).InformationRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if it.Code == a.Code && it.Title != "Case of Child A" {
			t.Errorf("%s, with a file filed under it, is titled %q, want %q", a.Code, it.Title, "Case of Child A")
		}
	}
}

// TestBareRemovedCaseFileNumberNotReused: a case file asked for and
// removed before anything named it (no file, no question) still keeps its
// number. The provider was told of case-1 and may have its files ready,
// named "case-1 …": given to the next child, they would be filed under
// that child's request.
func TestBareRemovedCaseFileNumberNotReused(t *testing.T) {
	d, _, lead, _ := onDay6(t)
	ctx := context.Background()
	a, err := d.mustAccess(lead, policy.RequestManage).SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Title: "Case of Child A"}, portal.AddItem)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.mustAccess(lead, policy.RequestManage).RemoveRequestItem(ctx, a.Code); err != nil {
		t.Fatal(err)
	}
	b, err := d.mustAccess(lead, policy.RequestManage).SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Title: "Case of Child B"}, portal.AddItem)
	if err != nil {
		t.Fatal(err)
	}
	if b.Code == a.Code {
		t.Fatalf("Child B's case file, asked for after Child A's (%s) was removed: %s, want a new number", a.Code, b.Code)
	}
}

// onDay6 is the demo visit on the sixth day of fieldwork, when the lead
// names the children whose case files the provider sends: the domain, the
// visit, the lead inspector and an uploader.
func onDay6(t *testing.T) (*domain, store.Visit, portal.Actor, portal.Actor) {
	t.Helper()
	d := startDomain(t)
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	d.at(d.svc.Calendar().PreviousWorkingDay(d.svc.Calendar().PreviousWorkingDay(tl.FieldworkEnd)))
	return d, v, d.person("ofsted", "lead@ofsted.example"), d.person("cafcass", "uploader@cafcass.example")
}

// TestRetitledIsRecordedForEveryItem: the trail's request.item_changed
// says whether the title changed, for an Annex A item or a data list as
// for a case file (the title itself is never recorded). Before, only a
// case file's change could say so: an Annex A item given a new title was
// recorded "retitled": false.
func TestRetitledIsRecordedForEveryItem(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	lead := d.mustAccess(d.person("ofsted", "lead@ofsted.example"), policy.RequestManage)
	items, err := lead.InformationRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	title := ""
	for _, it := range items {
		if it.Code == "1.03" {
			title = it.Title
		}
	}
	for _, c := range []struct {
		title string
		want  bool
	}{{"Management information, this year and last", true}, {"Management information, this year and last", false}, {title, true}} {
		if _, err := lead.SaveRequestItem(ctx, portal.RequestItemInput{Code: "1.03", Title: c.title}, portal.ChangeItem); err != nil {
			t.Fatal(err)
		}
		recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "request.item_changed"})
		if err != nil || len(recs) == 0 {
			t.Fatalf("records: %d (%v)", len(recs), err)
		}
		last := recs[len(recs)-1]
		if got := strings.Contains(last.Detail, `"retitled":true`); got != c.want || strings.Contains(last.Detail, c.title) {
			t.Errorf("1.03 saved with the title %q: recorded %s, want retitled %v and no title", c.title, last.Detail, c.want)
		}
	}
}

// TestCaseFileTitleStaysWhileAskedAbout: a case file's title says which
// child it is about, and stays while anything names the item: a question
// asked on it, or the record of a file purged from it, as it does while
// files are filed under it. Before, only files kept it: retitled, Child
// A's question (and the purged file's record, on the destruction
// certificate) read as about Child B, with no trace of whose they were.
func TestCaseFileTitleStaysWhileAskedAbout(t *testing.T) {
	d, v, lead, uploader := onDay6(t)
	ctx := context.Background()
	manage := func() *portal.Access { return d.mustAccess(lead, policy.RequestManage) }
	add := func(title string) portal.RequestItemView {
		t.Helper()
		it, err := manage().SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Title: title}, portal.AddItem)
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	asked, purged, bare := add("Case of Child A"), add("Case of Child C"), add("Case of Child Dee")
	coordinator := d.person("cafcass", "coordinator@cafcass.example")
	if _, err := d.mustAccess(coordinator, policy.QuestionPost).Ask(ctx, portal.QuestionInput{Item: asked.Code, Text: "Paper only: redact the order?"}); err != nil {
		t.Fatal(err)
	}
	f, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: purged.Code + " chronology.pdf", Size: 5}, strings.NewReader("chron"))
	if err != nil {
		t.Fatal(err)
	}
	// A file is purged once fieldwork has ended.
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	d.at(tl.FieldworkEnd.AddDate(0, 0, 1))
	pur, err := d.access(d.person("ofsted", "admin@ofsted.example"), policy.FilePurge, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := pur.Purge(ctx, "About the wrong child"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		it    portal.RequestItemView
		title string
		what  string
	}{{asked, "Case of Child B", "a question asked on it"}, {purged, "Case of Child E", "a file purged from it"}} {
		if _, err := manage().SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Code: c.it.Code, Title: c.title}, portal.ChangeItem); kindOf(err) != portal.KindConflict {
			t.Errorf("retitling %s, with %s: %v, want a conflict", c.it.Code, c.what, err)
		}
	}
	if got, err := manage().SaveRequestItem(ctx, portal.RequestItemInput{Kind: portal.KindCaseFile, Code: bare.Code, Title: "Case of Child D"}, portal.ChangeItem); err != nil || got.Title != "Case of Child D" {
		t.Errorf("correcting the title of %s, nothing about it yet: %+v, %v", bare.Code, got, err)
	}
	items, err := d.mustAccess(lead, policy.VisitView).InformationRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if want := map[string]string{asked.Code: "Case of Child A", purged.Code: "Case of Child C"}[it.Code]; want != "" && it.Title != want {
			t.Errorf("%s is titled %q, want %q", it.Code, it.Title, want)
		}
	}
}

// TestItemCodesThatAreNotTextAreNotFound: an item code that is not UTF-8,
// from the address of a request (…/request/%FF/complete, or
// ?item=%FF on the questions page), is an item the request does not have.
// Before, on PostgreSQL (which refuses such bytes in a query), completing
// it and reading its questions failed as the portal's error (500).
func TestItemCodesThatAreNotTextAreNotFound(t *testing.T) {
	d, _, lead, _ := onDay6(t)
	ctx := context.Background()
	coordinator := d.person("cafcass", "coordinator@cafcass.example")
	if err := d.mustAccess(coordinator, policy.ItemComplete).CompleteItem(ctx, "1.0\xff", true); kindOf(err) != portal.KindNotFound {
		t.Errorf("completing item %q: %v, want not found", "1.0\xff", err)
	}
	if _, err := d.mustAccess(lead, policy.QuestionView).QuestionSubject(ctx, "1.0\xff", ""); kindOf(err) != portal.KindNotFound {
		t.Errorf("the questions on item %q: %v, want not found", "1.0\xff", err)
	}
	if _, err := d.mustAccess(coordinator, policy.QuestionPost).Ask(ctx, portal.QuestionInput{Item: "1.0\xff", Text: "Which?"}); kindOf(err) != portal.KindNotFound && kindOf(err) != portal.KindInvalid {
		t.Errorf("a question on item %q: %v, want not found or invalid", "1.0\xff", err)
	}
	if _, err := d.mustAccess(lead, policy.FileList).FilePage(ctx, portal.FileQuery{Item: "1.0\xff", Limit: -1}); err != nil && kindOf(err) != portal.KindNotFound && kindOf(err) != portal.KindInvalid {
		t.Errorf("the files of item %q: %v, want none, not found or invalid", "1.0\xff", err)
	}
}
