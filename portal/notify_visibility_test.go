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

// TestLeadIsToldOnlyOfWhatTheyMaySee: the lead inspector's mail counts
// files received and questions from the provider, and tells of purges,
// only of what the lead may see. Before, every such act reached the lead:
// files and questions on an item restricted from their role, a question
// on a file withheld until the scanner clears it, the purge of a file
// they could never list. The mail carries a count only, but a count
// tells that something is there.
func TestLeadIsToldOnlyOfWhatTheyMaySee(t *testing.T) {
	d, v, tl, uploader, _ := oneFileUploaded(t)
	ctx := context.Background()
	told := leadTold(t, d, v)
	// A file withheld until the scanner clears it (as stored with the
	// scanner on and not yet answering).
	waiting, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.03 Waiting.pdf", Size: 7}, strings.NewReader("waiting"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Store().DB().Exec(`UPDATE files SET scan_status = ? WHERE id = ?`, store.ScanScanning, waiting.ID); err != nil {
		t.Fatal(err)
	}
	kinds := []string{portal.NoteFilesArrived, portal.NoteQuestions, portal.NoteFilePurged}
	before := map[string]int{}
	for _, k := range kinds {
		before[k] = told(k)
	}
	admin := d.person("ofsted", "admin@ofsted.example")
	coord := d.person("cafcass", "coordinator@cafcass.example")

	// An item restricted from the lead: its file, its question, and a
	// question on its file.
	if _, err := d.mustAccess(admin, policy.VisitManage).SetRestriction(ctx, "1.02", true, []string{policy.RoleQAManager, policy.RoleAnalyst}); err != nil {
		t.Fatal(err)
	}
	hidden, err := d.mustAccess(coord, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.02 Restricted.pdf", Size: 6}, strings.NewReader("hidden"))
	if err != nil {
		t.Fatal(err)
	}
	ask := func(who portal.Actor, in portal.QuestionInput) {
		t.Helper()
		in.Text = "Is this the one you asked for?"
		if _, err := d.mustAccess(who, policy.QuestionPost).Ask(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	// What the lead may see is told.
	ask(coord, portal.QuestionInput{Item: "1.01"})
	if got := told(portal.NoteQuestions) - before[portal.NoteQuestions]; got != 1 {
		t.Fatalf("the lead inspector is told of %d questions on an item they see, want 1", got)
	}
	before[portal.NoteQuestions]++

	ask(coord, portal.QuestionInput{Item: "1.02"})
	ask(coord, portal.QuestionInput{FileID: hidden.ID})

	// A question on a file withheld until the scanner clears it.
	ask(uploader, portal.QuestionInput{FileID: waiting.ID})

	// The restricted file purged, once fieldwork is over.
	d.at(tl.FieldworkEnd.AddDate(0, 0, 1))
	pur, err := d.access(admin, policy.FilePurge, hidden.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := pur.Purge(ctx, "About another child"); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		if got := told(k) - before[k]; got != 0 {
			t.Errorf("the lead inspector is told %d times (%s) of files, questions and purges they may not see", got, k)
		}
	}
}

// leadTold returns how many acts of a kind of mail the lead inspector of
// v has been told of (their notifications' counts, summed).
func leadTold(t *testing.T, d *domain, v store.Visit) func(kind string) int {
	t.Helper()
	db := d.svc.Store().DB()
	var lead string
	if err := db.QueryRow(`SELECT id FROM members WHERE visit_id = ? AND role = ?`, v.ID, policy.RoleLeadInspector).Scan(&lead); err != nil {
		t.Fatal(err)
	}
	return func(kind string) int {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT COALESCE(SUM(count), 0) FROM notifications WHERE visit_id = ? AND kind = ? AND recipient = ?`,
			v.ID, kind, "member:"+lead).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// TestLeadIsNotToldOfAnItemRestrictedUnderAnotherForm: a restriction
// stored under another form of the item's number (before there was one
// form) hides the item's files and questions from the lead inspector's
// mail, as it hides them from their lists. Before, mail matched the item
// by its exact code and counted them.
func TestLeadIsNotToldOfAnItemRestrictedUnderAnotherForm(t *testing.T) {
	d, v, _, uploader, _ := oneFileUploaded(t)
	ctx := context.Background()
	told := leadTold(t, d, v)
	if err := d.svc.Store().PutRestriction(ctx, store.Restriction{VisitID: v.ID, Code: "1.5", Restricted: true, Roles: []string{policy.RoleQAManager}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	files, questions := told(portal.NoteFilesArrived), told(portal.NoteQuestions)
	f, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.05 Self-evaluation.pdf", Size: 2}, strings.NewReader("se"))
	if err != nil || f.Item != "1.05" {
		t.Fatalf("upload: %+v, %v; want filed under 1.05", f, err)
	}
	coord := d.person("cafcass", "coordinator@cafcass.example")
	for _, in := range []portal.QuestionInput{{Item: "1.05"}, {FileID: f.ID}} {
		in.Text = "Is this the one you asked for?"
		if _, err := d.mustAccess(coord, policy.QuestionPost).Ask(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if got := told(portal.NoteFilesArrived) - files; got != 0 {
		t.Errorf("the lead inspector is told of %d files on an item restricted from them (stored as 1.5), want none", got)
	}
	if got := told(portal.NoteQuestions) - questions; got != 0 {
		t.Errorf("the lead inspector is told of %d questions on an item restricted from them (stored as 1.5), want none", got)
	}
}

// TestDestructionReviewReminderAfterALateNotice: the reminder that a
// destruction is not yet approved names the day it may run, and comes
// the working day before it: after a legal hold lifted past the
// destruction date, the day the fresh notice runs to. Before, it named
// the destruction date, days past, and the reminder sent for the first
// notice kept the fresh one's from being sent.
func TestDestructionReviewReminderAfterALateNotice(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	admin := d.person("ofsted", "admin@ofsted.example")
	destroyOn := d.publish(d.person("ofsted", "lead@ofsted.example"), v).AddDate(0, 0, d.Config.RetentionDays)
	reminders := func() []string {
		t.Helper()
		if err := d.svc.ScheduleNotifications(ctx); err != nil {
			t.Fatal(err)
		}
		rows, err := d.svc.Store().DB().Query(`SELECT data FROM notifications WHERE visit_id = ? AND kind = ? ORDER BY created_at`, v.ID, portal.NoteDestructionReview)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var data string
			if err := rows.Scan(&data); err != nil {
				t.Fatal(err)
			}
			out = append(out, data)
		}
		return out
	}
	d.at(destroyOn.AddDate(0, 0, -7))
	if _, err := d.svc.RunRetention(ctx); err != nil { // the notice
		t.Fatal(err)
	}
	d.at(d.svc.Calendar().PreviousWorkingDay(destroyOn))
	if got := reminders(); len(got) != 1 || !strings.Contains(got[0], destroyOn.Format(time.DateOnly)) {
		t.Fatalf("the reminder the working day before the destruction: %q, want one naming %s", got, destroyOn.Format(time.DateOnly))
	}
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Complaint escalated"); err != nil {
		t.Fatal(err)
	}
	lifted := destroyOn.AddDate(0, 0, 10)
	d.at(lifted)
	if _, err := d.mustAccess(admin, policy.LegalHoldLift).SetLegalHold(ctx, false, "Resolved"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.RunRetention(ctx); err != nil { // the fresh notice
		t.Fatal(err)
	}
	if got := reminders(); len(got) != 1 {
		t.Errorf("the day the fresh notice was given: reminders %q, want none more (it runs for %v)", got, d.Config.DestructionNotice)
	}
	runs := lifted.Add(d.Config.DestructionNotice)
	d.at(d.svc.Calendar().PreviousWorkingDay(runs))
	if got := reminders(); len(got) != 2 || !strings.Contains(got[1], runs.Format(time.DateOnly)) {
		t.Errorf("the working day before the fresh notice runs out: reminders %q, want a second naming %s", got, runs.Format(time.DateOnly))
	}
}
