package portal

import (
	"cmp"
	"context"
	"errors"
	"net/mail"
	"sort"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
)

// MemberRequest adds a member or changes one: by email, or by issuer and
// subject; a role; optionally the access window (dates or RFC 3339 times).
type MemberRequest struct {
	Email      string `json:"email" form:"email"`
	Issuer     string `json:"issuer" form:"issuer"`
	Subject    string `json:"subject" form:"subject"`
	Role       string `json:"role" form:"role"`
	ValidFrom  string `json:"valid_from" form:"valid_from"`
	ValidUntil string `json:"valid_until" form:"valid_until"`
}

// MemberView is a member as shown to administrators.
type MemberView struct {
	ID         string     `json:"id"`
	Role       string     `json:"role"`
	Email      string     `json:"email,omitempty"`
	Issuer     string     `json:"issuer,omitempty"`
	Subject    string     `json:"subject,omitempty"`
	Name       string     `json:"name,omitempty"`
	Display    string     `json:"display"` // how pages show the person (PersonName)
	Bound      bool       `json:"bound"`
	ValidFrom  *time.Time `json:"valid_from,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
	// Duplicate is the id of another membership of the same person, when
	// there is one (memberDuplicates): administrators remove the wrong one.
	Duplicate string `json:"duplicate,omitempty"`
}

func memberView(m store.Member) MemberView {
	out := MemberView{ID: m.ID, Role: m.Role, Email: m.Email, Issuer: m.Issuer, Subject: m.Subject, Name: m.Name,
		Display: PersonName(m.Email, m.Name, m.Subject, m.Issuer), Bound: m.IsBound()}
	if !m.ValidFrom.IsZero() {
		out.ValidFrom = &m.ValidFrom
	}
	if !m.ValidUntil.IsZero() {
		out.ValidUntil = &m.ValidUntil
	}
	return out
}

// parseWhen accepts an RFC 3339 time or a date: the start of that day in
// London, as the default windows begin, whatever the season.
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := calendar.ParseDate(s)
	if err != nil {
		return d, err
	}
	return calendar.StartOfDay(d), nil
}

// parseUntil is parseWhen for the end of a window: a date is the last day
// of access, so access ends as the next day begins in London (23:59:59 on
// the date, on a 23- or 25-hour day too), as the default windows end. A
// person given access until 30 September has 30 September.
func parseUntil(s string) (time.Time, error) {
	if _, err := time.Parse(time.RFC3339, s); err == nil || s == "" {
		return parseWhen(s)
	}
	d, err := calendar.ParseDate(s)
	if err != nil {
		return d, err
	}
	return calendar.StartOfDay(d.AddDate(0, 0, 1)), nil
}

// The years a member's access dates may fall in (an end on 31 December
// 2099 is the first moment of 2100).
const (
	firstMemberYear = 2000
	lastMemberYear  = 2099
)

// CheckMember is what PutMember would refuse in req, if anything, checked
// without saving or reading anything: for a form that lists its errors at
// once.
func (s *Service) CheckMember(req MemberRequest) error {
	_, err := s.parseMember(req, "")
	return err
}

// maxMemberSubject is the longest subject OpenID Connect allows (Core
// section 2: 255 ASCII characters), the most sign-in takes.
const maxMemberSubject = 255

// validSubject refuses a subject an administrator should not name: one
// longer than sign-in takes, or with control or text-direction characters
// (which would make one person read as another on the members page and
// in the trail), or with spaces around it (which would bind nobody: no
// provider's subject has them).
func validSubject(sub string) error {
	if err := validText("subject", sub, maxMemberSubject); err != nil {
		return err
	}
	if len(sub) > maxMemberSubject {
		return invalidf("subject", "The subject must be %d characters or fewer.", maxMemberSubject)
	}
	if strings.TrimSpace(sub) != sub {
		return invalid("subject", "The subject must not start or end with a space.")
	}
	return nil
}

// parseMember validates a member request into a store.Member.
func (s *Service) parseMember(req MemberRequest, visitID string) (store.Member, error) {
	m := store.Member{VisitID: visitID, Role: req.Role}
	if !policy.IsRole(req.Role) {
		return m, invalid("role", "The role must be one of: "+strings.Join(policy.Roles, ", ")+".")
	}
	switch {
	case req.Subject != "":
		if req.Issuer == "" {
			return m, invalid("subject", "Give both issuer and subject, or an email address.")
		}
		p, err := s.memberIssuer(req.Issuer, req.Role)
		if err != nil {
			return m, err
		}
		if err := validSubject(req.Subject); err != nil {
			return m, err
		}
		m.Issuer, m.Subject = p.Issuer, req.Subject
	case req.Email != "":
		addr, err := mail.ParseAddress(req.Email)
		if err != nil || addr.Address != strings.TrimSpace(req.Email) {
			return m, invalid("email", "Enter an email address in the correct format, like name@example.org.")
		}
		if !store.PlainEmail(addr.Address) {
			return m, invalid("email", "Enter an email address in plain letters, digits and symbols (no accents, spaces or letters of other scripts), like name@example.org.")
		}
		m.Email = strings.ToLower(addr.Address)
		// An email binds only from one issuer: people are keyed by
		// (issuer, subject), and another provider of the same
		// organisation may vouch for the same address.
		p, err := s.memberIssuer(req.Issuer, req.Role)
		if err != nil {
			return m, err
		}
		m.Issuer = p.Issuer
	case req.Issuer != "":
		return m, invalid("subject", "Give both issuer and subject, or an email address.")
	default:
		return m, invalid("email", "Give an email address, or an issuer and subject.")
	}
	var err error
	if m.ValidFrom, err = parseWhen(req.ValidFrom); err != nil {
		return m, invalid("valid_from", "valid_from must be a date (YYYY-MM-DD) or an RFC 3339 time.")
	}
	if m.ValidUntil, err = parseUntil(req.ValidUntil); err != nil {
		return m, invalid("valid_until", "valid_until must be a date (YYYY-MM-DD), the last day of access, or an RFC 3339 time.")
	}
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"valid_from", m.ValidFrom}, {"valid_until", m.ValidUntil}} {
		// A year far away is a typo, or "for ever" (31/12/9999), which the
		// store could not read back: the visit's members would not load.
		if !f.t.IsZero() && (f.t.Before(calendar.StartOfDay(calendar.Date(firstMemberYear, 1, 1))) || f.t.After(calendar.StartOfDay(calendar.Date(lastMemberYear+1, 1, 1)))) {
			return m, invalidf(f.name, "%s must be a date from %d to %d: leave it empty for the role's default.", f.name, firstMemberYear, lastMemberYear)
		}
	}
	if !m.ValidFrom.IsZero() && !m.ValidUntil.IsZero() && !m.ValidUntil.After(m.ValidFrom) {
		return m, invalid("valid_until", "valid_until must be after valid_from.")
	}
	return m, nil
}

// memberIssuer is the identity provider a member with this role is added
// for: the one with the issuer URL iss, whose organisation may hold the
// role, or when iss is "" the only provider that may.
func (s *Service) memberIssuer(iss, role string) (IdPConfig, error) {
	if iss != "" {
		p, ok := s.issuer(iss)
		if !ok {
			return p, invalid("issuer", "The issuer is not one of the portal's identity providers.")
		}
		// The same rule as sign-in's: a provider's issuer binds only the
		// roles its organisation may hold.
		if !p.MayHold(role) {
			return p, invalid("role", "People who sign in with "+p.DisplayName+" cannot have the role "+role+".")
		}
		return p, nil
	}
	serve := s.idpsFor(role)
	switch len(serve) {
	case 1:
		return serve[0], nil
	case 0:
		return IdPConfig{}, invalid("role", "None of the portal's identity providers can sign in a person with the role "+role+".")
	}
	var names []string
	for _, p := range serve {
		names = append(names, p.DisplayName+" ("+p.Issuer+")")
	}
	return IdPConfig{}, invalid("issuer", "Several identity providers can sign in a person with the role "+role+": choose the one this person signs in with: "+strings.Join(names, ", ")+".")
}

// idpsFor returns the identity providers whose organisation may hold the
// visit role.
func (s *Service) idpsFor(role string) []IdPConfig {
	var out []IdPConfig
	for _, p := range s.cfg.IdPs {
		if p.MayHold(role) {
			out = append(out, p)
		}
	}
	return out
}

// settleInvitations gives each invitation by email that an earlier
// version stored without an issuer the issuer of the only identity
// provider that can sign in its role. Where several can, nothing says
// which was meant: the invitation stays unbound, claimed by nobody, until
// an administrator names its issuer (adding the member again).
func (s *Service) settleInvitations(ctx context.Context) {
	byIssuer := map[string][]string{}
	for _, role := range policy.Roles {
		if serve := s.idpsFor(role); len(serve) == 1 {
			byIssuer[serve[0].Issuer] = append(byIssuer[serve[0].Issuer], role)
		}
	}
	for iss, roles := range byIssuer {
		n, err := s.store.SettleInvitations(ctx, roles, iss, s.now(), func(m store.Member) store.AuditRecord {
			return s.systemRec(m.VisitID, "member.changed", m.ID, map[string]any{"email": m.Email, "issuer": iss, "role": m.Role})
		})
		if err != nil {
			s.log.Error("settle invitations without an issuer", "issuer", iss, "err", err)
			continue
		}
		if n > 0 {
			s.log.Info("invitations without an issuer given the only one that can claim them", "issuer", iss, "members", n)
		}
	}
}

// issuer returns the identity provider with this issuer URL.
func (s *Service) issuer(iss string) (IdPConfig, bool) {
	for _, p := range s.cfg.IdPs {
		if p.Issuer == iss {
			return p, true
		}
	}
	return IdPConfig{}, false
}

// errOwnMembership refuses an administrator's change to their own access.
var errOwnMembership = &Error{Kind: KindForbidden, Code: "own_membership",
	Msg: "You cannot give yourself a role on a visit or change your own membership. Ask another administrator, or the operator of the portal (portal admin member)."}

// isSelf reports whether the member row is the actor: bound to them, or
// naming their issuer and subject or their email, or bound to another
// identity with their email (a second account of theirs: store.Invited
// counts it as their part in the visit).
func (acc *Access) isSelf(m store.Member) bool {
	a := acc.Actor
	switch {
	case a.UserID == "":
		return false // an operator on the server
	case m.UserID != "" && m.UserID == a.UserID:
		return true
	case m.Subject != "" && m.Issuer == a.Issuer && m.Subject == a.Subject:
		return true
	case a.Email == "":
		return false
	}
	return m.Email != "" && strings.EqualFold(m.Email, a.Email) || m.UserEmail != "" && strings.EqualFold(m.UserEmail, a.Email)
}

// errOwnRow says the membership a change would touch is the actor's own
// (PutMember's check; the refusal is refuseOwn's).
var errOwnRow = errors.New("the membership is the actor's own")

// PutMember adds a member or changes one; created says which.
func (acc *Access) PutMember(ctx context.Context, req MemberRequest) (m MemberView, created bool, err error) {
	if err := acc.require(ctx, policy.MemberManage, nil); err != nil {
		return MemberView{}, false, err
	}
	s := acc.svc
	sm, err := s.parseMember(req, acc.Visit.ID)
	if err != nil {
		return MemberView{}, false, err
	}
	if acc.isSelf(sm) {
		return MemberView{}, false, acc.refuseOwn(ctx, "")
	}
	ms, err := s.store.Members(ctx, acc.Visit.ID)
	if err != nil {
		return MemberView{}, false, err
	}
	old, found := identityRow(ms, sm)
	if found && acc.isSelf(old) {
		return MemberView{}, false, acc.refuseOwn(ctx, old.ID)
	}
	// A membership bound to a person keeps its issuer (the store changes
	// an invitation's only): the new role must be one that issuer's
	// organisation may hold, as at sign-in. Found by email, the role was
	// checked only against the issuer the request named or implied.
	if found && old.IsBound() {
		if _, err := s.memberIssuer(old.Issuer, sm.Role); err != nil {
			return MemberView{}, false, err
		}
	}
	if !found {
		if err := samePerson(ms, sm); err != nil {
			return MemberView{}, false, err
		}
	}
	// The store names the record member.added or member.changed, and
	// it says whose membership it is as saved: one bound to a person
	// keeps its issuer and subject, whatever the request named.
	rec := acc.rec("", "", "success", nil)
	describe := func(row store.Member) string {
		return detailJSON(map[string]any{"email": cmp.Or(row.Email, row.UserEmail), "issuer": row.Issuer, "subject": row.Subject, "role": row.Role,
			"valid_from": req.ValidFrom, "valid_until": req.ValidUntil})
	}
	bySubject := sm.Subject != ""
	// The same rules, on the row as the store changes it: a person who
	// signed in since it was read above has bound it to their issuer.
	// It writes nothing (it runs in the store's transaction): a refusal of
	// one's own membership is recorded after it.
	var own *store.Member
	check := func(old store.Member) error {
		if acc.isSelf(old) {
			own = &old
			return errOwnRow
		}
		if old.IsBound() {
			if _, err := s.memberIssuer(old.Issuer, sm.Role); err != nil {
				return err
			}
		}
		return nil
	}
	sm.SeatedBy = acc.Actor.UserID
	sm, created, err = s.store.PutMemberDescribed(ctx, sm, s.now(), check, describe, rec)
	if errors.Is(err, errOwnRow) {
		return MemberView{}, false, acc.refuseOwn(ctx, own.ID)
	}
	if errors.Is(err, store.ErrConflict) && bySubject {
		// The person has signed in, and their email address is a
		// membership of its own, waiting for them.
		return MemberView{}, false, invalid("subject", "This person is already a member of this visit under their email address. Change that membership, or remove it first, rather than add them twice.")
	}
	if err != nil {
		return MemberView{}, false, err
	}
	s.log.Info("member saved", "visit", acc.Visit.ID, "member", sm.ID, "role", sm.Role, "by", acc.Actor.UserID, "created", created)
	return memberView(sm), created, nil
}

// RemoveMember removes a member from the visit.
func (acc *Access) RemoveMember(ctx context.Context, memberID string) error {
	if err := acc.require(ctx, policy.MemberManage, nil); err != nil {
		return err
	}
	if !IsID(memberID) {
		return errNotFound
	}
	m, err := acc.svc.store.Member(ctx, acc.Visit.ID, memberID)
	if err == nil && acc.isSelf(m) {
		return acc.refuseOwn(ctx, memberID)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	// The row goes: the record says whose it was, and their role, as the
	// record of their adding did.
	detail := map[string]any{"email": cmp.Or(m.Email, m.UserEmail), "issuer": m.Issuer, "subject": m.Subject, "role": m.Role}
	if err := acc.svc.store.RemoveMember(ctx, acc.Visit.ID, memberID, acc.rec("member.removed", memberID, "success", detail)); err != nil {
		return err
	}
	acc.svc.log.Info("member removed", "visit", acc.Visit.ID, "member", memberID, "by", acc.Actor.UserID)
	return nil
}

// Members lists the visit's members.
func (acc *Access) Members(ctx context.Context) ([]MemberView, error) {
	if err := acc.require(ctx, policy.MemberManage, nil); err != nil {
		return nil, err
	}
	ms, err := acc.svc.store.Members(ctx, acc.Visit.ID)
	if err != nil {
		return nil, err
	}
	dup := memberDuplicates(ms)
	out := []MemberView{}
	for _, m := range ms {
		v := memberView(m)
		v.Duplicate = dup[m.ID]
		out = append(out, v)
	}
	return out, nil
}

// MemberWindow is a member with the access window that applies to them.
type MemberWindow struct {
	MemberView
	Window Window
}

// MemberWindows lists the members with their effective windows, by role.
func (acc *Access) MemberWindows(ctx context.Context) ([]MemberWindow, error) {
	if err := acc.require(ctx, policy.MemberManage, nil); err != nil {
		return nil, err
	}
	ms, err := acc.svc.store.Members(ctx, acc.Visit.ID)
	if err != nil {
		return nil, err
	}
	dup := memberDuplicates(ms)
	out := make([]MemberWindow, 0, len(ms))
	for _, m := range ms {
		v := memberView(m)
		v.Duplicate = dup[m.ID]
		out = append(out, MemberWindow{v, acc.svc.memberWindow(acc.Visit, acc.Status, m)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Role < out[j].Role })
	return out, nil
}

// refuseOwn records and refuses an administrator's change to their own
// membership.
func (acc *Access) refuseOwn(ctx context.Context, memberID string) error {
	rec := acc.rec("request.denied", memberID, "denied", map[string]any{"action": string(policy.MemberManage), "rule": "own-membership", "route": acc.Actor.Via})
	if err := acc.svc.store.Audit(context.WithoutCancel(ctx), rec); err != nil {
		return err
	}
	return errOwnMembership
}
