package portal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestUnverifiedAccessNotes: an object among the access notes outside the
// database that does not verify with a trusted key stops a restore only
// when it would act on what the restored database holds (a removal
// signed with a key replaced since: the operator gives it with
// --trust-key). Before, any that said it was a note from after the
// backup stopped it: one written by anyone with the anchor store's
// credentials, dated ahead, or naming a membership that is not there,
// kept every restore pending for good, in a store where it cannot be
// deleted.
func TestUnverifiedAccessNotes(t *testing.T) {
	d, v, _, _, _ := oneFileUploaded(t)
	ctx := context.Background()
	members, err := d.svc.Store().Members(ctx, v.ID)
	if err != nil || len(members) == 0 {
		t.Fatalf("members: %d %v", len(members), err)
	}
	m := members[0]
	now := time.Now()
	since := now.Add(-time.Hour)
	put := func(name string, b []byte) {
		t.Helper()
		if err := d.svc.PutAccessNoteOutside(ctx, name, b); err != nil {
			t.Fatal(err)
		}
	}
	put("garbage.json", []byte("not a note"))
	put("ahead.json", portal.ForgedMemberRemoval(v.ID, m.ID, now.Add(1000*24*time.Hour)))
	put("elsewhere.json", portal.ForgedMemberRemoval(v.ID, store.NewID(), now))
	put("before.json", portal.ForgedMemberRemoval(v.ID, m.ID, since.Add(-time.Hour)))
	put("nobody.json", portal.ForgedDisable("https://login.example/", "nobody-here", now))
	seq, _, err := d.svc.Store().AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := d.svc.EndAccessAgain(ctx, seq, since); err != nil || n != 0 {
		t.Fatalf("notes that do not verify, for nothing here (a membership, a person), dated ahead, or from before the backup: %d ended, %v; want them passed over", n, err)
	}
	put("here.json", portal.ForgedMemberRemoval(v.ID, m.ID, now))
	if _, err := d.svc.EndAccessAgain(ctx, seq, since); !errors.Is(err, portal.ErrUnverified) {
		t.Fatalf("a note that does not verify, removing a member this database holds: %v, want the restore stopped", err)
	}
	if _, err := d.svc.Store().Member(ctx, v.ID, m.ID); err != nil {
		t.Fatalf("the member a note that does not verify names: %v, want them kept", err)
	}
}

