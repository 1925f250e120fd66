package main

import (
	"bytes"
	"context"
	"errors"
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

// TestRestoreHoldsAgain: a legal hold set on a visit after a backup was
// taken was lost with the database when that backup was restored, and
// the restored portal would destroy the visit on schedule (its key
// first) while it was held for litigation. Each hold set and lifted is
// noted outside the database, and a restore sets again the hold of a
// visit whose last note sets it. It frees nothing: a hold set and lifted
// after the backup leaves the visit as the backup has it.
func TestRestoreHoldsAgain(t *testing.T) {
	ctx := context.Background()
	d, demo := demoDrill(t)
	admin := d.person("ofsted", "admin@ofsted.example")
	hold := func(on bool) {
		t.Helper()
		act := policy.LegalHoldSet
		if !on {
			act = policy.LegalHoldLift
		}
		acc, err := d.svc.Authorize(ctx, admin, act, demo.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := acc.SetLegalHold(ctx, on, "Disclosure in care proceedings"); err != nil {
			t.Fatalf("legal hold %v: %v", on, err)
		}
	}
	held := func() bool {
		t.Helper()
		h, err := d.svc.Store().GetLegalHold(ctx, demo.ID)
		if err != nil {
			t.Fatal(err)
		}
		return h.On
	}
	anchor := func() {
		t.Helper()
		if err := d.svc.Checkpoint(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	anchor()
	before := d.backup()
	hold(true)
	anchor()
	out := d.restore(before)
	t.Logf("%s", out)
	d.open()
	if !held() {
		t.Fatal("the visit held after the backup is not held after its restore")
	}
	if !strings.Contains(out, "set again (without their reasons, which were sealed in the database: set each again with its reason): 1") {
		t.Errorf("the restore does not say it set a legal hold again:\n%s", out)
	}

	// Lifted, backed up, then held and lifted again: as the backup has it.
	hold(false)
	anchor()
	lifted := d.backup()
	hold(true)
	hold(false)
	anchor()
	t.Logf("%s", d.restore(lifted))
	d.open()
	if held() {
		t.Error("the visit held and lifted after the backup is held after its restore")
	}
}

// TestRestoreWithdrawsAgain: a publication recorded with the wrong date,
// withdrawn after a backup was taken, came back when that backup was
// restored, and with it the destruction date it set: the visit was
// destroyed by the wrong date, here months early, once the restore's
// fresh notice ran out. Each letter event withdrawn is noted outside the
// database, and a restore withdraws it again when it is the visit's last,
// in order with the events recorded since (TestRestoreRecordsAgain).
func TestRestoreWithdrawsAgain(t *testing.T) {
	ctx := context.Background()
	d := newDrill(t, domainStack(t))
	d.open()
	defer func() { d.svc.Close() }()
	id := d.pastVisit("FV-WRONG-DATE")
	events := func() []string {
		t.Helper()
		evs, err := d.svc.Store().Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range evs {
			out = append(out, e.Event+" "+e.Date.Format(time.DateOnly))
		}
		return out
	}
	recorded := events()
	published := recorded[len(recorded)-1]
	// A second visit, whose publication is withdrawn and recorded again,
	// with the same date, after the backup: it stays.
	same := d.pastVisit("FV-SAME-DATE")
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	dir := d.backup()
	admin := d.person("ofsted", "admin@ofsted.example")
	withdraw := func(id string) string {
		t.Helper()
		acc, err := d.svc.Authorize(ctx, admin, policy.EventWithdraw, id, "")
		if err != nil {
			t.Fatal(err)
		}
		evs, err := d.svc.Store().Events(ctx, id)
		if err != nil || len(evs) == 0 {
			t.Fatalf("events: %v %v", evs, err)
		}
		on := evs[len(evs)-1].Date.Format(time.DateOnly)
		if _, err := acc.WithdrawEvent(ctx, "published", on); err != nil {
			t.Fatal(err)
		}
		return on
	}
	withdraw(id)
	on := withdraw(same)
	rec, err := d.svc.Authorize(ctx, admin, policy.VisitRecordEvent, same, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.RecordEvent(ctx, "published", on); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	// Noted again from the trail's start (as after an upgrade): a second
	// version of each note, each read by the restore.
	if _, err := d.svc.Store().DB().Exec(`DELETE FROM noted_outside`); err != nil {
		t.Fatal(err)
	}
	d.svc.Close()
	d.open()
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	out := d.restore(dir)
	t.Logf("%s", out)
	d.open()
	if got := events(); slices.Contains(got, published) {
		t.Errorf("the publication withdrawn after the backup is recorded again after its restore: %v", got)
	}
	if evs, err := d.svc.Store().Events(ctx, same); err != nil || len(evs) == 0 || evs[len(evs)-1].Event != "published" {
		t.Errorf("the publication withdrawn and recorded again with the same date after the backup is gone after its restore: %v %v", evs, err)
	}
	// Both withdrawals, in order with the record that undid the second
	// (noted twice, each applied once).
	if !strings.Contains(out, "withdrawn again: 2") || !strings.Contains(out, "recorded again: 1") {
		t.Errorf("the restore does not say it withdrew two letter events again and recorded one:\n%s", out)
	}
}

// TestRestoreRecordsAgain: letter events recorded after a backup were
// lost by its restore, which only withdrew again what was withdrawn. A
// publication corrected after the backup (withdrawn with its wrong date,
// recorded with the right one) was left withdrawn and not recorded: the
// visit came back unpublished, the inspectors' access its publication
// ended open again, and no destruction date. So was a publication
// recorded after the backup. Each letter event recorded is noted outside
// the database, and a restore records it again, in order with the
// withdrawals, as the visit then allowed.
func TestRestoreRecordsAgain(t *testing.T) {
	ctx := context.Background()
	d := newDrill(t, domainStack(t))
	d.open()
	defer func() { d.svc.Close() }()
	admin := d.person("ofsted", "admin@ofsted.example")
	last := func(id string) string {
		t.Helper()
		evs, err := d.svc.Store().Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return "none"
		}
		e := evs[len(evs)-1]
		return e.Event + " " + e.Date.Format(time.DateOnly)
	}
	withdraw := func(id string) string {
		t.Helper()
		acc, err := d.svc.Authorize(ctx, admin, policy.EventWithdraw, id, "")
		if err != nil {
			t.Fatal(err)
		}
		on := strings.TrimPrefix(last(id), "published ")
		if _, err := acc.WithdrawEvent(ctx, "published", on); err != nil {
			t.Fatal(err)
		}
		return on
	}
	publish := func(id, on string) {
		t.Helper()
		acc, err := d.svc.Authorize(ctx, admin, policy.VisitRecordEvent, id, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := acc.RecordEvent(ctx, "published", on); err != nil {
			t.Fatal(err)
		}
	}
	corrected := d.pastVisit("FV-CORRECTED")
	back := d.pastVisit("FV-BACK")
	late := d.pastVisit("FV-LATE")
	lateOn := withdraw(late) // unpublished in the backup
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	dir := d.backup()
	wrong, err := time.Parse(time.DateOnly, withdraw(corrected))
	if err != nil {
		t.Fatal(err)
	}
	right := d.svc.Calendar().AddWorkingDays(wrong, 1).Format(time.DateOnly)
	publish(corrected, right)
	publish(late, lateOn)
	// Corrected, and the correction undone: as the backup has it.
	backOn := withdraw(back)
	publish(back, right)
	withdraw(back)
	publish(back, backOn)
	if err := d.svc.Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	out := d.restore(dir)
	t.Logf("%s", out)
	d.open()
	if got := last(corrected); got != "published "+right {
		t.Errorf("the publication corrected after the backup (withdrawn, recorded on %s) is %q after its restore", right, got)
	}
	if got := last(late); got != "published "+lateOn {
		t.Errorf("the publication recorded after the backup is %q after its restore, want published %s", got, lateOn)
	}
	if got := last(back); got != "published "+backOn {
		t.Errorf("the publication corrected after the backup, then put back, is %q after its restore, want published %s", got, backOn)
	}
	if !strings.Contains(out, "recorded again: 4") || strings.Contains(out, "NOT recorded") {
		t.Errorf("the restore does not say it recorded four letter events again, and none refused:\n%s", out)
	}
	// By who recorded it: they may not approve the destruction it sets
	// going.
	evs, err := d.svc.Store().Events(ctx, corrected)
	if err != nil || len(evs) == 0 || evs[len(evs)-1].RecordedBy != admin.UserID {
		t.Errorf("the publication recorded again is recorded by %+v (%v), want the administrator who recorded it, %s", evs, err, admin.UserID)
	}
}

// TestRestoreRecordsAgainOnce: a restore that stops (a live visit's
// bucket missing) and is resumed runs its acts again. The letter events
// it had recorded again were recorded again a second time, or refused
// ("NOT recorded again", record them by hand: a final letter after the
// publication recorded the first time); and its own records of them,
// noted as by the portal, had a later restore record the publication by
// no one, so no administrator could approve its destruction. Each is
// applied once, and by who recorded it first.
func TestRestoreRecordsAgainOnce(t *testing.T) {
	ctx := context.Background()
	l := newLetters(t, "FV-RESUMED", "1.01 Case.pdf", "evidence")
	d, admin, id, evs := l.drill, l.admin, l.id, l.evs
	l.withdraw(admin, evs[2])
	l.withdraw(admin, evs[1]) // the draft sent, in the backup
	dir := l.backupAt()
	l.record(admin, evs[1])
	l.record(admin, evs[2])
	l.checkpoint()
	v, err := d.svc.Store().Visit(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	d.svc.Close()
	wipe(t, d.cfg)
	t.Setenv("PORTAL_S3_ENDPOINT", d.hideBuckets(v.Bucket))
	var out bytes.Buffer
	if err := restoreCmd(ctx, []string{dir}, &out); !errors.Is(err, portal.ErrBucketMissing) {
		t.Fatalf("restore against a store without the visit's bucket: %v, want %v\n%s", err, portal.ErrBucketMissing, out.String())
	}
	t.Setenv("PORTAL_S3_ENDPOINT", d.cfg.S3Endpoint)
	out.Reset()
	err = restoreCmd(ctx, []string{"--resume"}, &out)
	t.Logf("restore --resume: %v\n%s", err, out.String())
	if err != nil {
		t.Fatal(err)
	}
	published := func(when string) {
		t.Helper()
		d.open()
		defer d.svc.Close()
		got, err := d.svc.Store().Events(ctx, id)
		if err != nil || len(got) != 3 || got[2].Event != "published" || got[2].RecordedBy != admin.UserID {
			t.Errorf("%s: the visit's events %+v (%v), want draft, final and publication, recorded by the administrator %s", when, got, err, admin.UserID)
		}
	}
	if strings.Contains(out.String(), "NOT recorded") {
		t.Errorf("the resumed restore refused letter events it had recorded again:\n%s", out.String())
	}
	published("after the resumed restore")
	d.open()
	out2 := d.restore(dir)
	t.Logf("%s", out2)
	if strings.Contains(out2, "NOT recorded") || !strings.Contains(out2, "recorded again: 2") {
		t.Errorf("a second restore of the backup does not record the two letter events again:\n%s", out2)
	}
	published("after a second restore of the backup")
}

// TestRestorePutsBackAWithdrawnPublication: a publication withdrawn and
// recorded again with the same date after a backup is withdrawn and
// recorded again by its restore, the record checked as recording it is.
// A bank holiday the operator added since, inside the provider's days to
// complain, makes that date too early: the restore withdrew the backup's
// publication and refused to record it again, and the visit came back
// unpublished, the inspectors' access open again. The backup's own event
// is put back.
func TestRestorePutsBackAWithdrawnPublication(t *testing.T) {
	ctx := context.Background()
	l := newLetters(t, "FV-PUT-BACK")
	d, admin, id, evs := l.drill, l.admin, l.id, l.evs
	dir := l.backupAt()
	on := evs[2].Date.Format(time.DateOnly)
	l.withdraw(admin, evs[2])
	l.record(admin, evs[2])
	l.checkpoint()
	holiday := d.svc.Calendar().AddWorkingDays(evs[1].Date, 1)
	file := filepath.Join(t.TempDir(), "holidays.txt")
	if err := os.WriteFile(file, []byte(holiday.Format(time.DateOnly)+" add State funeral\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PORTAL_CALENDAR_FILE", file)
	out := d.restore(dir)
	t.Logf("%s", out)
	d.open()
	got, err := d.svc.Store().Events(ctx, id)
	if err != nil || len(got) != 3 || got[2].Event != "published" || !got[2].Date.Equal(evs[2].Date) || strings.Contains(out, "NOT recorded") {
		t.Errorf("the publication withdrawn and recorded again after the backup, with a holiday added since: %+v (%v) after its restore, want published %s", got, err, on)
	}
}

// TestRestoreRecordsByNoOneItDoesNotKnow: a publication recorded after a
// backup by an administrator who first signed in after it is recorded
// again by its restore by no one the restored database knows: none of
// its administrators may approve the destruction it sets going (any of
// them may be that person, signed in again), which goes ahead once its
// notice has run.
func TestRestoreRecordsByNoOneItDoesNotKnow(t *testing.T) {
	ctx := context.Background()
	l := newLetters(t, "FV-BY-NEWCOMER")
	d, admin, id, evs := l.drill, l.admin, l.id, l.evs
	l.withdraw(admin, evs[2])
	dir := l.backupAt()
	if err := adminGrant(ctx, []string{"--issuer", d.issuer("ofsted"), "--email", "newcomer@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	newcomer := d.person("ofsted", "newcomer@ofsted.example")
	l.record(newcomer, evs[2])
	l.checkpoint()
	t.Logf("%s", d.restore(dir))
	d.open()
	got, err := d.svc.Store().Events(ctx, id)
	if err != nil || len(got) != 3 || got[2].Event != "published" || got[2].RecordedBy == newcomer.UserID || got[2].RecordedBy == admin.UserID {
		t.Fatalf("the publication recorded after the backup by a newcomer, after its restore: %+v (%v), want it recorded by no one the database knows", got, err)
	}
	if _, err := d.svc.RunRetention(ctx); err != nil {
		t.Fatal(err)
	}
	acc, err := d.svc.Authorize(ctx, admin, policy.DestructionApprove, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.ApproveDestruction(ctx); err == nil || !strings.Contains(err.Error(), "recorded again by a restore") {
		t.Errorf("an administrator approving the destruction a publication recorded again by no one sets going: %v, want it refused", err)
	}
}

// letters is a drill with a visit published about 200 days ago
// (pastVisit, with files), its administrator, and the letter events it
// was published with (evs: the draft, the final letter and the
// publication).
type letters struct {
	*drill
	admin portal.Actor
	id    string
	evs   []store.Event
}

func newLetters(t *testing.T, ref string, files ...string) *letters {
	t.Helper()
	d := newDrill(t, domainStack(t))
	d.open()
	t.Cleanup(func() { d.svc.Close() })
	l := &letters{drill: d, admin: d.person("ofsted", "admin@ofsted.example"), id: d.pastVisit(ref, files...)}
	evs, err := d.svc.Store().Events(context.Background(), l.id)
	if err != nil || len(evs) != 3 {
		t.Fatalf("events: %v %v", evs, err)
	}
	l.evs = evs
	return l
}

// withdraw has who withdraw e, the visit's last letter event.
func (l *letters) withdraw(who portal.Actor, e store.Event) {
	l.t.Helper()
	acc, err := l.svc.Authorize(context.Background(), who, policy.EventWithdraw, l.id, "")
	if err == nil {
		_, err = acc.WithdrawEvent(context.Background(), e.Event, e.Date.Format(time.DateOnly))
	}
	if err != nil {
		l.t.Fatalf("withdraw %s: %v", e.Event, err)
	}
}

// record has who record e.
func (l *letters) record(who portal.Actor, e store.Event) {
	l.t.Helper()
	acc, err := l.svc.Authorize(context.Background(), who, policy.VisitRecordEvent, l.id, "")
	if err == nil {
		_, err = acc.RecordEvent(context.Background(), e.Event, e.Date.Format(time.DateOnly))
	}
	if err != nil {
		l.t.Fatalf("record %s: %v", e.Event, err)
	}
}

// checkpoint anchors the trail, writing the notes of its records.
func (l *letters) checkpoint() {
	l.t.Helper()
	if err := l.svc.Checkpoint(context.Background(), true); err != nil {
		l.t.Fatal(err)
	}
}

// backupAt anchors the trail and takes a backup.
func (l *letters) backupAt() string {
	l.t.Helper()
	l.checkpoint()
	return l.backup()
}
