package portal_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestInvitedAdministratorHasAPartInTheVisit: an administrator added to a
// visit by email, while signed in, has a part in it at once, not from
// their next sign-in (when the invitation binds): they may not lift its
// legal hold, or approve its destruction, which are for administrators
// with no part in it (separation of duties).
func TestInvitedAdministratorHasAPartInTheVisit(t *testing.T) {
	d := startDomain(t)
	v := d.demo()
	admin, second := inviteSecondAdministrator(t, d)
	// In the same session as before the invitation.
	refusedFromOutside(t, d, v, second, "an administrator invited to the visit")
	if _, err := d.mustAccess(admin, policy.DestructionApprove).ApproveDestruction(context.Background()); err != nil {
		t.Fatalf("an administrator with no part in the visit: %v", err)
	}
}

// inviteSecondAdministrator makes second.admin@ofsted.example an
// administrator, signs them in, and then has the demo administrator
// (returned first) invite them to the demo visit by email, as its QA
// manager: an invitation their session has not taken up.
func inviteSecondAdministrator(t *testing.T, d *domain) (admin, second portal.Actor) {
	t.Helper()
	ctx := context.Background()
	ofsted := d.issuer("ofsted")
	op := portal.OperatorActor("test", "admin grant")
	if err := portal.GrantRole(ctx, d.svc.Store(), op, portal.RoleGrant{Role: "administrator", Issuer: ofsted, Email: "second.admin@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	second = d.person("ofsted", "second.admin@ofsted.example")
	if !second.Administrator {
		t.Fatal("the second administrator is not one")
	}
	admin = d.person("ofsted", "admin@ofsted.example")
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "second.admin@ofsted.example", Issuer: ofsted, Role: policy.RoleQAManager}); err != nil {
		t.Fatal(err)
	}
	return admin, second
}

// TestAdministratorUnderAnotherIdentityHasAPartInTheVisit: a member who
// signs in under a second identity with the same email (a new subject at
// their provider, or an administrator's account of their own) has a part
// in the visit under it too, as PutMember's own-row check already holds:
// they may not lift its legal hold, approve its destruction or open its
// child-level data to their role from there.
func TestAdministratorUnderAnotherIdentityHasAPartInTheVisit(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	ofsted := d.issuer("ofsted")
	hmi := d.person("ofsted", "hmi@ofsted.example") // bound to the visit by this sign-in
	if hmi.Administrator {
		t.Fatal("the inspector is an administrator already")
	}
	op := portal.OperatorActor("test", "admin grant")
	if err := portal.GrantRole(ctx, d.svc.Store(), op, portal.RoleGrant{Role: "administrator", Issuer: ofsted, Subject: "hmi-admin-account"}); err != nil {
		t.Fatal(err)
	}
	other, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: ofsted, Subject: "hmi-admin-account", Email: "HMI@ofsted.example"})
	if err != nil {
		t.Fatal(err)
	}
	other.Via = "test"
	if !other.Administrator || other.UserID == hmi.UserID {
		t.Fatalf("the second identity: administrator %v, same user %v", other.Administrator, other.UserID == hmi.UserID)
	}
	if acc, err := d.access(other, policy.VisitManage, ""); err != nil {
		t.Fatal(err)
	} else if _, err := acc.SetRestriction(ctx, "cld", true, []string{policy.RoleLeadInspector, policy.RoleQAManager, policy.RoleAnalyst, policy.RoleInspector}); err == nil {
		t.Error("an inspector under an administrator's identity opened the child-level data to inspectors")
	}
	refusedFromOutside(t, d, v, other, "an inspector under an administrator's identity")
}

// refusedFromOutside checks that who, with a part in visit v, may neither
// lift its legal hold (set, then lifted, by the administrator) nor
// approve its destruction (published, and its notice given).
func refusedFromOutside(t *testing.T, d *domain, v store.Visit, who portal.Actor, what string) {
	t.Helper()
	ctx := context.Background()
	admin := d.person("ofsted", "admin@ofsted.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Complaint escalated"); err != nil {
		t.Fatal(err)
	}
	if acc, err := d.access(who, policy.LegalHoldLift, ""); err == nil {
		if _, err := acc.SetLegalHold(ctx, false, "Resolved"); err == nil {
			t.Errorf("%s lifted the visit's legal hold", what)
		}
	}
	if _, err := d.mustAccess(admin, policy.LegalHoldLift).SetLegalHold(ctx, false, "Resolved"); err != nil {
		t.Fatal(err)
	}
	d.noticeGiven(lead, v)
	if acc, err := d.access(who, policy.DestructionApprove, ""); err == nil {
		if _, err := acc.ApproveDestruction(ctx); err == nil {
			t.Errorf("%s approved the visit's destruction", what)
		}
	}
}

