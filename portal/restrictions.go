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
	rec := acc.rec("item.restriction_changed", code, "success", map[string]any{"restricted": restricted, "roles": roles})
	if err := acc.svc.store.PutRestriction(ctx, r, acc.svc.now(), rec); err != nil {
		return RestrictionView{}, err
	}
	acc.svc.log.Info("item restriction changed", "visit", acc.Visit.ID, "item", code, "restricted", restricted, "roles", roles, "by", acc.Actor.UserID)
	return restrictionView(r), nil
}
