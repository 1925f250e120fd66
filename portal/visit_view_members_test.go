package portal_test

import (
	"context"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
)

// TestMembersSeeNoAdministrationOfTheVisit: the visit as a member sees it
// (its page's JSON, and the list of visits) leaves out what only its
// administration needs: the bucket it is stored in, and the destruction's
// notice, approver and failures. Before, a member read the approving
// administrator's address, the sweep's failure reasons and the bucket.
func TestMembersSeeNoAdministrationOfTheVisit(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	admin := d.person("ofsted", "admin@ofsted.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	d.noticeGiven(lead, v)
	if _, err := d.mustAccess(admin, policy.DestructionApprove).ApproveDestruction(ctx); err != nil {
		t.Fatal(err)
	}
	if got := d.mustAccess(admin, policy.VisitView).View(ctx); got.Bucket == "" || got.Destruction == nil || got.Destruction.ApprovedBy == "" {
		t.Fatalf("the administrator's view: bucket %q, destruction %+v: want both", got.Bucket, got.Destruction)
	}
	got := d.mustAccess(lead, policy.VisitView).View(ctx)
	if got.Bucket != "" || got.Destruction != nil {
		t.Errorf("the lead inspector's view of the visit: bucket %q, destruction %+v: want neither", got.Bucket, got.Destruction)
	}
	if got.DestroyOn == nil {
		t.Error("the lead inspector's view of the visit has no destruction date")
	}
	list, err := d.svc.Visits(ctx, lead, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list.Visits {
		if r.Bucket != "" || r.Destruction != nil {
			t.Errorf("the lead inspector's list of visits, %s: bucket %q, destruction %+v: want neither", r.Reference, r.Bucket, r.Destruction)
		}
	}
}
