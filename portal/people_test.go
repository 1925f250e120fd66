package portal_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

func (d *domain) issuer(idp string) string {
	for _, p := range d.Config.IdPs {
		if p.Name == idp {
			return p.Issuer
		}
	}
	d.t.Fatalf("no provider %s", idp)
	return ""
}

// TestPeopleWithoutEmail: a person whose provider gives no email is still
// made an administrator or a member, by issuer and subject, and bound at
// their next sign-in.
func TestPeopleWithoutEmail(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	ofsted := d.issuer("ofsted")
	signIn := func(sub, name string) portal.Actor {
		t.Helper()
		a, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: ofsted, Subject: sub, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		a.Via = "test"
		return a
	}

	op := portal.OperatorActor("test", "admin grant")
	if err := portal.GrantRole(ctx, d.svc.Store(), op, portal.RoleGrant{Role: "administrator", Issuer: ofsted, Subject: "sub-admin-2"}); err != nil {
		t.Fatal(err)
	}
	if a := signIn("sub-admin-2", ""); !a.Administrator || a.Email != "" {
		t.Fatalf("granted by subject, signed in without an email: %+v", a)
	}
	// A grant to someone who has signed in already binds at once.
	signIn("sub-admin-3", "Third Admin")
	if err := portal.GrantRole(ctx, d.svc.Store(), op, portal.RoleGrant{Role: "administrator", Issuer: ofsted, Subject: "sub-admin-3"}); err != nil {
		t.Fatal(err)
	}
	if a := signIn("sub-admin-3", "Third Admin"); !a.Administrator {
		t.Fatal("a grant to a known subject did not bind")
	}
	for _, bad := range []portal.RoleGrant{
		{Role: "administrator", Issuer: ofsted},
		{Role: "administrator", Issuer: ofsted, Email: "a@ofsted.example", Subject: "s"},
		{Role: "administrator", Subject: "s"},
		{Role: "inspector", Issuer: ofsted, Subject: "s"},
	} {
		if err := portal.GrantRole(ctx, d.svc.Store(), op, bad); err == nil {
			t.Errorf("grant %+v accepted", bad)
		}
	}

	// A member added by subject before their first sign-in holds the role
	// once they sign in.
	admin := d.person("ofsted", "admin@ofsted.example")
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Issuer: ofsted, Subject: "sub-hmi-2", Role: "inspector"}); err != nil {
		t.Fatal(err)
	}
	hmi := signIn("sub-hmi-2", "Second Inspector")
	if _, err := d.access(hmi, policy.VisitView, ""); err != nil {
		t.Fatalf("a member added by subject, signed in later, cannot see the visit: %v", err)
	}
	ms, err := d.mustAccess(admin, policy.MemberManage).Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var shown string
	for _, m := range ms {
		if m.Subject == "sub-hmi-2" {
			shown = m.Display
		}
	}
	if shown != "Second Inspector" {
		t.Fatalf("the member is shown as %q, want their name", shown)
	}
}

func TestPersonName(t *testing.T) {
	for _, tc := range []struct{ email, name, sub, iss, want string }{
		{"a@x.example", "A", "s", "https://i", "a@x.example"},
		{"", "A Person", "s", "https://i", "A Person"},
		{"", "", "s-1", "https://login.example/t/v2.0", "s-1 @ https://login.example/t/v2.0"},
		{"", "", "", "", "unknown person"},
	} {
		if got := portal.PersonName(tc.email, tc.name, tc.sub, tc.iss); got != tc.want {
			t.Errorf("PersonName(%q, %q, %q, %q) = %q, want %q", tc.email, tc.name, tc.sub, tc.iss, got, tc.want)
		}
	}
}

// TestRevokeAdministrator: a departing administrator's role is taken by
// the issuer and email or subject it was granted to, whether the grant was
// made that way or bound to them at sign-in, and only theirs: another
// person without an email keeps theirs. Revoking a role not held says so.
func TestRevokeAdministrator(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	ofsted := d.issuer("ofsted")
	signIn := func(sub, email string) portal.Actor {
		t.Helper()
		a, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "ofsted", Issuer: ofsted, Subject: sub, Email: email})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	op := portal.OperatorActor("test", "admin")
	grant := func(g portal.RoleGrant) {
		t.Helper()
		g.Role, g.Issuer = "administrator", ofsted
		if err := portal.GrantRole(ctx, d.svc.Store(), op, g); err != nil {
			t.Fatal(err)
		}
	}
	revoke := func(g portal.RoleGrant) error {
		g.Role, g.Issuer = "administrator", ofsted
		return portal.RevokeRole(ctx, d.svc.Store(), op, g)
	}
	grant(portal.RoleGrant{Email: "leaving@ofsted.example"})
	grant(portal.RoleGrant{Subject: "sub-no-email-1"})
	grant(portal.RoleGrant{Subject: "sub-no-email-2"})
	if !signIn("sub-leaving", "leaving@ofsted.example").Administrator || !signIn("sub-no-email-1", "").Administrator || !signIn("sub-no-email-2", "").Administrator {
		t.Fatal("the grants did not bind")
	}
	// Granted by email, revoked by the subject it bound to.
	if err := revoke(portal.RoleGrant{Subject: "sub-leaving"}); err != nil {
		t.Fatal(err)
	}
	if signIn("sub-leaving", "leaving@ofsted.example").Administrator {
		t.Error("still an administrator after the role was revoked")
	}
	if err := revoke(portal.RoleGrant{Email: "Leaving@ofsted.example"}); err == nil || !strings.Contains(err.Error(), "holds no administrator role") {
		t.Errorf("revoking a role not held: %v", err)
	}
	// Granted by subject, revoked by subject: the other person without an
	// email keeps theirs.
	if err := revoke(portal.RoleGrant{Subject: "sub-no-email-1"}); err != nil {
		t.Fatal(err)
	}
	if signIn("sub-no-email-1", "").Administrator || !signIn("sub-no-email-2", "").Administrator {
		t.Error("revoking one person without an email: the wrong one lost the role")
	}
	var n int
	if err := d.svc.Store().DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE action = ?`, "portal_role.revoked").Scan(&n); err != nil || n != 2 {
		t.Errorf("%d portal_role.revoked records (%v), want 2", n, err)
	}
	for _, bad := range []portal.RoleGrant{{Role: "administrator", Issuer: ofsted}, {Role: "inspector", Issuer: ofsted, Subject: "s"}} {
		if err := portal.RevokeRole(ctx, d.svc.Store(), op, bad); err == nil {
			t.Errorf("revoke %+v accepted", bad)
		}
	}
}
