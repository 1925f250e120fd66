package portal

import (
	"context"
	"errors"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Explanation says whether a member may do something, and why.
type Explanation struct {
	Member   MemberView `json:"member"`
	Action   string     `json:"action"`
	File     string     `json:"file,omitempty"`
	Allow    bool       `json:"allow"`
	Status   int        `json:"status"` // what the web door would answer; set by it
	Policies []string   `json:"policies"`
	Reason   string     `json:"reason"`
	InWindow bool       `json:"in_window"`
	// Refusal is the kind of refusal the member would get (0 when allowed).
	Refusal Kind `json:"-"`
}

// Explain answers "may this member do this (to this file), and why?" for an
// administrator, with the same decision path a request of theirs would
// take.
func (acc *Access) Explain(ctx context.Context, memberID, action, fileID string) (Explanation, error) {
	return acc.ExplainOn(ctx, memberID, action, fileID, "")
}

// ExplainOn is Explain for an action on a file, or on an item of the
// information request (item): questions are decided on the item or file
// they are about (a restricted item's questions are for the roles it is
// open to), so one of the two is asked for them; an item's title
// (item.view) on the item.
func (acc *Access) ExplainOn(ctx context.Context, memberID, action, fileID, item string) (Explanation, error) {
	if err := acc.require(ctx, policy.MemberManage, nil); err != nil {
		return Explanation{}, err
	}
	questions := action == string(policy.QuestionView) || action == string(policy.QuestionPost)
	itemView := action == string(policy.ItemView)
	switch {
	case item != "" && !questions && !itemView:
		return Explanation{}, invalid("item", "An item is asked about for questions (question.view, question.post) and its title (item.view) only: leave it blank for this action.")
	case itemView && (item == "" || fileID != ""):
		return Explanation{}, invalid("item", "An item's title is decided on the item: give its number, and no file (a restricted item's title is for the roles it is open to).")
	case item != "" && fileID != "":
		return Explanation{}, invalid("item", "Give a file or an item, not both: questions are on one or the other.")
	case questions && item == "" && fileID == "":
		return Explanation{}, invalid("item", "Questions are decided on the item or file they are about: choose a file, or give the item's number (a restricted item's questions are for the roles it is open to).")
	}
	if item != "" {
		code, err := ParseItem(item)
		if err != nil {
			return Explanation{}, invalid("item", "Enter the item's number as the information request shows it: "+err.Error()+".")
		}
		item = code
	}
	s := acc.svc
	ms, err := s.store.Members(ctx, acc.Visit.ID)
	if err != nil {
		return Explanation{}, err
	}
	var m store.Member
	for _, x := range ms {
		if x.ID == memberID {
			m = x
		}
	}
	if m.ID == "" {
		return Explanation{}, invalid("member", "Choose a member of this visit.")
	}
	if !isAction(action) {
		return Explanation{}, invalid("action", "Choose an action.")
	}
	as := &Access{svc: s, Visit: acc.Visit, Status: acc.Status, Member: m, Window: s.memberWindow(acc.Visit, acc.Status, m),
		decided: map[decisionKey]policy.Decision{}}
	as.Actor.UserID = m.UserID
	if as.Actor.UserID == "" {
		as.Actor.UserID = "unbound:" + m.ID // not signed in yet: decide as they would be
	}
	if m.UserID != "" {
		// As SessionActor and load judge the person's own request, before
		// any policy is asked: disabled, or a member twice over.
		u, admin, err := s.store.UserWithPortalRole(ctx, m.UserID, store.RoleAdministrator)
		if err != nil {
			return Explanation{}, err
		}
		as.Actor.Administrator, as.Actor.Issuer, as.Actor.Subject = admin, u.Issuer, u.Subject
		refused := func(reason string) (Explanation, error) {
			return Explanation{Member: memberView(m), Action: action, File: fileID, Refusal: KindForbidden, Policies: []string{}, Reason: reason}, nil
		}
		if !u.DisabledAt.IsZero() {
			return refused("Refused: their access to the portal is disabled (portal admin disable), so no policy is asked.")
		}
		var theirs []store.Member
		for _, x := range ms {
			if x.UserID == m.UserID {
				theirs = append(theirs, x)
			}
		}
		if _, err := s.membershipOf(as.Actor, acc.Visit, theirs); errors.Is(err, errDuplicateMembership) {
			return refused("Refused: they are a member of this visit twice, with different roles or dates, so no policy is asked. Remove one of the two.")
		} else if err != nil {
			return Explanation{}, err
		}
		if !s.mayHold(as.Actor, m.Role) {
			// Hidden from their requests (membershipOf), whatever other
			// membership they have.
			return notHeld(m, action, fileID), nil
		}
	} else if m.Issuer != "" && !s.mayHold(Actor{Issuer: m.Issuer}, m.Role) {
		return notHeld(m, action, fileID), nil
	}
	if s.unannounced(acc.Visit, m) {
		// As a request of theirs is answered (Authorize): the visit does
		// not exist for them yet.
		return Explanation{Member: memberView(m), Action: action, File: fileID, Refusal: KindNotFound, Policies: []string{},
			Reason: "Not found: before the notification date (" + acc.Visit.NotificationDate.Format("2 January 2006") +
				") the visit does not exist for provider staff, so no policy is asked."}, nil
	}
	var f *store.File
	if fileID != "" {
		file, err := s.store.File(ctx, acc.Visit.ID, fileID)
		if errors.Is(err, store.ErrNotFound) {
			return Explanation{}, invalid("file", "No file of this visit has that reference: copy it from the audit trail.")
		} else if err != nil {
			return Explanation{}, err
		}
		f = &file
	}
	var d policy.Decision
	if item != "" {
		d, _, err = as.decideThread(ctx, policy.Action(action), item, "")
	} else {
		d, err = as.decide(ctx, policy.Action(action), f)
	}
	if err != nil {
		return Explanation{}, err
	}
	var refusal Kind
	switch {
	case d.Allow:
	case d.Gone:
		refusal = KindGone
	case d.Locked:
		refusal = KindLocked
	case !d.Visible:
		refusal = KindNotFound
	default:
		refusal = KindForbidden
	}
	pol := d.Policies
	if pol == nil {
		pol = []string{}
	}
	return Explanation{Member: memberView(m), Action: action, File: fileID, Allow: d.Allow, Refusal: refusal,
		Policies: pol, Reason: policy.Explain(d), InWindow: as.principal().InWindow}, nil
}

func isAction(a string) bool {
	for _, x := range policy.Actions {
		if string(x) == a {
			return true
		}
	}
	return false
}

// Choice is one option of a list a person picks from.
type Choice struct{ Value, Label string }

// ExplainFileChoices is how many of a visit's latest files the explain form
// offers; any other file is given by its reference (its id, as the audit
// trail shows it), so the form costs the same for 10 files or 20,000.
const ExplainFileChoices = 100

// ExplainChoices are the members and the latest files an administrator may
// ask about. File names can name children: an administrator who is not a
// member picks a file by item, time and id, never by name.
func (acc *Access) ExplainChoices(ctx context.Context) (members, files []Choice, err error) {
	if err := acc.require(ctx, policy.MemberManage, nil); err != nil {
		return nil, nil, err
	}
	ms, err := acc.svc.store.Members(ctx, acc.Visit.ID)
	if err != nil {
		return nil, nil, err
	}
	fs, err := acc.svc.store.RecentFiles(ctx, acc.Visit.ID, ExplainFileChoices)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range ms {
		members = append(members, Choice{m.ID, PersonName(m.Email, m.Name, m.Subject, m.Issuer) + " (" + m.Role + ")"})
	}
	for _, f := range fs {
		item := f.Item
		if item == "" {
			item = "no item"
		}
		files = append(files, Choice{f.ID, item + " · uploaded " + f.UploadedAt.In(calendar.London).Format("2 Jan 15:04") + " · " + f.ID[:8]})
	}
	return members, files, nil
}

// notHeld explains a membership whose role the person's organisation may
// not hold, as their identity provider is configured (membershipOf hides
// it): their request is answered as a stranger's.
func notHeld(m store.Member, action, fileID string) Explanation {
	return Explanation{Member: memberView(m), Action: action, File: fileID, Refusal: KindNotFound, Policies: []string{},
		Reason: "Not found: their organisation, as their identity provider is configured, may not hold the role " + m.Role +
			", so this membership gives them nothing and no policy is asked. Give the role to someone who signs in at the right provider."}
}
