package portal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestTwoMembershipsOfOnePerson: a person with two memberships of a visit
// is given the one bound to their identity (issuer and subject), whatever
// the rows' order; two that match alike and differ are refused with a
// reason, and the members page shows administrators both. Adding a member
// who is already one under another email address, or by subject when
// their email is, is refused on the form's field.
func TestTwoMembershipsOfOnePerson(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	st := d.svc.Store()
	admin := d.person("ofsted", "admin@ofsted.example")
	hmi := d.person("ofsted", "hmi@ofsted.example")
	qam := d.person("ofsted", "qam@ofsted.example")
	now := time.Now()
	// A row bound to the inspector by an address they no longer use,
	// first by id, with a wider role than their own.
	first := "00000000000000000000000000000000"
	if err := st.SeedMembers(ctx, []store.Member{{ID: first, VisitID: v.ID, Role: policy.RoleLeadInspector, Email: "hmi.old@ofsted.example",
		UserID: hmi.UserID, CreatedAt: now, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	if acc := d.mustAccess(hmi, policy.VisitView); acc.Member.Role != policy.RoleInspector || acc.Member.ID == first {
		t.Fatalf("the inspector acts as %s (member %s), not by the membership bound to their identity", acc.Member.Role, acc.Member.ID)
	}
	// Two rows alike bound by email only, with different roles: refused.
	if _, err := st.DB().Exec(`UPDATE members SET issuer = NULL, subject = NULL WHERE user_id = ?`, qam.UserID); err != nil {
		t.Fatal(err)
	}
	if err := st.SeedMembers(ctx, []store.Member{{ID: "ffffffffffffffffffffffffffffffff", VisitID: v.ID, Role: policy.RoleAnalyst, Email: "qam.old@ofsted.example",
		UserID: qam.UserID, CreatedAt: now, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.access(qam, policy.VisitView, ""); !isCode(err, "duplicate_membership") {
		t.Fatalf("two memberships that differ: %v", err)
	}
	admins := d.mustAccess(admin, policy.MemberManage)
	ms, err := admins.Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dup := map[string]string{}
	for _, m := range ms {
		dup[m.Email] = m.Duplicate
	}
	for _, e := range []string{"hmi@ofsted.example", "hmi.old@ofsted.example", "qam@ofsted.example", "qam.old@ofsted.example"} {
		if dup[e] == "" {
			t.Errorf("the members page does not show %s's membership as one of two: %v", e, dup)
		}
	}
	if dup["lead@ofsted.example"] != "" {
		t.Errorf("the lead inspector's one membership is shown as one of two")
	}

	// The inspector's address changes at their identity provider: adding
	// the new address would make a second membership, never bound.
	var issuer string
	for _, p := range d.Config.IdPs {
		if p.Name == "ofsted" {
			issuer = p.Issuer
		}
	}
	if _, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: issuer, Subject: "sub-hmi@ofsted.example", Email: "hmi.new@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	_, _, err = admins.PutMember(ctx, portal.MemberRequest{Email: "hmi.new@ofsted.example", Role: policy.RoleAnalyst})
	if e, ok := portal.AsError(err); !ok || e.Field != "email" || e.Kind != portal.KindInvalid {
		t.Fatalf("adding a member's new address: %v", err)
	}
	// Someone signed in, added by email, then by subject.
	d.person("ofsted", "new@ofsted.example")
	if _, _, err := admins.PutMember(ctx, portal.MemberRequest{Email: "new@ofsted.example", Role: policy.RoleInspector}); err != nil {
		t.Fatal(err)
	}
	_, _, err = admins.PutMember(ctx, portal.MemberRequest{Issuer: issuer, Subject: "sub-new@ofsted.example", Role: policy.RoleAnalyst})
	if e, ok := portal.AsError(err); !ok || e.Field != "subject" || e.Kind != portal.KindInvalid {
		t.Fatalf("adding by subject someone a member by email: %v", err)
	}
}

// TestMemberChangedByEmailKeepsToItsOrganisation: a membership bound to a
// person who signed in with Cafcass's provider cannot be given an Ofsted
// role by changing it by email (the members form: "adding an existing
// email changes that member's role"), nor one bound to an Ofsted identity
// a Cafcass role. The role is checked against the issuer the person is
// bound to, as sign-in and a change by subject check it; the person keeps
// their role.
func TestMemberChangedByEmailKeepsToItsOrganisation(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	admin := d.person("ofsted", "admin@ofsted.example")
	coord := d.person("cafcass", "coordinator@cafcass.example")
	hmi := d.person("ofsted", "hmi@ofsted.example")
	acc := d.mustAccess(admin, policy.MemberManage)
	for _, c := range []struct {
		who  portal.Actor
		role string
	}{{coord, policy.RoleLeadInspector}, {hmi, policy.RoleProviderCoordinator}} {
		was := d.mustAccess(c.who, policy.VisitView).Member.Role
		_, _, err := acc.PutMember(ctx, portal.MemberRequest{Email: c.who.Email, Role: c.role})
		if e, ok := portal.AsError(err); !ok || e.Field != "role" {
			t.Errorf("%s, signed in, given the role %s by email: %v, want a refusal on the role", c.who.Email, c.role, err)
		}
		if now := d.mustAccess(c.who, policy.VisitView).Member.Role; now != was {
			t.Errorf("%s is now %s, was %s", c.who.Email, now, was)
		}
	}
	// Within the organisation, the change is made.
	if _, _, err := acc.PutMember(ctx, portal.MemberRequest{Email: "hmi@ofsted.example", Role: policy.RoleQAManager}); err != nil {
		t.Fatal(err)
	}
	if now := d.mustAccess(hmi, policy.VisitView).Member.Role; now != policy.RoleQAManager {
		t.Fatalf("the inspector given the QAM role by email is %s", now)
	}
}

// TestMemberSubjectIsOneAProviderGives: a member added by issuer and
// subject is refused, on the subject, when no provider would sign that
// subject in: longer than OpenID Connect allows, with a text-direction
// or control character (one person made to read as another on the
// members page and in the trail), or with spaces around it.
func TestMemberSubjectIsOneAProviderGives(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	admin := d.person("ofsted", "admin@ofsted.example")
	acc := d.mustAccess(admin, policy.MemberManage)
	var issuer string
	for _, p := range d.Config.IdPs {
		if p.Name == "ofsted" {
			issuer = p.Issuer
		}
	}
	for name, sub := range map[string]string{
		"too long":            strings.Repeat("x", 256),
		"text direction":      "\u202elivE",
		"a control character": "sub\x07ject",
		"spaces around it":    " sub-1 ",
	} {
		_, _, err := acc.PutMember(ctx, portal.MemberRequest{Issuer: issuer, Subject: sub, Role: policy.RoleInspector})
		if e, ok := portal.AsError(err); !ok || e.Field != "subject" {
			t.Errorf("a subject %s: %v, want a refusal on the subject", name, err)
		}
	}
	if _, _, err := acc.PutMember(ctx, portal.MemberRequest{Issuer: issuer, Subject: "3f2b6c1e-7a41-4c1e-9d2a-0b5e8f1a2c3d", Role: policy.RoleInspector}); err != nil {
		t.Fatalf("a provider's subject: %v", err)
	}
}

// TestMembershipRecordsNameTheMember: the trail's record of a change to a
// membership names the membership, as its adding did, and the record of
// its removal says whose it was and their role: the row itself goes.
// Before, a change named nothing and a removal only an id no page could
// name once the row was gone.
func TestMembershipRecordsNameTheMember(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	admins := d.mustAccess(d.person("ofsted", "admin@ofsted.example"), policy.MemberManage)
	m, _, err := admins.PutMember(ctx, portal.MemberRequest{Email: "temp@ofsted.example", Role: policy.RoleInspector})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := admins.PutMember(ctx, portal.MemberRequest{Email: "temp@ofsted.example", Role: policy.RoleAnalyst}); err != nil {
		t.Fatal(err)
	}
	if err := admins.RemoveMember(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ action, want string }{
		{"member.changed", `"role":"analyst"`},
		{"member.removed", `"email":"temp@ofsted.example"`},
		{"member.removed", `"role":"analyst"`},
	} {
		recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: c.action, Object: m.ID})
		if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Detail, c.want) {
			t.Errorf("%s of the membership %s: %d records (%v), want one saying %s: %+v", c.action, m.ID, len(recs), err, c.want, recs)
		}
	}
}

// TestSubjectBindsOnlyRolesItsOrganisationMayHold: a membership by
// subject at a provider's identity provider with an inspection role (one
// stored while that provider was configured as the inspectorate, say)
// is not taken up by that person's sign-in, as an invitation by email
// with such a role is not. Before, the organisation's rule was checked
// only as a row was written: the sign-in bound it, and Cafcass's person
// read the visit's evidence as an inspector.
func TestSubjectBindsOnlyRolesItsOrganisationMayHold(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	now := time.Now()
	cafcass := d.issuer("cafcass")
	if err := d.svc.Store().SeedMembers(ctx, []store.Member{{ID: "0000000000000000000000000000000a", VisitID: v.ID, Role: policy.RoleInspector,
		Issuer: cafcass, Subject: "x-sub", CreatedAt: now, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	x, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "cafcass", Issuer: cafcass, Subject: "x-sub", Email: "x@cafcass.example"})
	if err != nil {
		t.Fatal(err)
	}
	x.Via = "test"
	if _, err := d.svc.Authorize(ctx, x, policy.FileList, v.ID, ""); err == nil {
		t.Errorf("a provider's person took up an inspector's membership by subject, and lists the visit's evidence")
	}
}

// TestBoundRoleItsOrganisationMayNotHoldGivesNothing: a membership
// already bound with a role the person's organisation may not hold (bound
// while their identity provider was configured as another organisation's,
// and since put right) gives them nothing. Before, only binding checked
// the organisation: once bound, Cafcass's person kept an inspector's
// access.
func TestBoundRoleItsOrganisationMayNotHoldGivesNothing(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	now := time.Now()
	coord := d.person("cafcass", "coordinator@cafcass.example")
	if _, err := d.svc.Store().DB().Exec(`DELETE FROM members WHERE user_id = ?`, coord.UserID); err != nil {
		t.Fatal(err)
	}
	if err := d.svc.Store().SeedMembers(ctx, []store.Member{{ID: "0000000000000000000000000000000b", VisitID: v.ID, Role: policy.RoleInspector,
		Issuer: coord.Issuer, Subject: coord.Subject, UserID: coord.UserID, CreatedAt: now, UpdatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Authorize(ctx, coord, policy.FileList, v.ID, ""); err == nil {
		t.Errorf("a provider's person with an inspector's membership, bound before, lists the visit's evidence")
	}
	// Nor does "who am I" name it among their visits, as their list of
	// visits does not. Before, it listed the visit with the inspector's
	// role.
	me, err := d.svc.Me(ctx, coord)
	if err != nil {
		t.Fatal(err)
	}
	if len(me.Visits) != 0 {
		t.Errorf("who am I lists %+v for a membership that gives nothing, want no visit", me.Visits)
	}
	list, err := d.svc.Visits(ctx, coord, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Visits) != 0 {
		t.Errorf("the visit list shows %d visits for a membership that gives nothing, want none", len(list.Visits))
	}
}
