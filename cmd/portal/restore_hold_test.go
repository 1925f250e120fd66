package main

import (
	"context"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
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
	d := newDrill(t, domainStack(t))
	d.open()
	defer func() { d.svc.Close() }()
	demo, err := d.svc.Store().VisitByReference(ctx, portal.DemoReference)
	if err != nil {
		t.Fatal(err)
	}
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
