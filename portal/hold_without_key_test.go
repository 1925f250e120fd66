package portal_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestHoldIsSetWhenTheKeyCannotBeOpened: a legal hold is what stops a
// destruction, and a destruction's first steps need no visit key. So an
// instance that cannot open the visit's key (its key store unreachable,
// or the wrapped key damaged) still sets a hold: without its reason,
// which is sealed with that key, recorded as such, and the administrator
// is told to set it again with the reason; a reason kept by the hold set
// before stays. A lift, which lets destruction go on, is still refused. Before, the hold was refused with the key's
// error, and the sweep could begin the destruction it was meant to stop.
func TestHoldIsSetWhenTheKeyCannotBeOpened(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v, _ := d.openDemo()
	admin := d.person("ofsted", "admin@ofsted.example")
	// Damaged where every instance reads it; an instance that has not
	// opened it since (a restart, another replica) cannot.
	if _, err := d.svc.Store().DB().Exec(`UPDATE visit_keys SET wrapped = substr(wrapped, 1, 10) WHERE visit_id = '` + v.ID + `'`); err != nil {
		t.Fatal(err)
	}
	other := d.another()
	acc, err := other.Authorize(ctx, admin, policy.LegalHoldSet, v.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = acc.SetLegalHold(ctx, true, "A complaint about the child's records")
	if e, ok := portal.AsError(err); !ok || e.Code != "hold_reason_not_kept" || !strings.Contains(e.Msg, "is set") {
		t.Errorf("a hold set where the key cannot be opened: %v, want it set and the administrator told its reason was not kept", err)
	}
	h, err := other.Store().GetLegalHold(ctx, v.ID)
	if err != nil || !h.On || len(h.ReasonSealed) != 0 || h.By != admin.UserID {
		t.Errorf("the hold after it was set where the key cannot be opened: %+v (%v), want it on, by the administrator, with no reason", h, err)
	}
	recs, err := other.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "legal_hold.set"})
	if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Detail, `"reason_kept":false`) {
		t.Errorf("legal_hold.set records: %+v (%v), want one saying the reason was not kept", recs, err)
	}
	lift, err := other.Authorize(ctx, admin, policy.LegalHoldLift, v.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lift.SetLegalHold(ctx, false, "Complaint closed"); err == nil {
		t.Error("a hold was lifted where the key cannot be opened")
	}
	if h, err := other.Store().GetLegalHold(ctx, v.ID); err != nil || !h.On {
		t.Errorf("the hold after a lift refused: %+v (%v), want it on", h, err)
	}
	// Set again with its reason where the key opens (this instance
	// holds it), then again where it does not: the reason kept stays.
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "A complaint about the child's records"); err != nil {
		t.Fatal(err)
	}
	kept, err := other.Store().GetLegalHold(ctx, v.ID)
	if err != nil || len(kept.ReasonSealed) == 0 {
		t.Fatalf("the hold set again with its reason: %+v (%v)", kept, err)
	}
	again, err := other.Authorize(ctx, admin, policy.LegalHoldSet, v.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.SetLegalHold(ctx, true, "Set again"); err == nil {
		t.Error("a hold set again where the key cannot be opened: no error, want the administrator told its reason was not kept")
	}
	if h, err := other.Store().GetLegalHold(ctx, v.ID); err != nil || !h.On || !bytes.Equal(h.ReasonSealed, kept.ReasonSealed) {
		t.Errorf("a hold set again where the key cannot be opened: %+v (%v), want it on with the reason kept before", h, err)
	}
}
