package portal

import (
	"context"
	"errors"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// Actor is who does an act, and where it comes from: a signed-in person (the
// web door), an operator on the server (the command line), or the portal
// itself (scheduled work). The domain decides and records every act from
// it; the doors only say who is asking.
type Actor struct {
	UserID        string // the signed-in person; "" when nobody is signed in
	Issuer        string
	Subject       string
	Email         string
	Name          string
	Administrator bool // holds the portal-wide administrator role
	// SessionEpoch is the person's session epoch as read with them: the
	// web door keeps it in a new session (SessionActor).
	SessionEpoch int64
	// IdPSession is the key of the identity provider's session the
	// person's portal session was signed in under (IdPSessionKey), ""
	// for none: a back-channel logout that ends it ends the session and
	// stops its transfers in flight (actorNow). The web door gives it
	// with the request; it is kept only for a signed-in person.
	IdPSession string
	// Session is the key the portal session the request came with is
	// stored under ("" for none): a transfer in flight stops once that
	// session has ended (signed out, past its lifetime), and moves its
	// idle deadline on while it runs (actorNow). Never logged nor
	// recorded.
	Session string `json:"-"`
	// SessionUntil is that session's absolute deadline (zero: none).
	SessionUntil time.Time `json:"-"`

	// Operator names a person acting on the server itself (portal admin
	// grant, key rotate); the audit trail records "operator:<name>".
	Operator string
	// System marks the portal's own scheduled work.
	System bool

	ClientIP  string
	UserAgent string
	RequestID string
	Via       string // the route or command, for refusal records
}

// PersonName is how a person is shown: their email, else their name, else
// "subject @ issuer" (providers need not give either).
func PersonName(email, name, subject, issuer string) string {
	switch {
	case email != "":
		return email
	case name != "":
		return name
	case subject != "":
		return subject + " @ " + issuer
	}
	return "unknown person"
}

// Display is how pages show the actor (PersonName).
func (a Actor) Display() string {
	if a.Operator != "" && a.UserID == "" {
		return "operator " + a.Operator
	}
	return PersonName(a.Email, a.Name, a.Subject, a.Issuer)
}

// SignedIn reports whether the actor is a signed-in person.
func (a Actor) SignedIn() bool { return a.UserID != "" }

// known reports whether the actor is someone policy can decide for: a
// signed-in person or an operator on the server.
func (a Actor) known() bool { return a.UserID != "" || a.Operator != "" }

// principalID names the actor to policy.
func (a Actor) principalID() string {
	if a.UserID == "" && a.Operator != "" {
		return "operator:" + a.Operator
	}
	return a.UserID
}

// SystemActor is the portal acting on its own (sweeps, demo seeding).
func SystemActor() Actor { return Actor{System: true, Subject: "portal"} }

// OperatorActor is a person running a command on the server. Policy treats
// an operator as an administrator who is a member of no visit: the server's
// own shell is where administrators are made.
func OperatorActor(name, command string) Actor {
	if name == "" {
		name = "unknown"
	}
	return Actor{Operator: name, Subject: "operator:" + name, Administrator: true, Via: command}
}

// User returns the person signed in as userID, with their portal role, and
// where the request came from. An unknown user (deleted, or a stale
// session) is an actor who is not signed in.
func (s *Service) User(ctx context.Context, userID string, from Actor) (Actor, error) {
	a, _, err := s.userActor(ctx, userID, from)
	return a, err
}

// userActor is User with the person's row (zero when there is none).
func (s *Service) userActor(ctx context.Context, userID string, from Actor) (Actor, store.User, error) {
	a := requestActor(from)
	if userID == "" {
		return a, store.User{}, nil
	}
	u, admin, err := s.store.UserWithPortalRole(ctx, userID, store.RoleAdministrator)
	if errors.Is(err, store.ErrNotFound) {
		return a, store.User{}, nil
	}
	if err != nil {
		return a, store.User{}, err
	}
	a.UserID, a.Issuer, a.Subject, a.Email, a.Name, a.Administrator = u.ID, u.Issuer, u.Subject, u.Email, u.Name, admin
	a.SessionEpoch, a.IdPSession, a.Session, a.SessionUntil = u.SessionEpoch, from.IdPSession, from.Session, from.SessionUntil
	return a, u, nil
}

// requestActor is nobody signed in, from where from's request came.
func requestActor(from Actor) Actor {
	return Actor{ClientIP: from.ClientIP, UserAgent: from.UserAgent, RequestID: from.RequestID, Via: from.Via}
}
