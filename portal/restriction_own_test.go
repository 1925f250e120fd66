package portal_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestAdministratorMemberCannotOpenAnItemToThemselves: an administrator
// who is also a member of the visit (an inspector, made one by another
// administrator) cannot lift or widen an item's restriction so that
// their own role sees it: deciding who sees the child-level data is for
// an administrator with no part in the visit, as changing one's own
// membership is (separation of duties). The refusal is recorded. They may
// still restrict an item further, and change items their role sees
// either way; an administrator with no part in the visit may open it.
func TestAdministratorMemberCannotOpenAnItemToThemselves(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	admin, second := adminWhoIsInspector(t, d)
	for name, c := range map[string]struct {
		restricted bool
		roles      []string
	}{
		"lifted":                {false, nil},
		"widened to their role": {true, append(append([]string{}, policy.ChildLevelDataRoles...), policy.RoleInspector)},
	} {
		_, err := d.mustAccess(second, policy.VisitManage).SetRestriction(ctx, portal.ItemChildLevelData, c.restricted, c.roles)
		if kindOf(err) != portal.KindForbidden {
			t.Errorf("the child-level data's restriction %s by an administrator who is an inspector of the visit: %v, want a refusal", name, err)
		}
	}
	var denied int
	if err := d.svc.Store().DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE action = 'request.denied' AND object = ? AND detail LIKE '%own-item%'`, portal.ItemChildLevelData).Scan(&denied); err != nil || denied != 2 {
		t.Errorf("%d refusals recorded (%v), want 2", denied, err)
	}
	rs, err := d.mustAccess(admin, policy.VisitView).Restrictions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Code == portal.ItemChildLevelData && (!r.Restricted || len(r.Roles) != len(policy.ChildLevelDataRoles)) {
			t.Fatalf("the child-level data's restriction after the refusals: %+v", r)
		}
	}
	// Restricting an item their role sees today is not opening it.
	if _, err := d.mustAccess(second, policy.VisitManage).SetRestriction(ctx, "1.04", true, []string{policy.RoleLeadInspector}); err != nil {
		t.Errorf("an item restricted further by the administrator who is a member: %v", err)
	}
	if _, err := d.mustAccess(admin, policy.VisitManage).SetRestriction(ctx, "1.04", false, nil); err != nil {
		t.Errorf("an administrator with no part in the visit opening the item: %v", err)
	}
}

// TestRefusedThreadNamesItsItem: a question asked on, or the threads read
// of, an item restricted from the person is refused as not there, and the
// trail's refusal names the item tried: administrators see who tried what.
// Before, the refusal of an item's thread named nothing.
func TestRefusedThreadNamesItsItem(t *testing.T) {
	d, v, tl, _, _ := oneFileUploaded(t)
	ctx := context.Background()
	admin := d.person("ofsted", "admin@ofsted.example")
	hmi := d.person("ofsted", "hmi@ofsted.example")
	d.at(d.svc.Calendar().PreviousWorkingDay(tl.FieldworkEnd))
	if _, err := d.mustAccess(admin, policy.VisitManage).SetRestriction(ctx, "1.04", true, []string{policy.RoleLeadInspector}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.mustAccess(hmi, policy.QuestionPost).Ask(ctx, portal.QuestionInput{Item: "1.04", Text: "Is this the latest?"}); kindOf(err) != portal.KindNotFound {
		t.Fatalf("an inspector asking on an item restricted to the lead: %v, want not found", err)
	}
	if _, err := d.mustAccess(hmi, policy.QuestionView).QuestionSubject(ctx, "1.04", ""); kindOf(err) != portal.KindNotFound {
		t.Fatalf("an inspector reading an item restricted to the lead: %v, want not found", err)
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "request.denied", ActorEmail: "hmi@ofsted.example"})
	if err != nil {
		t.Fatal(err)
	}
	var objects []string
	for _, r := range recs {
		objects = append(objects, r.Object)
	}
	if !slices.Equal(objects, []string{"1.04", "1.04"}) {
		t.Errorf("the refusals name %q, want the item tried, twice", objects)
	}
}

// TestAdministratorMemberCannotWithdrawThePublication: an inspector's
// access ends the day after the letter is published. An administrator who
// is also an inspector of the visit could withdraw the publication (an
// event recorded in error) and read the evidence again. Withdrawing a
// letter event is for administrators with no part in the visit, as
// lifting a legal hold is.
func TestAdministratorMemberCannotWithdrawThePublication(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	admin, second := adminWhoIsInspector(t, d)
	lead := d.person("ofsted", "lead@ofsted.example")
	v := d.demo()
	day := d.publish(lead, v)
	d.at(day.AddDate(0, 0, 3))
	if _, err := d.access(second, policy.FileList, ""); err == nil {
		t.Fatal("the inspector's access is open after the publication: the test proves nothing")
	}
	acc, err := d.access(second, policy.EventWithdraw, "")
	if err == nil {
		_, err = acc.WithdrawEvent(ctx, "published", day.Format(time.DateOnly))
	}
	if kindOf(err) != portal.KindForbidden {
		t.Errorf("an administrator who is an inspector of the visit withdrawing its publication: %v, want a refusal", err)
	}
	if _, err := d.access(second, policy.FileList, ""); err == nil {
		t.Error("the inspector who is an administrator reads the evidence again after the publication")
	}
	// An administrator with no part in the visit may.
	if _, err := d.mustAccess(admin, policy.EventWithdraw).WithdrawEvent(ctx, "published", day.Format(time.DateOnly)); err != nil {
		t.Errorf("an administrator with no part in the visit withdrawing its publication: %v", err)
	}
}

// adminWhoIsInspector grants a second person the administrator's role and
// makes them an inspector of the demo visit, signed in (bound): it returns
// the demo's administrator, with no part in the visit, and that second
// one.
func adminWhoIsInspector(t *testing.T, d *domain) (admin, second portal.Actor) {
	t.Helper()
	ctx := context.Background()
	ofsted := d.issuer("ofsted")
	op := portal.OperatorActor("test", "admin grant")
	if err := portal.GrantRole(ctx, d.svc.Store(), op, portal.RoleGrant{Role: "administrator", Issuer: ofsted, Email: "second.admin@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	admin = d.person("ofsted", "admin@ofsted.example")
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "second.admin@ofsted.example", Issuer: ofsted, Role: policy.RoleInspector}); err != nil {
		t.Fatal(err)
	}
	return admin, d.person("ofsted", "second.admin@ofsted.example")
}
