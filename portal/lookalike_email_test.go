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
}