// TestAdministratorCannotSeatTheirOtherIdentity: an administrator may not
// give a role on a visit to another identity of their own (the same
// email: a second account at their provider), nor change or remove its
// membership, whether it is added by its subject after that account
// signed in (bound at once) or before (bound at its sign-in): as added by
// email, which was refused already.
func TestAdministratorCannotSeatTheirOtherIdentity(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	ofsted := d.issuer("ofsted")
	op := portal.OperatorActor("test", "admin grant")
	if err := portal.GrantRole(ctx, d.svc.Store(), op, portal.RoleGrant{Role: "administrator", Issuer: ofsted, Subject: "sam-admin"}); err != nil {
		t.Fatal(err)
	}
	signIn := func(subject, email string) portal.Actor {
		t.Helper()
		a, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: ofsted, Subject: subject, Email: email})
		if err != nil {
			t.Fatal(err)
		}
		a.Via = "test"
		return a
	}
	sam := signIn("sam-admin", "sam@ofsted.example")
	if !sam.Administrator {
		t.Fatal("sam's administrator account is not one")
	}
	own := func(err error) bool {
		e, ok := portal.AsError(err)
		return ok && e.Code == "own_membership"
	}
	samAsAdmin := d.mustAccess(sam, policy.MemberManage)

	// Signed in first: the membership binds as it is added.
	signIn("sam-work", "Sam@ofsted.example")
	if _, _, err := samAsAdmin.PutMember(ctx, portal.MemberRequest{Issuer: ofsted, Subject: "sam-work", Role: policy.RoleLeadInspector}); !own(err) {
		t.Errorf("an administrator gave their other account the lead inspector's role: %v, want own_membership", err)
	}

	// Added by another administrator before it signed in, bound since.
	admin := d.mustAccess(d.person("ofsted", "admin@ofsted.example"), policy.MemberManage)
	m, _, err := admin.PutMember(ctx, portal.MemberRequest{Issuer: ofsted, Subject: "sam-later", Role: policy.RoleInspector})
	if err != nil {
		t.Fatal(err)
	}
	signIn("sam-later", "sam@ofsted.example")
	if _, _, err := samAsAdmin.PutMember(ctx, portal.MemberRequest{Issuer: ofsted, Subject: "sam-later", Role: policy.RoleLeadInspector}); !own(err) {
		t.Errorf("an administrator changed their other account's membership: %v, want own_membership", err)
	}
	if err := samAsAdmin.RemoveMember(ctx, m.ID); !own(err) {
		t.Errorf("an administrator removed their other account's membership: %v, want own_membership", err)
	}
}

// TestBindingAtSignInIsRecorded: a membership added by email or by
// subject is taken up by the person's first sign-in, which is the act
// that gives them access: the visit's trail records it (member.bound,
// the membership as its object, by the person signing in, with the role
// and how it was found), once.
func TestBindingAtSignInIsRecorded(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	ofsted := d.issuer("ofsted")
	admin := d.mustAccess(d.person("ofsted", "admin@ofsted.example"), policy.MemberManage)
	byEmail, _, err := admin.PutMember(ctx, portal.MemberRequest{Email: "new.hmi@ofsted.example", Issuer: ofsted, Role: policy.RoleInspector})
	if err != nil {
		t.Fatal(err)
	}
	bySubject, _, err := admin.PutMember(ctx, portal.MemberRequest{Issuer: ofsted, Subject: "analyst-sub", Role: policy.RoleAnalyst})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second sign-in binds nothing
		for _, id := range []portal.Identity{
			{IdP: "ofsted", Issuer: ofsted, Subject: "new-hmi-sub", Email: "new.hmi@ofsted.example"},
			{IdP: "ofsted", Issuer: ofsted, Subject: "analyst-sub", Email: "analyst.two@ofsted.example"},
		} {
			if _, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		member          string
		subject, detail string
	}{{byEmail.ID, "new-hmi-sub", `"by":"email"`}, {bySubject.ID, "analyst-sub", `"by":"subject"`}} {
		recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Object: c.member, Action: "member.bound"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].ActorSubject != c.subject || !strings.Contains(recs[0].Detail, c.detail) {
			t.Errorf("membership %s taken up by %s: %+v, want one member.bound by them, %s", c.member, c.subject, recs, c.detail)
		}
	}
}

