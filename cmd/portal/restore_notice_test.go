package main

import (
	"context"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestRestoreGivesDestructionNoticeAgain: a restored database gives every
// live visit's destruction its notice again, with its period, before
// anything is destroyed. A legal hold set after the backup (the usual
// one: set to stop a destruction about to run) is not in the backup; the
// notice the backup held had run, and the first sweep of the restored
// portal destroyed the held visit's key before anyone could set the hold
// again. The new notice is mailed to the administrators, and gives them
// the notice period to set it.
func TestRestoreGivesDestructionNoticeAgain(t *testing.T) {
	ctx := context.Background()
	d := newDrill(t, domainStack(t))
	d.cfg.DestructionNotice = 48 * time.Hour
	d.open()
	defer func() { d.svc.Close() }()
	id := d.pastVisit("FV-HELD", "1.01 Held.pdf", "evidence a complaint needs")
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("the first sweep (the notice): %v %v", ids, err)
	}
	notices := func() int {
		t.Helper()
		recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: id, Action: "destruction.notice"})
		if err != nil {
			t.Fatal(err)
		}
		return len(recs)
	}
	if n := notices(); n != 1 {
		t.Fatalf("%d destruction notices, want 1", n)
	}
	d.offset.Add(int64(49 * time.Hour)) // the notice has run
	dir := d.backup()
	admin := d.person("ofsted", "admin@ofsted.example")
	acc, err := d.svc.Authorize(ctx, admin, policy.LegalHoldSet, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.SetLegalHold(ctx, true, "A complaint escalated to the courts"); err != nil {
		t.Fatal(err)
	}
	d.restore(dir)
	d.open()
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 0 {
		t.Errorf("the restored portal's first sweep destroyed %v (%v): a hold set after the backup had no time to be set again", ids, err)
	}
	v, err := d.svc.Store().Visit(ctx, id)
	if err != nil || v.State != portal.StateActive {
		t.Fatalf("the visit after the restored portal's first sweep: %q %v, want it active", v.State, err)
	}
	if n := notices(); n != 2 {
		t.Errorf("%d destruction notices after the restore, want the first and one given again", n)
	}
}

// TestRestoreKeepsTheNoticeOfADestructionItDoesAgain: a destruction begun
// after the backup, on a notice given before it, is done again by the
// restore with that notice: its certificate says when the notice was
// given. Dropping the notices of live visits as the restore began left
// the certificate of a destruction done again with no notice at all.
func TestRestoreKeepsTheNoticeOfADestructionItDoesAgain(t *testing.T) {
	ctx := context.Background()
	d := newDrill(t, domainStack(t))
	d.cfg.DestructionNotice = 48 * time.Hour
	d.opts = stopAt("key_destroyed")
	d.open()
	defer func() { d.svc.Close() }()
	id := d.pastVisit("FV-AGAIN", "1.01 Kept.pdf", "evidence destroyed on schedule")
	if _, err := d.svc.RunRetention(ctx); err != nil {
		t.Fatalf("the first sweep (the notice): %v", err)
	}
	d.offset.Add(int64(49 * time.Hour)) // the notice has run
	dir := d.backup()
	if _, err := d.svc.RunRetention(ctx); err == nil {
		t.Fatal("the destruction was not stopped")
	}
	d.restore(dir)
	d.opts = nil
	d.open()
	c := d.certificate(id)
	if c.Notice == nil {
		t.Errorf("the certificate of the destruction done again has no notice: %+v", c)
	}
}

// TestRestoreCertifiesTheNoticeADestructionWasDecidedOn: a destruction
// begun after the backup, on a notice given after it, and finished by the
// restore, is certified with that notice and the date it allowed. The
// note a destruction writes outside the database before the key goes
// carries what it was decided on. Before, the certificate was made from
// the backup, which held no notice: it said the visit was destroyed with
// none, and due before any notice could have run.
func TestRestoreCertifiesTheNoticeADestructionWasDecidedOn(t *testing.T) {
	ctx := context.Background()
	d := newDrill(t, domainStack(t))
	d.cfg.DestructionNotice = 48 * time.Hour
	d.opts = stopAt("key_destroyed")
	d.open()
	defer func() { d.svc.Close() }()
	id := d.pastVisit("FV-DECIDED", "1.01 Kept.pdf", "evidence destroyed on schedule")
	dir := d.backup() // before the notice
	if _, err := d.svc.RunRetention(ctx); err != nil {
		t.Fatalf("the first sweep (the notice): %v", err)
	}
	n, err := d.svc.Store().GetNotice(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	d.offset.Add(int64(49 * time.Hour)) // the notice has run
	if _, err := d.svc.RunRetention(ctx); err == nil {
		t.Fatal("the destruction was not stopped")
	}
	d.restore(dir)
	d.opts = nil
	d.open()
	c := d.certificate(id)
	if c.Notice == nil || !c.Notice.GivenAt.Equal(n.GivenAt) || c.Notice.Period != (48*time.Hour).String() {
		t.Errorf("the certificate of the destruction the restore finished names the notice %+v, want the one given at %s, of 48h", c.Notice, n.GivenAt)
	}
	if c.Due == nil || c.Due.DestroyAfter.Before(n.GivenAt.Add(48*time.Hour)) {
		t.Errorf("the certificate says the visit could be destroyed after %+v, before the notice given at %s had run", c.Due, n.GivenAt)
	}
}
