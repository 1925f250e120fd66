package portal

import (
	"context"
	"errors"
	"strings"
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
	Visit VisitView `json:"visit"`
	// CanApprove: the viewer is an administrator with no part in it, and
	// no legal hold stops it (ApproveDestruction would refuse: errHeld).
	CanApprove bool `json:"can_approve"`
	// OwnDecision says why the viewer may not approve a destruction they
	// set going (ownDestruction): "" when that is not why.
	OwnDecision string `json:"own_decision,omitempty"`
}

// ReviewPage is a page of the destruction review.
type ReviewPage struct {
	Visits []Review `json:"visits"`
	Next   string   `json:"next,omitempty"` // the cursor of the next page; "" on the last
}

// ReviewPageSize is how many visits a page of the destruction review lists.
const ReviewPageSize = 50

// DestructionReview lists, a page at a time after the cursor after ("" for
// the first), the visits whose destruction has been noticed and not yet
// carried out (active, or being destroyed), soonest first, after those
// whose destruction failed before their notice could be given, for
// administrators: where the warnings on the list of visits send them.
func (s *Service) DestructionReview(ctx context.Context, a Actor, after string) (ReviewPage, error) {
	if _, err := s.Authorize(ctx, a, policy.DestructionApprove, "", ""); err != nil {
		return ReviewPage{}, err
	}
	var cur store.NoticeCursor
	if after != "" {
		on, id, _ := strings.Cut(after, ".")
		if _, err := time.Parse(time.DateOnly, on); err != nil || !IsID(id) {
			return ReviewPage{}, invalid("after", "This page of the destruction review does not exist: go back to the first page.")
		}
		cur = store.NoticeCursor{DestroyOn: on, VisitID: id}
	}
	rows, err := s.store.NoticedVisits(ctx, a.UserID, cur, ReviewPageSize)
	if err != nil {
		return ReviewPage{}, err
	}
	out := ReviewPage{Visits: []Review{}}
	keys := s.preloadKeys(ctx, rows)
	// An administrator invited by email has a part in those visits
	// already, as their approval is decided (load): the page offers what
	// the approval would take.
	var invited map[string]bool
	if a.Administrator && a.Email != "" {
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		if invited, err = s.store.InvitedTo(ctx, strings.ToLower(a.Email), ids); err != nil {
			return ReviewPage{}, err
		}
	}
	for _, r := range rows {
		acc := s.accessOf(a, r)
		acc.invited = acc.Member.Role == "" && invited[r.ID]
		own := acc.Status.ownDestruction(a.UserID)
		// Approved is a notice of an active visit: one being destroyed is
		// past it, and one whose notice could not be given has none yet.
		approvable := r.Visit.State == StateActive && acc.Status.Notice != nil
		out.Visits = append(out.Visits, Review{Visit: s.viewWithKey(ctx, keys, r.Visit, acc.Status, acc.Member.Role, r.KeyFingerprint),
			CanApprove: approvable && acc.Can(ctx, policy.DestructionApprove) && !acc.Status.LegalHold && own == "", OwnDecision: own})
	}
	if n := len(rows); n == ReviewPageSize {
		on := store.NoNoticeDate
		if last := rows[n-1]; last.Notice != nil {
			on = last.Notice.DestroyOn.Format(time.DateOnly)
		}
		out.Next = on + "." + rows[n-1].ID
	}
	return out, nil
}

// WarningsShown is how many visits the warnings on the list of visits name
// (VisitsWarned); the rest are counted, and listed on the destruction
// review page.
const WarningsShown = 10

var errNotNoticed = conflict("This visit's destruction is not due for review: it has no destruction notice yet.")

// errNoticeChanged refuses an approval of a notice that is not the one
// the visit has now.
var errNoticeChanged = conflict("This visit’s destruction notice has changed since it was reviewed (its publication withdrawn and recorded again, or a legal hold lifted): review it again before you approve it.")

// ApproveDestruction approves the noticed destruction of the visit, so the
// sweep destroys it once its date has passed without waiting for the
// notice to run. It is recorded, and named on the certificate.
func (acc *Access) ApproveDestruction(ctx context.Context) (VisitView, error) {
	return acc.ApproveDestructionOf(ctx, time.Time{})
}

// ApproveDestructionOf is ApproveDestruction of the notice given at
// reviewed, the one the approver reviewed (zero: the notice the visit has
// as this request reads it). A notice given since (the publication
// withdrawn and recorded again) is refused: errNoticeChanged.
func (acc *Access) ApproveDestructionOf(ctx context.Context, reviewed time.Time) (VisitView, error) {
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
	case !reviewed.IsZero() && !n.GivenAt.Equal(reviewed):
		return VisitView{}, errNoticeChanged
	}
	a := acc.Actor
	if why := acc.Status.ownDestruction(a.UserID); why != "" {
		return VisitView{}, conflict(why)
	}
	rec := acc.rec("destruction.approved", acc.Visit.ID, "success", map[string]any{"destroy_on": acc.Status.DestroyOn.Format(time.DateOnly)})
	if err := acc.svc.store.ApproveDestruction(ctx, acc.Visit.ID, n.GivenAt, a.UserID, a.Issuer, a.Subject, a.Email, acc.svc.now(), rec); err != nil {
		switch {
		case errors.Is(err, store.ErrNotFound):
			// Withdrawn, given afresh or approved since this request
			// read it.
			return VisitView{}, errNoticeChanged
		case errors.Is(err, store.ErrOwnDecision):
			// Recorded or lifted by them since this request read the visit.
			return VisitView{}, conflict("You recorded this visit’s publication or lifted its legal hold, so another administrator must approve its destruction (or it goes ahead once its notice has run).")
		case errors.Is(err, store.ErrDestructionBegun):
			return VisitView{}, conflict("This visit’s destruction has begun: its notice ran, so it needs no approval now.")
		}
		return VisitView{}, heldSince(err)
	}
	acc.svc.log.Warn("destruction approved", "visit", acc.Visit.ID, "by", a.UserID, "destroy_on", acc.Status.DestroyOn.Format(time.DateOnly))
	return acc.changed(ctx, nil)
}
