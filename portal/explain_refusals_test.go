package portal_test

import (
	"context"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestExplainSaysWhatTheirRequestWouldGet: "explain" answers an
// administrator with what the member's own request would be answered: a
// person disabled on the server, or with two memberships of the visit
// that differ, is refused before any policy is asked, and explain says
// so rather than "allowed".
func TestExplainSaysWhatTheirRequestWouldGet(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	st := d.svc.Store()
	admin := d.person("ofsted", "admin@ofsted.example")
	hmi := d.person("ofsted", "hmi@ofsted.example")
	qam := d.person("ofsted", "qam@ofsted.example")
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	d.at(tl.Notification)
	explain := func(email string) portal.Explanation {
		t.Helper()
		ms, err := d.mustAccess(admin, policy.MemberManage).Members(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Email == email {
				e, err := d.mustAccess(admin, policy.MemberManage).Explain(ctx, m.ID, string(policy.FileList), "")
				if err != nil {
					t.Fatal(err)
				}
				return e
			}
		}
		t.Fatalf("no member %s", email)
		return portal.Explanation{}
	}
	if e := explain("hmi@ofsted.example"); !e.Allow {
		t.Fatalf("before anything: %+v", e)
	}
	if _, err := portal.DisableUser(ctx, st, portal.OperatorActor("test", "admin disable"), portal.Person{Issuer: d.issuer("ofsted"), Email: "hmi@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.SessionActor(ctx, hmi.UserID, hmi.SessionEpoch, portal.Actor{}); err == nil {
		t.Fatal("a disabled person's session is still read")
	}
	if e := explain("hmi@ofsted.example"); e.Allow || e.Refusal != portal.KindForbidden {
		t.Errorf("a disabled person, whose every request is refused: explain says allowed %v (%s)", e.Allow, e.Reason)
	}

	now := time.Now()
	if err := st.SeedMembers(ctx, []store.Member{{ID: "ffffffffffffffffffffffffffffffff", VisitID: v.ID, Role: policy.RoleAnalyst, Email: "qam.old@ofsted.example",
		UserID: qam.UserID, CreatedAt: now, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`UPDATE members SET issuer = NULL, subject = NULL WHERE user_id = ?`, qam.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.access(qam, policy.FileList, ""); err == nil {
		t.Fatal("two memberships that differ are not refused")
	}
	if e := explain("qam@ofsted.example"); e.Allow || e.Refusal != portal.KindForbidden {
		t.Errorf("a person with two memberships that differ, whose every request is refused: explain says allowed %v (%s)", e.Allow, e.Reason)
	}
}

// TestExplainQuestionsOnTheirItem: questions are decided on the item (or
// file) they are about, so explain asks which: an inspector may not read
// the questions on the child-level data (restricted to the lead, the QAM
// and analysts), and may on an item open to them. Before, explain decided
// on the visit and said "allowed" for every item.
func TestExplainQuestionsOnTheirItem(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	d.at(tl.Notification)
	admin := d.person("ofsted", "admin@ofsted.example")
	d.person("ofsted", "hmi@ofsted.example")
	acc := d.mustAccess(admin, policy.MemberManage)
	ms, err := acc.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var hmi string
	for _, m := range ms {
		if m.Email == "hmi@ofsted.example" {
			hmi = m.ID
		}
	}
	if _, err := acc.ExplainOn(ctx, hmi, string(policy.QuestionView), "", ""); kindOf(err) != portal.KindInvalid {
		t.Errorf("explain of an inspector reading questions on no item or file: %v, want to be asked which", err)
	}
	if e, err := acc.ExplainOn(ctx, hmi, string(policy.QuestionView), "", portal.ItemChildLevelData); err != nil || e.Allow {
		t.Errorf("explain of an inspector reading the child-level data's questions: allowed %v (%v), want refused", e.Allow, err)
	}
	if e, err := acc.ExplainOn(ctx, hmi, string(policy.QuestionView), "", "1.01"); err != nil || !e.Allow {
		t.Errorf("explain of an inspector reading item 1.01's questions: allowed %v %s (%v), want allowed", e.Allow, e.Reason, err)
	}
	if _, err := acc.ExplainOn(ctx, hmi, string(policy.FileList), "", "1.01"); kindOf(err) != portal.KindInvalid {
		t.Errorf("explain of an item for an action not on questions: %v, want it refused as a wrong value", err)
	}
}

// TestExplainOfARoleTheirOrganisationMayNotHold: a membership bound with a
// role the person's organisation may not hold (an inspector's, bound to
// Cafcass's coordinator while their identity provider was configured as
// another organisation's) gives them nothing: their requests are answered
// as a stranger's. Explain must say so. Before, it decided as if the
// membership counted, and said they were allowed to list the evidence.
func TestExplainOfARoleTheirOrganisationMayNotHold(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	now := time.Now()
	admin := d.person("ofsted", "admin@ofsted.example")
	coord := d.person("cafcass", "coordinator@cafcass.example")
	if _, err := d.svc.Store().DB().Exec(`DELETE FROM members WHERE user_id = ?`, coord.UserID); err != nil {
		t.Fatal(err)
	}
	const id = "0000000000000000000000000000000b"
	if err := d.svc.Store().SeedMembers(ctx, []store.Member{{ID: id, VisitID: v.ID, Role: policy.RoleInspector,
		Issuer: coord.Issuer, Subject: coord.Subject, UserID: coord.UserID, CreatedAt: now, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Authorize(ctx, coord, policy.FileList, v.ID, ""); err == nil {
		t.Fatal("the membership their organisation may not hold gives them access")
	}
	e, err := d.mustAccess(admin, policy.MemberManage).Explain(ctx, id, string(policy.FileList), "")
	if err != nil {
		t.Fatal(err)
	}
	if e.Allow || e.Refusal != portal.KindNotFound {
		t.Errorf("explain of a membership that gives its person nothing: allowed %v, refusal %v (%s); want not found, as their request is answered", e.Allow, e.Refusal, e.Reason)
	}
}