// TestMemberRecordsNameTheMembershipAsSaved: member.added and
// member.changed say whose membership it is as saved, not as the request
// named it: a membership found by email and bound to a person is
// recorded with that person's subject; one added by subject for a person
// who has signed in, with their email.
func TestMemberRecordsNameTheMembershipAsSaved(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	ofsted := d.issuer("ofsted")
	hmi := d.person("ofsted", "hmi@ofsted.example") // binds the demo membership
	if _, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: ofsted, Subject: "analyst-x", Email: "analyst.x@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	admin := d.mustAccess(d.person("ofsted", "admin@ofsted.example"), policy.MemberManage)
	changed, _, err := admin.PutMember(ctx, portal.MemberRequest{Email: "hmi@ofsted.example", Role: policy.RoleQAManager})
	if err != nil {
		t.Fatal(err)
	}
	added, _, err := admin.PutMember(ctx, portal.MemberRequest{Issuer: ofsted, Subject: "analyst-x", Role: policy.RoleAnalyst})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ member, action, want string }{
		{changed.ID, "member.changed", `"subject":"` + hmi.Subject + `"`},
		{added.ID, "member.added", `"email":"analyst.x@ofsted.example"`},
	} {
		recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Object: c.member, Action: c.action})
		if err != nil || len(recs) == 0 {
			t.Fatalf("%s of %s: %d records (%v)", c.action, c.member, len(recs), err)
		}
		if last := recs[len(recs)-1]; !strings.Contains(last.Detail, c.want) {
			t.Errorf("%s: %s, want %s", c.action, last.Detail, c.want)
		}
	}
}

// TestAdministratorCannotSeatTheirIdentityBeforeItSignsIn: an
// administrator who adds, by its subject, an account of their own that has
// not yet signed in (nothing then says whose it is), or invites by email
// the address their own account signs in with later, gives it nothing: the
// membership they added does not bind to them when it signs in. Before,
// it bound, and the administrator read the visit's evidence as its lead
// inspector. A membership another administrator added binds as before.
func TestAdministratorCannotSeatTheirIdentityBeforeItSignsIn(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	ofsted := d.issuer("ofsted")
	op := portal.OperatorActor("test", "admin grant")
	for _, sub := range []string{"sam-admin", "kim-admin"} {
		if err := portal.GrantRole(ctx, d.svc.Store(), op, portal.RoleGrant{Role: "administrator", Issuer: ofsted, Subject: sub}); err != nil {
			t.Fatal(err)
		}
	}
	signIn := func(subject, email string) portal.Actor {
		t.Helper()
		a, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: ofsted, Subject: subject, Email: email})
		if err != nil {
			t.Fatal(err)
		}
		a.Via = "test"
		return a
	}
	sam := signIn("sam-admin", "sam@ofsted.example")
	kim := signIn("kim-admin", "") // their provider gives no email
	reads := func(a portal.Actor) bool {
		_, err := d.svc.Authorize(ctx, a, policy.FileList, v.ID, "")
		return err == nil
	}
	// Sam seats an account of theirs that has not signed in yet.
	if _, _, err := d.mustAccess(sam, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Issuer: ofsted, Subject: "sam-fresh", Role: policy.RoleLeadInspector}); err != nil {
		t.Fatal(err)
	}
	if reads(signIn("sam-fresh", "sam@ofsted.example")) {
		t.Errorf("an administrator's second account, added by its subject before it signed in, lists the visit's evidence")
	}
	// Kim invites the address Kim's own account signs in with later.
	if _, _, err := d.mustAccess(kim, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "kim@ofsted.example", Issuer: ofsted, Role: policy.RoleInspector}); err != nil {
		t.Fatal(err)
	}
	if kim = signIn("kim-admin", "kim@ofsted.example"); reads(kim) {
		t.Errorf("an administrator invited their own address, and their account took up the invitation")
	}
	// Added by another administrator, the membership binds.
	if _, _, err := d.mustAccess(sam, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Issuer: ofsted, Subject: "lee-hmi", Role: policy.RoleInspector}); err != nil {
		t.Fatal(err)
	}
	if !reads(signIn("lee-hmi", "lee@ofsted.example")) {
		t.Errorf("an inspector an administrator added by subject does not list the visit's evidence once signed in")
	}
}

