package portal

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
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
		if p.MayHold(r) {
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
	// The person is keyed by issuer and subject: without a subject,
	// everyone the provider sent would be one user; and an issuer not the
	// provider's would bind what was granted at another.
	if id.Subject == "" || id.Issuer != p.Issuer {
		return Actor{}, invalid("subject", "The identity provider did not say who signed in.")
	}
	// Lowered only when plain: lowering makes some letters of other
	// scripts ASCII (the Kelvin sign a "k"), and such an address binds
	// nothing (store.PlainEmail).
	email := id.Email
	if store.PlainEmail(email) {
		email = strings.ToLower(email)
	} else if email != "" {
		s.log.Warn("sign-in: the provider's email is not plain ASCII: it binds no invitation by email", "idp", id.IdP)
	}
	display := id.Name
	if display == "" {
		display = id.Email
	}
	a := from
	a.Issuer, a.Subject, a.Email = id.Issuer, id.Subject, email
	rec := s.actorRec(a, "signin", "", "success", map[string]any{"idp": id.IdP})
	u, err := s.store.SignIn(ctx, id.Issuer, id.Subject, email, display, bindableRoles(p), s.now(), rec)
	if errors.Is(err, store.ErrUserDisabled) {
		return Actor{}, ErrDisabled
	}
	if err != nil {
		return Actor{}, err
	}
	a, err = s.User(ctx, u.ID, from)
	if err == nil && a.SessionEpoch != u.SessionEpoch {
		// Disabled between the two reads: the session would be born ended.
		return Actor{}, ErrDisabled
	}
	return a, err
}

// RecordSignInFailure records a refused or failed sign-in at the named
// provider, with the reason (never a token or code). It is recorded even
// if its request has ended (the browser hung up): hanging up must not
// keep an attempt out of the trail.
func (s *Service) RecordSignInFailure(ctx context.Context, from Actor, idpName, reason string) error {
	rec := s.actorRec(from, "signin", "", "failure", map[string]any{"idp": idpName, "reason": reason})
	if p, ok := s.idp(idpName); ok {
		rec.ActorIssuer = p.Issuer
	}
	return s.store.Audit(context.WithoutCancel(ctx), rec)
}

// RecordSignOut records that a signed-in person signed out.
func (s *Service) RecordSignOut(ctx context.Context, a Actor) error {
	return s.recordSignOut(ctx, a, nil)
}

// RecordSessionReplaced records the end of a person's session by another
// sign-in in the same browser (a shared computer: someone signs in without
// the last person having signed out): a sign-out in their name, saying so.
func (s *Service) RecordSessionReplaced(ctx context.Context, a Actor) error {
	return s.recordSignOut(ctx, a, map[string]any{"session": "replaced by another sign-in"})
}

// RecordSessionNotSaved records the end of a's session that was never
// saved: their sign-in was recorded as the provider's answer was
// verified, and the session it made could not be stored (the database
// busy or gone), so the person holds none.
func (s *Service) RecordSessionNotSaved(ctx context.Context, a Actor) error {
	return s.recordSignOut(ctx, a, map[string]any{"session": "not saved: the sign-in did not finish"})
}

// RecordSessionEndedBySignIn records that a's session ended when a sign-in
// in the same browser failed (which ends it, as one that succeeds does).
func (s *Service) RecordSessionEndedBySignIn(ctx context.Context, a Actor) error {
	return s.recordSignOut(ctx, a, map[string]any{"session": "ended by a sign-in that failed"})
}

func (s *Service) recordSignOut(ctx context.Context, a Actor, detail map[string]any) error {
	if !a.SignedIn() {
		return nil
	}
	rec := s.actorRec(a, "signout", "", "success", detail)
	rec.Role = ""
	// The session has ended already: recorded even if the request has
	// too, so the trail never shows a session that did not end.
	return s.store.Audit(context.WithoutCancel(ctx), rec)
}

// EndedSignOut is a sign-out that arrives for a session the idle timeout
// has just ended (the page's own sign-out, a little late, or a request
// that was on its way): while the ended session is still held (until the
// janitor sweeps it), it is taken, the sign-out is recorded in place of
// its expiry, and its values (the provider, the sealed ID token) are
// returned so that the sign-out can end the provider's session too. The
// token is as the session store keys it. found is false when no ended
// session is held under it.
func (s *Service) EndedSignOut(ctx context.Context, from Actor, token string) (values map[string]any, found bool, err error) {
	data, found, err := s.store.Sessions(time.Now).TakeEnded(ctx, token, func(data []byte) ([]store.AuditRecord, error) {
		return s.endedSignOutRecords(ctx, from, data)
	})
	if err != nil && data != nil {
		// Its person could not be read for the record: the session is
		// left for the janitor (which records its expiry), and the
		// provider's session is ended all the same.
		s.log.Warn("sign-out of an ended session not recorded: left to expire", "err", err)
		found = true
	} else if err != nil || !found {
		return nil, false, err
	}
	_, values, err = SessionCodec{}.Decode(data)
	if err != nil {
		return nil, true, nil
	}
	return values, true, nil
}

// endedSignOutRecords records the sign-out of an ended session: by its
// person, from the request, saying that the session had already expired.
// The person unreadable (the database), the session is not taken: a
// session is not ended without its record.
func (s *Service) endedSignOutRecords(ctx context.Context, from Actor, data []byte) ([]store.AuditRecord, error) {
	uid := sessionUser(data)
	if uid == "" {
		return nil, nil
	}
	a, err := s.User(ctx, uid, from)
	if err != nil {
		return nil, err
	}
	if !a.SignedIn() {
		return nil, nil // nobody now: the person's row is gone
	}
	rec := s.actorRec(a, "signout", "", "success", map[string]any{"session": "expired"})
	rec.Role = ""
	return []store.AuditRecord{rec}, nil
}
