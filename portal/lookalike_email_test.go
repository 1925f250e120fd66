package portal_test

import (
	"context"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestLookalikeEmailsBindNothing: PostgreSQL compares the emails of
// invitations and grants under a collation that takes "ａｄｍｉｎ" (full
// width), "admin\u00ad" (a soft hyphen) and "admin" for one address,
// where the portal's own checks (yourself, the same person) compare them
// strictly. An administrator on no visit invited a look-alike of their
// own address as lead inspector, and the next sign-in bound it to them:
// they could read the evidence policy refuses administrators. An
// invitation must now be plain letters, digits and symbols, and an email
// a provider vouches for that is not binds nothing.
func TestLookalikeEmailsBindNothing(t *testing.T) {
	ctx := context.Background()
	d := startDomain(t)
	v := d.demo()
	admin := d.person("ofsted", "admin@ofsted.example")
	for _, email := range []string{"ａｄｍｉｎ@ofsted.example", "admin\u00ad@ofsted.example", "admin\u200b@ofsted.example", "ad\u212aein@ofsted.example"} {
		_, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: email, Role: policy.RoleLeadInspector})
		if kindOf(err) != portal.KindInvalid {
			t.Errorf("an invitation of %q: %v, want it refused as invalid", email, err)
		}
	}
	// Invited by a plain address; a look-alike vouched for by the provider
	// does not take it up.
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "new.inspector@ofsted.example", Role: policy.RoleInspector}); err != nil {
		t.Fatal(err)
	}
	other := d.person("ofsted", "ｎｅｗ.inspector@ofsted.example")
	if _, err := d.svc.Authorize(ctx, other, policy.VisitView, v.ID, ""); err == nil {
		t.Error("a look-alike of an invited address took up the invitation")
	}
	// Nor one that lowering makes plain: the Kelvin sign is a "k" in
	// lower case.
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "kate@ofsted.example", Role: policy.RoleInspector}); err != nil {
		t.Fatal(err)
	}
	kelvin := d.person("ofsted", "\u212aate@ofsted.example")
	if _, err := d.svc.Authorize(ctx, kelvin, policy.VisitView, v.ID, ""); err == nil {
		t.Error("an address with a Kelvin sign took up the invitation of the address it lowers to")
	}
	// Nor an invitation of a look-alike stored before addresses had to
	// be plain.
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "old.invite@ofsted.example", Role: policy.RoleLeadInspector}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Store().DB().Exec(`UPDATE members SET email = ? WHERE email = ?`, "ａｄｍｉｎ@ofsted.example", "old.invite@ofsted.example"); err != nil {
		t.Fatal(err)
	}
	again := d.person("ofsted", "admin@ofsted.example")
	if _, err := d.svc.Authorize(ctx, again, policy.FileList, v.ID, ""); err == nil {
		t.Error("an invitation of a look-alike of the administrator's address, stored before, bound to the administrator")
	}
}
