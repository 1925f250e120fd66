package portal

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ofsted-portal/evidence/portal/store"
)

// A person can be disabled on the server (portal admin disable): every
// session of theirs ends at its next request, on every instance, and their
// sign-in is refused until they are enabled again. It is decided where a
// session becomes an actor (SessionActor, SignIn), before any policy: a
// disabled person is nobody the policy is asked about, as an unknown one
// is not.

// ErrDisabled is the refusal of a disabled person: of their sign-in
// (SignIn) and of every request of a session they had (SessionActor).
// The web door answers it with a page saying their access is disabled and
// whom to contact.
var ErrDisabled = &Error{Kind: KindForbidden, Code: "access_disabled", Msg: "Your access to the portal has been disabled."}

// ErrSessionEnded is SessionActor's answer for a session that ended when
// its person was disabled (enabled again since), or when their identity
// provider ended every session of theirs (BackChannelLogout): the session
// is over, and the person signs in again.
var ErrSessionEnded = errors.New("portal: the session has ended")

// Person names a person as the command line does: the issuer they sign in
// from, and their email or (for providers that give none) their subject.
type Person struct {
	Issuer, Email, Subject string
}

func (p Person) check() error {
	if p.Issuer == "" || (p.Email == "") == (p.Subject == "") {
		return errors.New("give the issuer, and either the email or the subject")
	}
	return nil
}

// who is the person as messages name them.
func (p Person) who() string {
	if p.Email != "" {
		return strings.ToLower(p.Email)
	}
	return "subject " + p.Subject
}

func (p Person) detail() map[string]any {
	d := map[string]any{"issuer": p.Issuer}
	if p.Email != "" {
		d["email"] = strings.ToLower(p.Email)
	} else {
		d["subject"] = p.Subject
	}
	return d
}

// DisableUser disables the person who signs in from p's issuer with p's
// email or subject (every user that names, should their subject have
// changed at the provider), recorded user.disabled by a: every session of
// theirs ends at once, on every instance (its row is removed, and one
// signed in as it happens ends at its next request), and sign-in is
// refused until EnableUser. It reports whether anyone was newly disabled
// (false: they were disabled already, and their sessions have been ended
// again). A person who has never signed in cannot be disabled: that says so.
func DisableUser(ctx context.Context, st *store.Store, a Actor, p Person) (newly bool, err error) {
	if err := p.check(); err != nil {
		return false, err
	}
	rec := operatorRec(a, "user.disabled", p.detail())
	n, err := st.DisableUsers(ctx, p.Issuer, strings.ToLower(p.Email), p.Subject, rec.Time, sessionUser, rec)
	if errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("nobody has signed in from %s as %s: nothing disabled (remove their memberships and grants instead)", p.Issuer, p.who())
	}
	return n > 0, err
}

// EnableUser lets a disabled person sign in again, recorded user.enabled by
// a. Their sessions ended by the disable stay ended. Enabling a person who
// is not disabled fails saying so.
func EnableUser(ctx context.Context, st *store.Store, a Actor, p Person) error {
	if err := p.check(); err != nil {
		return err
	}
	err := st.EnableUsers(ctx, p.Issuer, strings.ToLower(p.Email), p.Subject, operatorRec(a, "user.enabled", p.detail()))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("nobody has signed in from %s as %s: nothing enabled", p.Issuer, p.who())
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("%s at %s is not disabled: nothing enabled", p.who(), p.Issuer)
	}
	return err
}

// SessionActor is User for a request's session: the person signed in to it
// under session epoch epoch. The person is read in the one statement every
// signed-in request makes. A disabled person is ErrDisabled, and a session
// signed in under an earlier epoch (its person disabled since) is
// ErrSessionEnded; either way the actor returned is nobody signed in, and
// the session is to be ended. A person who cannot be read is an error:
// never signed in without the check.
func (s *Service) SessionActor(ctx context.Context, userID string, epoch int64, from Actor) (Actor, error) {
	a, u, err := s.userActor(ctx, userID, from)
	switch {
	case err != nil || u.ID == "":
		return a, err
	case !u.DisabledAt.IsZero():
		return requestActor(from), ErrDisabled
	case u.SessionEpoch != epoch:
		return requestActor(from), ErrSessionEnded
	}
	return a, nil
}

// actorNow is a as their person now stands, for a decision taken again
// during a long request (a download or an upload of minutes: stillMay,
// recheck): a person disabled since, or whose sessions were ended (every
// one of theirs, or the one the request came with: signed out, timed
// out, or ended by their identity provider, a back-channel logout by sid
// as by sub), is refused, and a
// portal role revoked since is gone. An actor who is no signed-in person
// (an operator, the portal) is as it was.
func (s *Service) actorNow(ctx context.Context, a Actor) (Actor, error) {
	if !a.SignedIn() {
		return a, nil
	}
	now, err := s.SessionActor(ctx, a.UserID, a.SessionEpoch, a)
	if errors.Is(err, ErrSessionEnded) {
		return now, errNotSignedIn
	}
	if err != nil {
		return now, err
	}
	if a.IdPSession != "" {
		ended, err := s.store.IdPSessionEnded(ctx, a.IdPSession, personKey(a.Issuer, a.Subject))
		if err != nil {
			return requestActor(a), err
		}
		if ended {
			return requestActor(a), errNotSignedIn
		}
	}
	if a.Session != "" {
		// The request's own session: ended by sign-out, or past its idle
		// or absolute deadline; the transfer is activity, and moves its
		// idle deadline on.
		live, err := s.store.Sessions(s.now).Hold(ctx, a.Session, s.cfg.SessionIdle, a.SessionUntil)
		if err != nil {
			return requestActor(a), err
		}
		if !live {
			return requestActor(a), errNotSignedIn
		}
	}
	return now, nil
}
