package portal

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// An identity provider can end a person's portal sessions by OpenID Connect
// Back-Channel Logout 1.0: it posts a signed logout token, which the web
// door verifies, naming the provider's session (sid) the person signed in
// under, or the person (sub), or both. A token naming a sid ends the
// sessions signed in under that provider session (of that person, when it
// names one too); a token naming only the person ends every session of
// theirs, as a disable does, without refusing their next sign-in. Either
// way the sessions end on every instance at their next request, each
// ending is recorded as the person's sign-out saying the provider ended
// it, and the token cannot be used again (ErrLogoutTokenUsed). A token
// that names no one the portal knows ends nothing and records nothing.

// ErrLogoutTokenUsed is the refusal of a logout token already used (a
// replay): nothing is ended.
var ErrLogoutTokenUsed = errors.New("portal: the logout token has been used already")

// LogoutToken is what a verified logout token says.
type LogoutToken struct {
	IdP     string // the provider's configured name
	Issuer  string
	Subject string // "" when the token names the provider's session only
	SID     string // "" when it names the person only
	JTI     string
	// IssuedAt is when the provider issued the token (its iat).
	IssuedAt time.Time
	// KeepUntil is when the token would be refused as old anyway: until
	// then its use is remembered, so that a replay is refused.
	KeepUntil time.Time
}

// personKey is the key of the person a logout token names, as the store
// keeps it with the token (store.Logout).
func personKey(issuer, subject string) string { return idpDigest("sub", issuer, subject) }

// IdPSessionKey is the key of the identity provider's session (the ID
// token's sid) that a session records at sign-in (store.WithIdPSession):
// a digest, so the database holds no identifier of the provider's.
func IdPSessionKey(issuer, sid string) string { return idpDigest("sid", issuer, sid) }

func idpDigest(kind, issuer, value string) string {
	h := sha256.New()
	for _, s := range []string{kind, issuer, value} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// idpLogoutDetail is what the trail says of a session the provider ended.
const idpLogoutDetail = "ended by the identity provider (back-channel logout)"

// BackChannelLogout ends the sessions t names, recording each ending, from
// the provider's request from. It reports whether anything was ended: a
// token for a person or provider session the portal does not know is not
// an error, and ends nothing.
func (s *Service) BackChannelLogout(ctx context.Context, from Actor, t LogoutToken) (bool, error) {
	if t.Issuer == "" || t.JTI == "" || t.Subject == "" && t.SID == "" {
		return false, errors.New("portal: a logout token names its issuer, its jti, and a subject or a session")
	}
	l := store.Logout{TokenKey: idpDigest("jti", t.Issuer, t.JTI), KeepUntil: t.KeepUntil, IssuedAt: t.IssuedAt}
	if t.Subject != "" {
		l.Person = personKey(t.Issuer, t.Subject)
	}
	if t.SID != "" {
		l.IdPSession = IdPSessionKey(t.Issuer, t.SID)
	}
	// What the token ended is kept as long as a session signed in under
	// it could live: a transfer in flight under the ended provider
	// session stops at its next recheck (actorNow), and a sign-in the
	// provider ended before the portal saved it is ended then
	// (CheckProviderSession).
	if until := t.IssuedAt.Add(s.cfg.SessionLifetime); until.After(l.KeepUntil) {
		l.KeepUntil = until
	}
	var err error
	var ended bool
	if t.SID != "" {
		var n int
		n, err = s.store.EndIdPSessions(ctx, l, s.now(), func(data []byte) ([]store.AuditRecord, bool, error) {
			return s.idpSessionEnding(ctx, l, t.Issuer, data, from, t.IdP)
		})
		ended = n > 0
	} else {
		ended, err = s.store.EndUserSessions(ctx, l, t.Issuer, t.Subject, s.now(), func(u store.User) []store.AuditRecord {
			a := requestActor(from)
			a.UserID, a.Issuer, a.Subject, a.Email = u.ID, u.Issuer, u.Subject, u.Email
			d := map[string]any{"session": idpLogoutDetail, "idp": t.IdP, "sessions": "every session"}
			rec := s.actorRec(a, "signout", "", "success", d)
			rec.Role = ""
			return []store.AuditRecord{rec}
		})
	}
	if errors.Is(err, store.ErrLogoutTokenUsed) {
		return false, ErrLogoutTokenUsed
	}
	return ended, err
}

// idpSessionEnding decides whether the logout l, of the provider named
// idp whose issuer is issuer, ends the session data, signed in under the
// provider session l names, and describes the ending (from) for the trail.
// The janitor knows neither ("": the key of the provider session names
// its issuer, and the provider is the one the person signs in with).
func (s *Service) idpSessionEnding(ctx context.Context, l store.Logout, issuer string, data []byte, from Actor, idp string) ([]store.AuditRecord, bool, error) {
	a, err := s.User(ctx, sessionUser(data), from)
	switch {
	case err != nil:
		return nil, false, err
	case !a.SignedIn():
		return nil, true, nil // nobody's now: it ends, with nobody to record
	case issuer != "" && a.Issuer != issuer || l.Person != "" && personKey(a.Issuer, a.Subject) != l.Person:
		return nil, false, nil // another person's: the token names its subject
	}
	for _, p := range s.cfg.IdPs {
		if idp == "" && p.Issuer == a.Issuer {
			idp = p.Name
		}
	}
	rec := s.actorRec(a, "signout", "", "success", map[string]any{"session": idpLogoutDetail, "idp": idp})
	rec.Role = ""
	return []store.AuditRecord{rec}, true, nil
}

// endLoggedOutSessions ends the sessions a logout left live (its second
// look at the sessions failed once its token was taken), as the logout
// would have: the janitor's round (store.EndLoggedOutSessions).
func (s *Service) endLoggedOutSessions(ctx context.Context) error {
	_, err := s.store.EndLoggedOutSessions(ctx, s.now(), func(l store.Logout, data []byte) ([]store.AuditRecord, bool, error) {
		return s.idpSessionEnding(ctx, l, "", data, Actor{Via: "janitor"}, "")
	})
	return err
}

// ErrProviderSignedOut is the refusal of a sign-in whose session the
// identity provider ended (a back-channel logout) while the portal was
// finishing it: the session saved for it has been ended again.
var ErrProviderSignedOut = errors.New("portal: the identity provider ended the session being signed in")

// CheckProviderSession ends a new session of a's (signed in under the
// provider's session a.IdPSession, "" for none, with an ID token issued at
// issuedAt, from the provider named idpName) if a logout token ended it
// before it was saved: one naming that provider session, or one naming the
// person issued at or after the ID token. The web door asks once the
// session is saved, and ends it unless the answer is nil: so a logout
// either finds the saved session or is found here (store.LoggedOutSince).
// The ending is recorded as the person's sign-out by the provider, and is
// ErrProviderSignedOut. An error reading is returned as it is: the session
// ends all the same.
func (s *Service) CheckProviderSession(ctx context.Context, a Actor, idpName string, issuedAt time.Time) error {
	ended, err := s.store.LoggedOutSince(ctx, a.IdPSession, personKey(a.Issuer, a.Subject), issuedAt)
	if err != nil {
		return err
	}
	if !ended {
		return nil
	}
	if err := s.recordSignOut(ctx, a, map[string]any{"session": idpLogoutDetail, "idp": idpName}); err != nil {
		return err
	}
	return ErrProviderSignedOut
}
