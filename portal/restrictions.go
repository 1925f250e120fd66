package portal

import (
	"context"
	"slices"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// RestrictionView is which roles see an item's files.
type RestrictionView struct {
	Code       string   `json:"code"`
	Restricted bool     `json:"restricted"`
	Roles      []string `json:"roles"`
}

func restrictionView(r store.Restriction) RestrictionView {
	roles := r.Roles
	if roles == nil {
		roles = []string{}
	}
	return RestrictionView{Code: r.Code, Restricted: r.Restricted, Roles: roles}
}

// defaultRestrictions are the restrictions every new visit starts with:
// child-level data names every child in the sample, so only the lead
// inspector, the QAM and the analysts see it until an administrator decides
// otherwise.
func defaultRestrictions() []store.Restriction {
	return []store.Restriction{{Code: ItemChildLevelData, Restricted: true, Roles: policy.ChildLevelDataRoles}}
}

// Restrictions lists the visit's item restrictions.
func (acc *Access) Restrictions(ctx context.Context) ([]RestrictionView, error) {
	if err := acc.require(ctx, policy.VisitView, nil); err != nil {
		return nil, err
	}
	rs, err := acc.svc.store.Restrictions(ctx, acc.Visit.ID)
	if err != nil {
		return nil, err
	}
	out := []RestrictionView{}
	for _, r := range rs {
		out = append(out, restrictionView(r))
	}
	return out, nil
}

// SetRestriction validates and stores which roles see an item's files.
// Policy reads it on the next request, so open sessions are affected at
// once.
func (acc *Access) SetRestriction(ctx context.Context, rawCode string, restricted bool, roles []string) (RestrictionView, error) {
	if err := acc.require(ctx, policy.VisitManage, nil); err != nil {
		return RestrictionView{}, err
	}
	code, err := ParseItem(rawCode)
	if err != nil {
		return RestrictionView{}, invalid("item", capitalise(err.Error())+".")
	}
	if code == "" {
		return RestrictionView{}, invalid("item", "The item must be an item number such as 1.03, or cld or audits.")
	}
	for _, r := range roles {
		if !policy.IsRole(r) {
			return RestrictionView{}, invalid("roles", "Unknown role "+r+".")
		}
	}
	roles = slices.Compact(slices.Sorted(slices.Values(roles)))
	r := store.Restriction{VisitID: acc.Visit.ID, Code: code, Restricted: restricted, Roles: roles}
	if err := acc.notOpeningToThemselves(ctx, r); err != nil {
		return RestrictionView{}, err
	}
	rec := acc.rec("item.restriction_changed", code, "success", map[string]any{"restricted": restricted, "roles": roles})
	if err := acc.svc.store.PutRestriction(ctx, r, acc.svc.now(), rec); err != nil {
		return RestrictionView{}, err
	}
	acc.svc.log.Info("item restriction changed", "visit", acc.Visit.ID, "item", code, "restricted", restricted, "roles", roles, "by", acc.Actor.UserID)
	return restrictionView(r), nil
}

// errOwnItem refuses an administrator who is a member of the visit a
// change that would let their own role see an item it could not.
var errOwnItem = &Error{Kind: KindForbidden, Code: "own_item",
	Msg: "You are a member of this visit, so you cannot open an item to your own role: ask an administrator with no part in the visit."}

// notOpeningToThemselves refuses, and records, a change of restriction by
// an administrator who has a part in the visit (a member, or invited by
// email) that lets their role see the item where it could not: who sees
// the child-level data is decided from outside the visit, as a member's
// own membership is (separation of duties). An invitation's role is not
// known until it binds: any opening is theirs.
func (acc *Access) notOpeningToThemselves(ctx context.Context, to store.Restriction) error {
	roles := []string{acc.Member.Role}
	switch {
	case acc.invited:
		roles = policy.Roles
	case acc.Member.Role == "":
		return nil
	}
	rs, err := acc.svc.store.Restrictions(ctx, acc.Visit.ID)
	if err != nil {
		return err
	}
	from := store.Restriction{Code: to.Code}
	for _, r := range rs {
		if r.Code == to.Code {
			from = r
		}
	}
	sees := func(r store.Restriction, role string) bool { return !r.Restricted || slices.Contains(r.Roles, role) }
	for _, role := range roles {
		if !sees(from, role) && sees(to, role) {
			rec := acc.rec("request.denied", to.Code, "denied", map[string]any{"action": string(policy.VisitManage), "rule": "own-item", "route": acc.Actor.Via})
			if err := acc.svc.store.Audit(context.WithoutCancel(ctx), rec); err != nil {
				return err
			}
			return errOwnItem
		}
	}
	return nil
}
