package portal

import (
	"context"
	"errors"
	"time"

	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// RunRetention runs one destruction sweep now (portal retention run, and
// the background work): it destroys every visit past its date and not on
// hold, and finishes any destruction that was interrupted. First it
// brings the object store to the holds and expiry rules that acts left
// unfinished there (finishStoreSides).
func (s *Service) RunRetention(ctx context.Context) ([]string, error) {
	// The store's side first: a lifted hold that left the objects held
	// would fail their destruction.
	s.finishStoreSides(ctx)
	ids, err := s.retention.Sweep(ctx)
	var held *retention.LeaseHeldError
	switch {
	case errors.As(err, &held):
		s.log.Info("retention sweep skipped: another process is sweeping", "holder", held.Holder, "until", held.Until)
	case err != nil:
		s.log.Error("retention sweep", "err", err)
	}
	s.reviewRetention(ctx)
	return ids, err
}

// retentionRec describes a destruction step for the audit trail. A failed
// attempt is also counted here: the sweep records every failure through
// this one function, so the count and the trail agree.
func (s *Service) retentionRec(visitID, action, object string, detail map[string]any) store.AuditRecord {
	if action == "destruction.failed" {
		s.metrics.DestructionFailed()
	}
	return s.systemRec(visitID, action, object, detail)
}

// reviewRetention logs the visits due for destruction within 7 days and
// counts visits by where their destruction stands, after each sweep: the
// walk over every live visit happens here, once per sweep, never per
// scrape, a page of visits at a time; destroyed visits are counted, not
// read.
func (s *Service) reviewRetention(ctx context.Context) {
	var n RetentionCounts
	today := s.Today()
	err := s.store.LiveVisitPages(ctx, func(rows []store.VisitRow) error {
		for _, r := range rows {
			s.reviewOne(r, today, &n)
		}
		return nil
	})
	if err == nil {
		var failed int
		n.Destroyed, failed, err = s.store.DestroyedCounts(ctx)
		n.Failed += failed
	}
	if err != nil {
		s.dbErr(ctx, "retention", err)
		return
	}
	s.metrics.Retention(n)
}

// reviewOne counts a live visit where its destruction stands, and logs it
// when it is due within 7 days.
func (s *Service) reviewOne(r store.VisitRow, today time.Time, n *RetentionCounts) {
	v, st := r.Visit, s.statusOf(r)
	switch {
	case st.LegalHold:
		n.OnHold++
	case v.State == StateDestroying, !st.DestroyOn.IsZero() && !today.Before(st.DestroyOn):
		n.Due++
	}
	if st.Failure != nil {
		n.Failed++
	}
	if st.DestroyOn.IsZero() {
		return
	}
	if days := s.daysUntil(st.DestroyOn); days >= 0 && days <= 7 {
		s.log.Warn("visit due for destruction soon", "visit", v.ID, "reference", v.Reference, "destroy_on", st.DestroyOn.Format(time.DateOnly), "legal_hold", st.LegalHold)
	}
}
