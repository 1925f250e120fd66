package portal

import (
	"context"
	"strings"

	"github.com/ofsted-portal/evidence/policy"
)

// The web door verifies a person with their identity provider; the domain
// records who they are, binds the memberships and roles granted to their
// email, and writes the sign-in, its refusals and sign-out to the trail.

// idp returns the configured identity provider by name.
func (s *Service) idp(name string) (IdPConfig, bool) {
	for _, p := range s.cfg.IdPs {
		if p.Name == name {
			return p, true
		}
	}
	return IdPConfig{}, false
}

// bindableRoles are the visit roles an email from this provider may claim.
func bindableRoles(p IdPConfig) []string {
	var out []string
	for _, r := range policy.Roles {
		if policy.IsProviderRole(r) == (p.Organisation == OrgProvider) {
			out = append(out, r)
		}
	}
	return out
}

// Identity is what an identity provider said about a person it verified.
type Identity struct {
	IdP     string // the provider's configured name
	Issuer  string
	Subject string
	Email   string // "" when not given or not verified: it binds nothing
	Name    string
}

// SignIn records a verified sign-in from: the person keyed by (issuer,
// subject), their pending memberships and roles bound by email, and the
// record. It returns the person as an actor.
func (s *Service) SignIn(ctx context.Context, from Actor, id Identity) (Actor, error) {
	p, ok := s.idp(id.IdP)
	if !ok {
		return Actor{}, invalid("idp", "Unknown identity provider.")
	}
	email := strings.ToLower(id.Email)
	display := id.Name
	if display == "" {
		display = id.Email
	}
	a := from
	a.Issuer, a.Subject, a.Email = id.Issuer, id.Subject, email
	rec := s.actorRec(a, "signin", "", "success", map[string]any{"idp": id.IdP})
	u, err := s.store.SignIn(ctx, id.Issuer, id.Subject, email, display, bindableRoles(p), s.now(), rec)
	if err != nil {
		return Actor{}, err
	}
	return s.User(ctx, u.ID, from)
}

// RecordSignInFailure records a refused or failed sign-in at the named
// provider, with the reason (never a token or code).
func (s *Service) RecordSignInFailure(ctx context.Context, from Actor, idpName, reason string) error {
	rec := s.actorRec(from, "signin", "", "failure", map[string]any{"idp": idpName, "reason": reason})
	if p, ok := s.idp(idpName); ok {
		rec.ActorIssuer = p.Issuer
	}
	return s.store.Audit(ctx, rec)
}

// RecordSignOut records that a signed-in person signed out.
func (s *Service) RecordSignOut(ctx context.Context, a Actor) error {
	if !a.SignedIn() {
		return nil
	}
	rec := s.actorRec(a, "signout", "", "success", nil)
	rec.Role = ""
	return s.store.Audit(ctx, rec)
}
