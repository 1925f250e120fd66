package portal

import (
	"context"
	"errors"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// A destruction cannot be brought forward by one person: once its date has
// come within PORTAL_DESTRUCTION_NOTICE the sweep gives administrators
// notice (recorded), and it destroys the visit only after the date, and
// either when the notice has run or once an administrator who is not a
// member of the visit has approved it (the destruction review).

// DestructionView is where a visit's destruction stands, once noticed.
type DestructionView struct {
	NoticeGivenAt time.Time  `json:"notice_given_at"`
	NotBefore     time.Time  `json:"not_before"` // the earliest the sweep may destroy it
	ApprovedAt    *time.Time `json:"approved_at,omitempty"`
	ApprovedBy    string     `json:"approved_by,omitempty"`
	// A failed attempt, until one succeeds: when, why, and the next try.
	FailedAt *time.Time `json:"failed_at,omitempty"`
	Failure  string     `json:"failure,omitempty"`
	Attempts int        `json:"attempts,omitempty"`
	RetryAt  *time.Time `json:"retry_at,omitempty"`
}

// Review is one visit in the destruction review.
type Review struct {
	Visit      VisitView `json:"visit"`
	CanApprove bool      `json:"can_approve"` // the viewer is an administrator with no part in it
}

// DestructionReview lists the visits whose destruction has been noticed and
// not yet carried out, for administrators.
func (s *Service) DestructionReview(ctx context.Context, a Actor) ([]Review, error) {
	if _, err := s.Authorize(ctx, a, policy.DestructionApprove, "", ""); err != nil {
		return nil, err
	}
	rows, err := s.store.NoticedVisits(ctx, a.UserID)
	if err != nil {
		return nil, err
	}
	out := []Review{}
	for _, r := range rows {
		acc := s.accessOf(a, r)
		out = append(out, Review{Visit: s.viewWithKey(ctx, r.Visit, acc.Status, acc.Member.Role, r.KeyFingerprint), CanApprove: acc.Can(ctx, policy.DestructionApprove)})
	}
	return out, nil
}

// DestructionWarnings are the visits administrators are warned of on their
// list of visits, whichever page they look at: those under a destruction
// notice, and those whose destruction failed.
func (s *Service) DestructionWarnings(ctx context.Context, a Actor) ([]VisitView, error) {
	if _, err := s.Authorize(ctx, a, policy.DestructionApprove, "", ""); err != nil {
		return nil, err
	}
	rows, err := s.store.WarnedVisits(ctx, a.UserID)
	if err != nil {
		return nil, err
	}
	out := make([]VisitView, 0, len(rows))
	for _, r := range rows {
		acc := s.accessOf(a, r)
		out = append(out, s.viewWithKey(ctx, r.Visit, acc.Status, acc.Member.Role, r.KeyFingerprint))
	}
	return out, nil
}

var errNotNoticed = conflict("This visit's destruction is not due for review: it has no destruction notice yet.")

// ApproveDestruction approves the noticed destruction of the visit, so the
// sweep destroys it once its date has passed without waiting for the
// notice to run. It is recorded, and named on the certificate.
func (acc *Access) ApproveDestruction(ctx context.Context) (VisitView, error) {
	if err := acc.require(ctx, policy.DestructionApprove, nil); err != nil {
		return VisitView{}, err
	}
	n := acc.Status.Notice
	switch {
	case n == nil:
		return VisitView{}, errNotNoticed
	case !n.ApprovedAt.IsZero():
		return VisitView{}, conflict("This destruction has already been approved by " + PersonName(n.ApprovedBy.Email, "", n.ApprovedBy.Subject, n.ApprovedBy.Issuer) + ".")
	case acc.Status.LegalHold:
		return VisitView{}, errHeld
	}
	a := acc.Actor
	rec := acc.rec("destruction.approved", acc.Visit.ID, "success", map[string]any{"destroy_on": acc.Status.DestroyOn.Format(time.DateOnly)})
	if err := acc.svc.store.ApproveDestruction(ctx, acc.Visit.ID, a.Issuer, a.Subject, a.Email, acc.svc.now(), rec); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return VisitView{}, errNotNoticed
		}
		return VisitView{}, err
	}
	acc.svc.log.Warn("destruction approved", "visit", acc.Visit.ID, "by", a.UserID, "destroy_on", acc.Status.DestroyOn.Format(time.DateOnly))
	return acc.changed(ctx)
}
