package portal_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestRefusalRecordedAfterTheRequestEnded: a refusal, once decided, is in
// the trail even when its request has ended since (the client hung up as
// it was refused). Before, the record was written under the request's
// context and lost with it, so a prober who hangs up at once could keep
// their refusals out of the trail; and the refusal was answered as the
// database's failure.
func TestRefusalRecordedAfterTheRequestEnded(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	lead := d.person("ofsted", "lead@ofsted.example")
	acc := d.mustAccess(lead, policy.VisitView)
	start, _, _ := d.svc.Store().AuditHead(ctx)
	gone, cancel := context.WithCancel(ctx)
	cancel()
	err := acc.RefuseDecided(gone, policy.DestructionApprove, policy.Decision{Visible: true, Rule: "no-policy-permits"})
	if kindOf(err) != portal.KindForbidden {
		t.Errorf("a refusal decided, its request since ended: %v, want it refused as forbidden", err)
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Action: "request.denied"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Outcome != "denied" {
		t.Fatalf("the trail after a refusal whose request ended: %+v, want the refusal", recs)
	}
}

// TestSignInActsRecordedAfterTheRequestEnded: a failed sign-in (counted
// against its address) and a sign-out (its session already gone) are in
// the trail even when their request has ended as they were recorded.
// Before, each was lost with its request: a sign-in attempt could be kept
// out of the trail by hanging up, and a session shown as never ended.
func TestSignInActsRecordedAfterTheRequestEnded(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	lead := d.person("ofsted", "lead@ofsted.example")
	start, _, _ := d.svc.Store().AuditHead(ctx)
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if err := d.svc.RecordSignInFailure(gone, portal.Actor{Via: "test", ClientIP: "192.0.2.7"}, "ofsted", "invalid state"); err != nil {
		t.Errorf("a failed sign-in whose request ended: %v", err)
	}
	if err := d.svc.RecordSignOut(gone, lead); err != nil {
		t.Errorf("a sign-out whose request ended: %v", err)
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Actions: []string{"signin", "signout"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Action+":"+r.Outcome)
	}
	if strings.Join(got, " ") != "signin:failure signout:success" {
		t.Fatalf("the trail after acts whose requests ended: %v, want signin:failure signout:success", got)
	}
}
