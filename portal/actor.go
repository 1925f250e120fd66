package portal

import (
	"context"
	"errors"

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

// SignedIn reports whether the actor is a signed-in person.
func (a Actor) SignedIn() bool { return a.UserID != "" }

// SystemActor is the portal acting on its own (sweeps, demo seeding).
func SystemActor() Actor { return Actor{System: true, Subject: "portal"} }

// OperatorActor is a person running a command on the server.
func OperatorActor(name, command string) Actor {
	if name == "" {
		name = "unknown"
	}
	return Actor{Operator: name, Subject: "operator:" + name, Via: command}
}

// User returns the person signed in as userID, with their portal role, and
// where the request came from. An unknown user (deleted, or a stale
// session) is an actor who is not signed in.
func (s *Service) User(ctx context.Context, userID string, from Actor) (Actor, error) {
	a := Actor{ClientIP: from.ClientIP, UserAgent: from.UserAgent, RequestID: from.RequestID, Via: from.Via}
	if userID == "" {
		return a, nil
	}
	u, err := s.store.User(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return a, nil
	}
	if err != nil {
		return a, err
	}
	a.UserID, a.Issuer, a.Subject, a.Email, a.Name = u.ID, u.Issuer, u.Subject, u.Email, u.Name
	if a.Administrator, err = s.store.HasPortalRole(ctx, u.ID, store.RoleAdministrator); err != nil {
		return a, err
	}
	return a, nil
}
