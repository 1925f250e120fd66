package portal

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ofsted-portal/evidence/portal/store"
)

// One person, one membership of a visit. The schema lets two rows stand
// for one person: one bound to their identity (issuer and subject), and
// one bound, or waiting to be bound, by an email address (a row from
// before bindings were checked, or their address changed at their
// identity provider after they signed in, and an administrator added the
// new one). Which of two applies never depends on the rows' order: the
// one bound to the person's identity does; two bound alike that give the
// same role and dates are one; two that differ give no access, with a
// reason, and the members page shows administrators both, to remove one.
// An administrator cannot add the second.

// errDuplicateMembership refuses a person whose two memberships of a
// visit give different access.
var errDuplicateMembership = &Error{Kind: KindForbidden, Code: "duplicate_membership",
	Msg: "You have two memberships of this visit, with different roles or dates, so the portal cannot tell which applies. Ask an administrator to remove the wrong one: the visit's members page shows both."}

// membershipOf is the membership of v that applies to a among those
// bound to them (zero for none). Before the notification call the visit
// does not exist for the provider's staff, not even its reference: a
// provider's membership is then none, and cannot make a refusal.
//
// Nor does a membership whose role the person's organisation may not hold
// (mayHold): one bound before their identity provider's organisation was
// put right, say. Binding takes only the roles it may hold; this holds
// for those bound before.
func (s *Service) membershipOf(a Actor, v store.Visit, ms []store.Member) (store.Member, error) {
	hidden := func(m store.Member) bool { return s.unannounced(v, m) || !s.mayHold(a, m.Role) }
	if slices.ContainsFunc(ms, hidden) {
		ms = slices.DeleteFunc(slices.Clone(ms), hidden)
	}
	switch len(ms) {
	case 0:
		return store.Member{}, nil
	case 1:
		return ms[0], nil
	}
	var own []store.Member
	for _, m := range ms {
		if m.Subject != "" && m.Issuer == a.Issuer && m.Subject == a.Subject {
			own = append(own, m)
		}
	}
	if len(own) > 0 {
		ms = own
	}
	for _, m := range ms[1:] {
		if m.Role != ms[0].Role || !m.ValidFrom.Equal(ms[0].ValidFrom) || !m.ValidUntil.Equal(ms[0].ValidUntil) {
			return store.Member{}, errDuplicateMembership
		}
	}
	return ms[0], nil
}

// mayHold says whether a's organisation, as their identity provider is
// configured, may hold role on a visit: provider staff the provider's
// roles, the inspectorate's people the others; nobody whose provider is
// not configured.
func (s *Service) mayHold(a Actor, role string) bool {
	for _, p := range s.cfg.IdPs {
		if p.Issuer == a.Issuer {
			return p.MayHold(role)
		}
	}
	return false
}

// refuseDuplicate records the refusal of a person with two memberships
// that differ, naming both for the administrators.
func (acc *Access) refuseDuplicate(ctx context.Context, ms []store.Member, refusal error) error {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	rec := acc.rec("request.denied", "", "denied", map[string]any{"rule": "duplicate-membership", "members": ids, "route": acc.Actor.Via})
	if err := acc.svc.store.Audit(context.WithoutCancel(ctx), rec); err != nil {
		return acc.svc.dbErr(ctx, "audit", err)
	}
	acc.svc.log.Warn("two memberships of one person differ: refused", "visit", acc.Visit.ID, "user", acc.Actor.UserID, "members", ids)
	return refusal
}

// memberDuplicates pairs each membership of a visit with another of the
// same person, by id: two bound to one user, or one waiting for an
// address that a bound member's identity provider now gives them (it
// would never bind: sign-in binds no address of someone already a
// member).
func memberDuplicates(ms []store.Member) map[string]string {
	dup := map[string]string{}
	pair := func(a, b string) {
		if dup[a] == "" {
			dup[a] = b
		}
		if dup[b] == "" {
			dup[b] = a
		}
	}
	byUser, byEmail := map[string]string{}, map[string]string{}
	for _, m := range ms {
		if m.UserID == "" {
			continue
		}
		if other, ok := byUser[m.UserID]; ok {
			pair(other, m.ID)
		} else {
			byUser[m.UserID] = m.ID
		}
		if m.UserEmail != "" {
			byEmail[strings.ToLower(m.UserEmail)] = m.ID
		}
	}
	for _, m := range ms {
		if m.UserID != "" || m.Email == "" {
			continue
		}
		if other, ok := byEmail[strings.ToLower(m.Email)]; ok {
			pair(other, m.ID)
		}
	}
	return dup
}

// identityRow is the membership that a change to m would change: the one
// with m's issuer and subject, or else m's email.
func identityRow(ms []store.Member, m store.Member) (store.Member, bool) {
	for _, o := range ms {
		if m.Subject != "" && o.Subject == m.Subject && o.Issuer == m.Issuer ||
			m.Subject == "" && m.Email != "" && strings.EqualFold(o.Email, m.Email) {
			return o, true
		}
	}
	return store.Member{}, false
}

// samePerson refuses a new membership by email for a person who is a
// member already, bound to an identity whose provider now gives that
// address.
func samePerson(ms []store.Member, m store.Member) error {
	if m.Email == "" {
		return nil
	}
	for _, o := range ms {
		if o.UserID != "" && strings.EqualFold(o.UserEmail, m.Email) {
			return invalid("email", fmt.Sprintf("%s is already a member of this visit as %s, %s: they signed in with this address. Change that membership rather than add them twice.",
				m.Email, PersonName(o.Email, o.Name, o.Subject, o.Issuer), strings.ReplaceAll(o.Role, "_", " ")))
		}
	}
	return nil
}
