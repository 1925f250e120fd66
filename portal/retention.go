package portal

import (
	"context"
	"errors"
	"time"

	"github.com/ofsted-portal/evidence/portal/retention"
)

// RunRetention runs one destruction sweep now (portal retention run, and
// the background work): it destroys every visit past its date and not on
// hold, and finishes any destruction that was interrupted.
func (s *Service) RunRetention(ctx context.Context) ([]string, error) {
	ids, err := s.retention.Sweep(ctx)
	var held *retention.LeaseHeldError
	switch {
	case errors.As(err, &held):
		s.log.Info("retention sweep skipped: another process is sweeping", "holder", held.Holder, "until", held.Until)
	case err != nil:
		s.log.Error("retention sweep", "err", err)
	}
	s.warnUpcoming(ctx)
	return ids, err
}

// warnUpcoming logs the visits due for destruction within 7 days.
func (s *Service) warnUpcoming(ctx context.Context) {
	vs, err := s.store.Visits(ctx)
	if err != nil {
		return
	}
	for _, v := range vs {
		st, err := s.status(ctx, v)
		if err != nil || st.DestroyOn.IsZero() {
			continue
		}
		if days := s.daysUntil(st.DestroyOn); days >= 0 && days <= 7 {
			s.log.Warn("visit due for destruction soon", "visit", v.ID, "reference", v.Reference, "destroy_on", st.DestroyOn.Format(time.DateOnly), "legal_hold", st.LegalHold)
		}
	}
}