// TestAccessNotedPastACursorAhead: how far access ended is noted outside
// the database is a row anyone who can write to the database can move
// ahead. Before, moved past the trail's head, it stopped the noting for
// good, unseen: a member removed after it was never noted, and a restore
// let them back in. A point beyond the checkpoint being anchored is not
// one the portal wrote: it is logged and the noting starts again.
func TestAccessNotedPastACursorAhead(t *testing.T) {
	d, v, _, _, _ := oneFileUploaded(t)
	ctx := context.Background()
	if _, err := d.svc.Store().DB().Exec(`INSERT INTO noted_outside (what, seq) VALUES ('access/v2', 1000000000)
		ON CONFLICT (what) DO UPDATE SET seq = excluded.seq`); err != nil {
		t.Fatal(err)
	}
	members, err := d.svc.Store().Members(ctx, v.ID)
	if err != nil || len(members) == 0 {
		t.Fatalf("members: %d %v", len(members), err)
	}
	var m store.Member
	for _, x := range members {
		if x.Role == policy.RoleInspector {
			m = x
		}
	}
	if err := d.mustAccess(d.person("ofsted", "admin@ofsted.example"), policy.MemberManage).RemoveMember(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	names, err := d.svc.AccessNotesOutside(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 {
		t.Fatalf("access notes outside the database after a member's removal, the noting's point moved ahead: %v, want the removal's", names)
	}
	var at int64
	if err := d.svc.Store().DB().QueryRow(`SELECT seq FROM noted_outside WHERE what = 'access/v2'`).Scan(&at); err != nil {
		t.Fatal(err)
	}
	if head, _, err := d.svc.Store().AuditHead(ctx); err != nil || at > head {
		t.Errorf("the noting's point after noting again: %d, beyond the trail's last record %d (%v)", at, head, err)
	}
}

// TestUnverifiedFinishedNoteKeepsNothingOpen: a finished note of an
// earlier restore that does not verify says which records that restore
// lost. Before, it was passed over in silence: an enable it says was lost
// was applied, and the person disabled before it was let in. Taken as it
// says, it would keep a restore from restricting again an item
// restricted since. It now passes over only the acts that opened
// something in what it says was lost.
func TestUnverifiedFinishedNoteKeepsNothingOpen(t *testing.T) {
	d, v, _, uploader, _ := oneFileUploaded(t)
	ctx := context.Background()
	st := d.svc.Store()
	before, _, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Minute)
	ops := portal.OperatorActor("ops", "admin disable")
	person := portal.Person{Issuer: uploader.Issuer, Email: uploader.Email}
	if _, err := portal.DisableUser(ctx, st, ops, person); err != nil {
		t.Fatal(err)
	}
	mid, _, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin := d.person("ofsted", "admin@ofsted.example")
	if _, err := d.mustAccess(admin, policy.VisitManage).SetRestriction(ctx, "1.02", true, []string{policy.RoleLeadInspector}); err != nil {
		t.Fatal(err)
	}
	if err := portal.EnableUser(ctx, st, ops, person); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	// The database as a backup from before the three had it.
	if err := st.PutRestriction(ctx, store.Restriction{VisitID: v.ID, Code: "1.02"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	// An earlier restore's note, not verifying, says the records after
	// the disable were lost: the restriction and the enable.
	if err := d.svc.PutForgedRestoreFinished(ctx, store.NewID(), mid, 1<<40); err != nil {
		t.Fatal(err)
	}
	if n, err := d.svc.EndAccessAgain(ctx, before, since); err != nil || n != 2 {
		t.Fatalf("access ended again under a finished note that does not verify: %d, %v; want the item restricted again and the person disabled again", n, err)
	}
	if r, err := st.Restriction(ctx, v.ID, "1.02"); err != nil || !r.Restricted {
		t.Errorf("the item restricted since the backup: %+v, %v", r, err)
	}
}

// publishLetters has lead record v's letters (the draft, the final letter
// and the publication, each on its earliest day, the clock moved to it)
// and returns the publication's day.
func publishLetters(t *testing.T, d *domain, v store.Visit) time.Time {
	t.Helper()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	lead := d.person("ofsted", "lead@ofsted.example")
	var on time.Time
	for _, ev := range d.letterDays(tl.FieldworkEnd) {
		d.at(ev.on)
		if _, err := d.mustAccess(lead, policy.VisitRecordEvent).RecordEvent(context.Background(), ev.event, ev.on.Format(time.DateOnly)); err != nil {
			t.Fatalf("%s: %v", ev.event, err)
		}
		on = ev.on
	}
	return on
}

// republished is a visit with one file whose letters were published on
// wrong (publishLetters), then, after before (the trail's head: a
// backup's), its publication withdrawn by an administrator and recorded
// again by the lead inspector on correct(wrong), the clock moved to it,
// and noted outside the database; since is when the backup was taken.
func republished(t *testing.T, correct func(wrong time.Time) time.Time) (d *domain, v store.Visit, since time.Time, before int64, wrong, right time.Time) {
	t.Helper()
	ctx := context.Background()
	d, v, _, _, _ = oneFileUploaded(t)
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	wrong = publishLetters(t, d, v)
	if before, _, err = d.svc.Store().AuditHead(ctx); err != nil {
		t.Fatal(err)
	}
	admin := d.person("ofsted", "admin@ofsted.example")
	if _, err := d.mustAccess(admin, policy.EventWithdraw).WithdrawEvent(ctx, "published", wrong.Format(time.DateOnly)); err != nil {
		t.Fatal(err)
	}
	right = correct(wrong)
	d.at(right)
	if _, err := d.mustAccess(d.person("ofsted", "lead@ofsted.example"), policy.VisitRecordEvent).RecordEvent(ctx, "published", right.Format(time.DateOnly)); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	return d, v, tl.Notification, before, wrong, right
}

// TestLetterNotesNameNoEmail: the note of a letter event recorded names
// who recorded it by their issuer and subject, for a restore to record it
// again by them; it does not carry the email of every identity they
// signed in with, as the notes of people disabled do (their email is no
// business of a note about a letter).
func TestLetterNotesNameNoEmail(t *testing.T) {
	ctx := context.Background()
	d, _, _, _, _, _ := republished(t, func(wrong time.Time) time.Time { return wrong })
	people, err := d.svc.AccessNotePeople(ctx, "letter.published")
	if err != nil || len(people) == 0 {
		t.Fatalf("the notes of publications: %v %v", people, err)
	}
	for _, p := range people {
		if len(p) != 0 {
			t.Errorf("a publication's note names the people %+v", p)
		}
	}
}

// lastEvent is v's last letter event, as "event date".
func lastEvent(t *testing.T, d *domain, v store.Visit) string {
	t.Helper()
	evs, err := d.svc.Store().Events(context.Background(), v.ID)
	if err != nil || len(evs) == 0 {
		t.Fatalf("events: %v %v", evs, err)
	}
	e := evs[len(evs)-1]
	return e.Event + " " + e.Date.Format(time.DateOnly)
}

// TestUnverifiedFinishedNoteKeepsLetterEvents: an earlier restore's
// finished note that does not verify passes over, in what it says was
// lost, only the acts that open something. The letter events there,
// withdrawn and recorded, are kept together: a publication corrected
// (withdrawn with its wrong date, recorded with the right one) is
// corrected again, not left withdrawn, the visit unpublished and the
// inspectors' access open again, on the word of a note no trusted key
// vouches for.
func TestUnverifiedFinishedNoteKeepsLetterEvents(t *testing.T) {
	ctx := context.Background()
	d, v, since, before, wrong, right := republished(t, func(wrong time.Time) time.Time { return wrong.AddDate(0, 0, 1) })
	st := d.svc.Store()
	// The database as the backup had it: published on the wrong day.
	if _, err := st.DB().Exec(`UPDATE visit_events SET date = $1 WHERE visit_id = $2 AND event = 'published'`, wrong.Format(time.DateOnly), v.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.PutForgedRestoreFinished(ctx, store.NewID(), before, 1<<40); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.EndAccessAgain(ctx, before, since); err != nil {
		t.Fatal(err)
	}
	if got := lastEvent(t, d, v); got != "published "+right.Format(time.DateOnly) {
		t.Errorf("the publication corrected after the backup, under a finished note that does not verify: %s after the restore, want published %s", got, right.Format(time.DateOnly))
	}
}

// TestResumedRestorePutsBackAWithdrawnPublication: a restore that
// withdrew a publication again, and stopped before it recorded it again
// (withdrawn and recorded with the same date after the backup), is
// resumed. It put the event back only when it had withdrawn it in the
// same run: resumed, with a bank holiday added since that makes the date
// too early, it refused to record it, and the visit stayed unpublished.
// What the restore did before it stopped is read from its records.
func TestResumedRestorePutsBackAWithdrawnPublication(t *testing.T) {
	ctx := context.Background()
	d, v, since, before, on, _ := republished(t, func(wrong time.Time) time.Time { return wrong })
	st := d.svc.Store()
	day := on.Format(time.DateOnly)
	recs, err := st.AuditRecords(ctx, store.AuditFilter{AfterSeq: before, Action: "letter.withdrawn"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("the withdrawal's record: %v %v", recs, err)
	}
	// The restore's first run: the withdrawal applied again, then it
	// stopped.
	if err := d.svc.WithdrawAgainAsRestore(ctx, recs[0]); err != nil {
		t.Fatal(err)
	}
	if got := lastEvent(t, d, v); strings.HasPrefix(got, "published") {
		t.Fatalf("after the first run: %s", got)
	}
	// Resumed with a holiday added inside the provider's days to
	// complain.
	evs, err := st.Events(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	holiday := d.svc.Calendar().NextWorkingDay(evs[len(evs)-1].Date)
	file := filepath.Join(t.TempDir(), "holidays.txt")
	if err := os.WriteFile(file, []byte(holiday.Format(time.DateOnly)+" add State funeral\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Config.CalendarFile = file
	d.svc = d.another()
	d.Config.CalendarFile = ""
	if _, err := d.svc.EndAccessAgain(ctx, before, since); err != nil {
		t.Fatal(err)
	}
	if got := lastEvent(t, d, v); got != "published "+day {
		t.Errorf("the publication withdrawn by a restore that stopped, resumed with a holiday added: %s, want published %s", got, day)
	}
}

// TestLostTimelineNotesPassedOver: the notes of records past a checkpoint
// whose anchor failed go out before it, so when the database is then
// lost and restored, they are of a timeline whose record numbers the
// restored trail takes again. Before, a later restore sorted them among
// the new timeline's by number: an enable of the lost timeline, numbered
// after a disable of the new one, let the person disabled since back in.
// A restore's finished note now names the notes past its mark its trail
// does not hold, and a later restore passes them over as lost by it.
func TestLostTimelineNotesPassedOver(t *testing.T) {
	d, _, _, uploader, _ := oneFileUploaded(t)
	ctx := context.Background()
	st := d.svc.Store()
	head, _, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Minute)
	people, err := st.IdentitiesNamed(ctx, uploader.Issuer, uploader.Email, "")
	if err != nil || len(people) != 1 {
		t.Fatalf("the uploader's identities: %v %v", people, err)
	}
	// The lost timeline: the uploader disabled and enabled again, its
	// anchor never written; then the database lost and restored, the
	// trail going on at the record after head.
	for i, action := range []string{"user.disabled", "user.enabled"} {
		if err := d.svc.PutLostAccessNote(ctx, head+40+int64(i)*10, fmt.Sprintf("%064x", i+1), action, uploader.Issuer, people[0]); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.svc.NoteRestoreFinished(ctx, store.NewID(), head, head+1); err != nil {
		t.Fatal(err)
	}
	// The new timeline: the uploader disabled, anchored.
	ops := portal.OperatorActor("ops", "admin disable")
	person := portal.Person{Issuer: uploader.Issuer, Email: uploader.Email}
	if _, err := portal.DisableUser(ctx, st, ops, person); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	// A backup from before that disable restored.
	if _, err := st.DB().Exec(`UPDATE users SET disabled_at = NULL WHERE id = ?`, uploader.UserID); err != nil {
		t.Fatal(err)
	}
	if n, err := d.svc.EndAccessAgain(ctx, head, since); err != nil || n != 1 {
		t.Fatalf("access ended again after the disable of the timeline that goes on: %d, %v; want the uploader disabled again", n, err)
	}
}

// TestUnverifiedHoldNote: a legal hold set after the backup, noted with a
// key the portal does not trust (replaced since), stops a restore while
// the visit it holds is live and not held: passed over, the visit would
// be destroyed on schedule. Once held, it is passed over.
func TestUnverifiedHoldNote(t *testing.T) {
	d, v, _, _, _ := oneFileUploaded(t)
	ctx := context.Background()
	seq, _, err := d.svc.Store().AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := d.svc.PutAccessNoteOutside(ctx, "hold.json", portal.ForgedHold(v.ID, now)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.EndAccessAgain(ctx, seq, now.Add(-time.Hour)); !errors.Is(err, portal.ErrUnverified) {
		t.Fatalf("a hold note that does not verify, for a live visit not held: %v, want the restore stopped", err)
	}
	if _, err := d.svc.Store().SetLegalHold(ctx, v.ID, store.LegalHold{On: true, At: now}); err != nil {
		t.Fatal(err)
	}
	if n, err := d.svc.EndAccessAgain(ctx, seq, now.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("a hold note that does not verify, for a visit held: %d, %v; want it passed over", n, err)
	}
}

// TestUnverifiedDisableOfANewcomer: a note that does not verify,
// disabling a person the restored database does not know, was passed
// over even when a membership by their email waited for them: they took
// it up at their next sign-in, where the verified note would have kept
// them disabled. It now stops the restore.
func TestUnverifiedDisableOfANewcomer(t *testing.T) {
	d, v, _, _, _ := oneFileUploaded(t)
	ctx := context.Background()
	now := time.Now()
	seq, _, err := d.svc.Store().AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	newcomer := store.Identity{Subject: "newcomer-subject", Email: "newcomer@ofsted.example"}
	if err := d.svc.PutAccessNoteOutside(ctx, "newcomer.json", portal.ForgedDisableOf("https://login.example/", newcomer, now)); err != nil {
		t.Fatal(err)
	}
	if n, err := d.svc.EndAccessAgain(ctx, seq, now.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("a note that does not verify, disabling a person this database does not know, for whom nothing waits: %d, %v; want it passed over", n, err)
	}
	if _, _, err := d.svc.Store().PutMember(ctx, store.Member{VisitID: v.ID, Role: policy.RoleInspector, Email: newcomer.Email, Issuer: "https://login.example/"}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.EndAccessAgain(ctx, seq, now.Add(-time.Hour)); !errors.Is(err, portal.ErrUnverified) {
		t.Fatalf("a note that does not verify, disabling a person this database does not know whose membership by email it holds: %v, want the restore stopped", err)
	}
}

// TestUnverifiedWithdrawalNote: a letter event withdrawn after the backup,
// noted with a key the portal does not trust, stops a restore when the
// live visit has that event: withdrawn again (after the withdrawals
// noted after it, if it is not the last), it moves the destruction date.
// One for an event, or a date, the visit does not have is passed over.
func TestUnverifiedWithdrawalNote(t *testing.T) {
	now := time.Now()
	passedOverThenStopped(t, func(v store.Visit, day string) (passed map[string][]byte, stops []byte) {
		return map[string][]byte{
				"other-event.json": portal.ForgedWithdrawal(v.ID, "published", day, now),
				"other-date.json":  portal.ForgedWithdrawal(v.ID, "draft_sent", now.AddDate(0, 0, -4).UTC().Format(time.DateOnly), now),
			},
			// Not the last: a verified withdrawal of final_sent, noted
			// after it, would make it so.
			portal.ForgedWithdrawal(v.ID, "draft_sent", day, now)
	})
}

// TestUnverifiedRecordNote: a restore records again the letter events
// recorded after the backup (a publication, which ends the inspectors'
// access and sets the destruction date, or one that undoes a withdrawal
// before it). The note of one that does not verify was passed over as
// naming no one, so a verified withdrawal before it was applied alone:
// the visit came back unpublished. Such a note stops the restore when
// recording it would act: the live visit's last event is another.
func TestUnverifiedRecordNote(t *testing.T) {
	now := time.Now()
	passedOverThenStopped(t, func(v store.Visit, day string) (passed map[string][]byte, stops []byte) {
		return map[string][]byte{
			"last.json":      portal.ForgedRecord(v.ID, "final_sent", day, now),
			"elsewhere.json": portal.ForgedRecord(store.NewID(), "published", day, now),
		}, portal.ForgedRecord(v.ID, "published", day, now)
	})
}

// TestUnverifiedRecordAfterAWithdrawal: a letter event recorded, in a note
// that does not verify, of the live visit's last event acts all the same
// after a verified withdrawal of that event: withdrawn again, the record
// is what would put it back. It was passed over, and the withdrawal
// applied alone. Before the withdrawal it acts on nothing, and is passed
// over.
func TestUnverifiedRecordAfterAWithdrawal(t *testing.T) {
	for _, c := range []struct {
		name  string
		after int64 // the record's number, after the withdrawal's
		stops bool
	}{
		{"after", 1, true},
		{"before", -1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, v, seq, day, put := lettersSent(t)
			ctx := context.Background()
			now := time.Now()
			if err := d.svc.PutWithdrawalNote(ctx, seq+1000, "0a", v.ID, "final_sent", day); err != nil {
				t.Fatal(err)
			}
			put("record.json", portal.ForgedRecordAt(seq+1000+c.after, v.ID, "final_sent", day, now))
			_, err := d.svc.EndAccessAgain(ctx, seq, now.Add(-time.Hour))
			if stopped := errors.Is(err, portal.ErrUnverified) && strings.Contains(err.Error(), "record.json"); stopped != c.stops || !stopped && err != nil {
				t.Fatalf("a note that does not verify, recording the live visit's last event %s a verified withdrawal of it: %v, want the restore stopped at it: %v", c.name, err, c.stops)
			}
		})
	}
}

// passedOverThenStopped writes outside the database, for a visit whose
// draft and final letters were sent three days ago (day), the notes
// notes gives: those that do not verify and act on nothing here (passed),
// which a restore passes over, then one that would act (stops), which
// stops it.
func passedOverThenStopped(t *testing.T, notes func(v store.Visit, day string) (passed map[string][]byte, stops []byte)) {
	t.Helper()
	d, v, seq, day, put := lettersSent(t)
	ctx := context.Background()
	passed, stops := notes(v, day)
	for name, b := range passed {
		put(name, b)
	}
	since := time.Now().Add(-time.Hour)
	if n, err := d.svc.EndAccessAgain(ctx, seq, since); err != nil || n != 0 {
		t.Fatalf("notes that do not verify, for nothing here: %d, %v; want them passed over", n, err)
	}
	put("stops.json", stops)
	if _, err := d.svc.EndAccessAgain(ctx, seq, since); !errors.Is(err, portal.ErrUnverified) {
		t.Fatalf("a note that does not verify, for what the live visit holds: %v, want the restore stopped", err)
	}
}

// lettersSent is a visit with one file whose draft and final letters were
// sent three days ago (day), recorded in the database alone; seq is the
// trail's head before them, and put writes a note outside the database.
func lettersSent(t *testing.T) (d *domain, v store.Visit, seq int64, day string, put func(name string, b []byte)) {
	t.Helper()
	d, v, _, _, _ = oneFileUploaded(t)
	ctx := context.Background()
	now := time.Now()
	day = now.AddDate(0, 0, -3).UTC().Format(time.DateOnly)
	seq, _, err := d.svc.Store().AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	on, err := time.Parse(time.DateOnly, day)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{"draft_sent", "final_sent"} {
		if _, err := d.svc.Store().AddEvent(ctx, store.Event{VisitID: v.ID, Event: ev, Date: on, RecordedBy: "system", RecordedAt: now}, func([]store.Event) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return d, v, seq, day, func(name string, b []byte) {
		t.Helper()
		if err := d.svc.PutAccessNoteOutside(ctx, name, b); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNotedFromTheStartAfterTheUpgrade: this version notes legal holds,
// membership changes and letter events outside the database too. Before,
// it went on noting from where the version before had stopped, so a hold
// set before the upgrade was never noted: a restore of a backup from
// before that hold did not set it again, and the visit was destroyed on
// schedule. How far it notes has a name of its own, and it notes from
// the trail's start.
func TestNotedFromTheStartAfterTheUpgrade(t *testing.T) {
	d, v, _, _, _ := oneFileUploaded(t)
	ctx := context.Background()
	st := d.svc.Store()
	admin := d.person("ofsted", "admin@ofsted.example")
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Disclosure in care proceedings"); err != nil {
		t.Fatal(err)
	}
	recs, err := st.AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Actions: []string{"legal_hold.set"}})
	if err != nil || len(recs) != 1 {
		t.Fatalf("the hold's record: %v %v", recs, err)
	}
	name := fmt.Sprintf("access/%020d-%s.json", recs[0].Seq, recs[0].Hash)
	noted := func() bool {
		t.Helper()
		names, err := d.svc.AccessNotesOutside(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(names, name)
	}
	if noted() {
		t.Fatal("the hold was noted before the checkpoint this test makes")
	}
	// The version before noted the trail up to here, holds aside.
	head, _, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.NoteOutsideReached(ctx, "access/", head); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`DELETE FROM noted_outside WHERE what <> 'access/'`); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	if !noted() {
		t.Fatal("a hold set before the upgrade is not noted outside the database after it")
	}
}