// TestPortalRoleTakenUpAtSignInIsRecorded: the administrator's role
// granted by email, or by subject to someone who has not signed in, is
// taken up by the first sign-in of whoever the identity provider vouches
// for: the act that makes them an administrator. The trail records it
// (portal_role.bound, the grant as its object, by the person signing in,
// with the role and how it was found), once. Before, the grant was
// recorded and the account that took it up was not.
func TestPortalRoleTakenUpAtSignInIsRecorded(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	ofsted := d.issuer("ofsted")
	op := portal.OperatorActor("ops", "admin grant")
	for _, g := range []portal.RoleGrant{
		{Role: store.RoleAdministrator, Issuer: ofsted, Email: "records@ofsted.example"},
		{Role: store.RoleAdministrator, Issuer: ofsted, Subject: "deputy-sub"},
	} {
		if err := portal.GrantRole(ctx, d.svc.Store(), op, g); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // the second sign-in binds nothing
		for _, id := range []portal.Identity{
			{IdP: "ofsted", Issuer: ofsted, Subject: "records-sub", Email: "records@ofsted.example"},
			{IdP: "ofsted", Issuer: ofsted, Subject: "deputy-sub", Email: "deputy@ofsted.example"},
		} {
			if _, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{Action: "portal_role.bound"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range recs {
		got[r.ActorSubject] += r.Detail
		if r.Object == "" || r.VisitID != "" {
			t.Errorf("portal_role.bound %+v: want the grant as its object, in no visit's trail", r)
		}
	}
	if len(recs) != 2 || !strings.Contains(got["records-sub"], `"by":"email"`) || !strings.Contains(got["deputy-sub"], `"by":"subject"`) ||
		!strings.Contains(got["records-sub"], `"role":"administrator"`) {
		t.Errorf("the administrator's role taken up at sign-in is recorded as %+v, want once for each, by the person, with how it was found", recs)
	}
	// Each grant's record names the grant, as its taking up does: the
	// trail says which grant made whom an administrator. A grant made
	// again names the same grant.
	if err := portal.GrantRole(ctx, d.svc.Store(), op, portal.RoleGrant{Role: store.RoleAdministrator, Issuer: ofsted, Email: "records@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	grants, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{Action: "portal_role.granted"})
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]int{}
	for _, r := range grants {
		named[r.Object]++
	}
	for _, r := range recs {
		want := 1
		if r.ActorSubject == "records-sub" {
			want = 2
		}
		if named[r.Object] != want {
			t.Errorf("the grant %q taken up by %s is named by %d portal_role.granted records, want %d (the grants name %v)", r.Object, r.ActorSubject, named[r.Object], want, named)
		}
	}
}

// TestDestructionReviewOffersNoApprovalToAnInvitedAdministrator: the
// review offers to approve a destruction only where the approval would be
// taken: an administrator invited to the visit by email (not yet bound,
// by their next sign-in) has a part in it, and their approval is refused.
// Before, the review offered them "Approve", which then refused.
func TestDestructionReviewOffersNoApprovalToAnInvitedAdministrator(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	admin, second := inviteSecondAdministrator(t, d)
	d.noticeGiven(d.person("ofsted", "lead@ofsted.example"), v)
	offered := func(who portal.Actor) bool {
		t.Helper()
		page, err := d.svc.DestructionReview(ctx, who, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Visits {
			if r.Visit.ID == v.ID {
				return r.CanApprove
			}
		}
		t.Fatalf("the visit noticed for destruction is not in the review: %+v", page)
		return false
	}
	if !offered(admin) {
		t.Fatal("an administrator with no part in the visit is not offered to approve it")
	}
	if offered(second) {
		t.Error("an administrator invited to the visit by email is offered to approve its destruction, which would be refused")
	}
	if acc, err := d.access(second, policy.DestructionApprove, ""); err == nil {
		if _, err := acc.ApproveDestruction(ctx); err == nil {
			t.Error("an administrator invited to the visit approved its destruction")
		}
	}
}
