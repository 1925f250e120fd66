package portal_test

import (
	"context"
	"testing"

	"github.com/ofsted-portal/evidence/portal"
)

// TestSignInNeedsIssuerAndSubject: a person is keyed by issuer and subject,
// so a sign-in without a subject, or with an issuer other than the named
// provider's, is refused and writes nothing: everyone a provider sent
// without a subject would otherwise be one user.
func TestSignInNeedsIssuerAndSubject(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	count := func() int {
		var n int
		if err := d.svc.Store().DB().QueryRow(`SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	for _, id := range []portal.Identity{
		{IdP: "ofsted", Issuer: d.issuer("ofsted"), Email: "lead@ofsted.example"},
		{IdP: "ofsted", Subject: "sub-lead", Email: "lead@ofsted.example"},
		{IdP: "ofsted", Issuer: d.issuer("cafcass"), Subject: "sub-lead", Email: "lead@ofsted.example"},
	} {
		_, err := d.svc.SignIn(ctx, portal.Actor{Via: "test"}, id)
		if e, ok := portal.AsError(err); !ok || e.Kind != portal.KindInvalid {
			t.Errorf("sign-in as %+v: %v, want it refused as invalid", id, err)
		}
	}
	if n := count(); n != before {
		t.Fatalf("users %d -> %d", before, n)
	}
}
