package portal_test

import (
	"context"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestAdministratorsActIsRecordedAsTheirs: an administrator who is also a
// member of the visit (an inspector on it) sets a legal hold, which only
// administrators may: the trail records the act as an administrator's,
// the authority it was done under. Before, it was recorded under their
// membership's role: an inspector set a legal hold, which no inspector
// may.
func TestAdministratorsActIsRecordedAsTheirs(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v, _ := d.openDemo()
	admin := d.person("ofsted", "admin@ofsted.example")
	now := time.Now()
	if err := d.svc.Store().SeedMembers(ctx, []store.Member{{ID: "0000000000000000000000000000000d", VisitID: v.ID, Role: policy.RoleInspector,
		Issuer: admin.Issuer, Subject: admin.Subject, UserID: admin.UserID, CreatedAt: now, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "A complaint escalated"); err != nil {
		t.Fatal(err)
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "legal_hold.set"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("legal_hold.set records: %v %v", recs, err)
	}
	if recs[0].Role != "administrator" {
		t.Errorf("a legal hold set by an administrator who is an inspector on the visit is recorded as set by %q, want administrator", recs[0].Role)
	}
	// A refusal is the member's: changing their own membership, refused
	// after an act only administrators may do.
	acc := d.mustAccess(admin, policy.MemberManage)
	if _, _, err := acc.PutMember(ctx, portal.MemberRequest{Issuer: admin.Issuer, Subject: admin.Subject, Role: policy.RoleLeadInspector}); err == nil {
		t.Fatal("an administrator changed their own membership")
	}
	recs, err = d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "request.denied", Newest: true, Limit: 1})
	if err != nil || len(recs) != 1 {
		t.Fatalf("request.denied records: %v %v", recs, err)
	}
	if recs[0].Role != policy.RoleInspector {
		t.Errorf("an administrator's refused change of their own membership is recorded as %q's, want the inspector's", recs[0].Role)
	}
}
