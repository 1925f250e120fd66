package portal

import (
	"context"
	"errors"
	"time"

	"github.com/ofsted-portal/evidence/portal/blobs"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// RunRetention runs one destruction sweep now (the background work): it
// destroys every visit past its date and not on
// hold, and finishes any destruction that was interrupted. First it
// brings the object store to the holds and expiry rules that acts left
// unfinished there (finishStoreSides).
func (s *Service) RunRetention(ctx context.Context) ([]string, error) {
	return s.runRetention(ctx, s.retention.Sweep)
}

// RunRetentionNow is RunRetention that tries at once the destructions
// backing off after a failure (retention.SweepNow): portal retention run.
func (s *Service) RunRetentionNow(ctx context.Context) ([]string, error) {
	return s.runRetention(ctx, s.retention.SweepNow)
}

func (s *Service) runRetention(ctx context.Context, sweep func(context.Context) ([]string, error)) ([]string, error) {
	// The store's side first: a lifted hold that left the objects held
	// would fail their destruction.
	s.finishStoreSides(ctx)
	var ids []string
	err := s.clockAgrees(ctx)
	if err == nil {
		ids, err = sweep(ctx)
	}
	var held *retention.LeaseHeldError
	var out *clockOutError
	switch {
	case errors.As(err, &out):
		s.log.Error("retention sweep refused: the clocks disagree", "skew", out.skew.Round(time.Millisecond).String(), "err", err)
	case errors.As(err, &held):
		s.log.Info("retention sweep skipped: another process is sweeping", "holder", held.Holder, "until", held.Until)
	case err != nil:
		s.log.Error("retention sweep", "err", err)
	}
	checks := s.rulesToCheck(ctx)
	s.reviewRetention(ctx, checks)
	s.checkRules(ctx, checks)
	return ids, err
}

// rulesPerRun is how many visits' buckets one retention run reads the
// expiry rule of: every active visit's in turn, 20 each run.
const rulesPerRun = 20

// ruleCheck is a visit whose bucket's expiry rule the run reads back, and
// the rule the review found it should have.
type ruleCheck struct {
	store.RuleToCheck
	want time.Time
	seen bool // the review read the visit, and want is set
}

// rulesToCheck takes the next visits whose bucket's rule the run reads
// back: those after the last run's, in id order, whose store side is
// recorded as done (store.RulesToCheck).
func (s *Service) rulesToCheck(ctx context.Context) map[string]*ruleCheck {
	s.rulesMu.Lock()
	after := s.rulesAfter
	s.rulesMu.Unlock()
	todo, next, err := s.store.RulesToCheck(ctx, after, rulesPerRun)
	if err != nil {
		s.dbErr(ctx, "retention", err)
		s.log.Error("retention run: expiry rules not read back", "err", err)
		return nil
	}
	s.rulesMu.Lock()
	s.rulesAfter = next
	s.rulesMu.Unlock()
	checks := make(map[string]*ruleCheck, len(todo))
	for _, c := range todo {
		checks[c.VisitID] = &ruleCheck{RuleToCheck: c}
	}
	return checks
}

// checkRules reads back the expiry rule of each visit's bucket in checks
// and compares it with the soonest the visit may have (backstopDate, as
// the review found it). The portal records a rule as done once the store
// accepts it, and a store can lose one it accepted: MinIO, just after it
// starts, puts back the bucket settings it read from disk. A rule that is
// absent, sooner than that, or is present on a held visit (where it would
// expire held evidence) is made unknown again (store.RuleLost), and the
// next run brings it back as it does any act left unfinished. A store
// without lifecycle rules has nothing to read back.
func (s *Service) checkRules(ctx context.Context, checks map[string]*ruleCheck) {
	s.health.mu.Lock()
	f := s.health.features
	s.health.mu.Unlock()
	if f != nil && !f.Lifecycle {
		return // the self-test found no lifecycle rules: none was set
	}
	for _, c := range checks {
		if !c.seen {
			continue
		}
		got, err := s.blobs.Expiry(ctx, c.Bucket)
		if errors.Is(err, blobs.ErrNoLifecycle) {
			return
		}
		if err != nil {
			s.log.Error("retention run: expiry rule not read back", "visit", c.VisitID, "err", err)
			continue
		}
		// A rule later than the soonest is one an act dated from its own
		// day (ruleDate); only one sooner, or any on a visit that must
		// have none, would remove evidence the portal keeps.
		want := blobs.ExpiryDay(c.want)
		if want.IsZero() && got.IsZero() || !want.IsZero() && !got.Before(want) {
			continue
		}
		s.log.Warn("the object store's expiry rule is not the one recorded: the next retention run brings it back", "visit", c.VisitID,
			"want", want.Format(time.DateOnly), "found", got.Format(time.DateOnly))
		if err := s.store.RuleLost(ctx, c.Act, s.now().Add(-storeSettle-time.Second)); err != nil {
			s.dbErr(ctx, "retention", err)
			s.log.Error("retention run", "visit", c.VisitID, "err", err)
		}
	}
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
func (s *Service) reviewRetention(ctx context.Context, checks map[string]*ruleCheck) {
	var n RetentionCounts
	today := s.Today()
	err := s.store.LiveVisitPages(ctx, func(rows []store.VisitRow) error {
		for _, r := range rows {
			st := s.reviewOne(r, today, &n)
			if c := checks[r.ID]; c != nil && r.State == StateActive {
				c.want, c.seen = s.backstopDate(st), true
			}
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
func (s *Service) reviewOne(r store.VisitRow, today time.Time, n *RetentionCounts) Status {
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
		return st
	}
	if days := s.daysUntil(st.DestroyOn); days >= 0 && days <= 7 {
		s.log.Warn("visit due for destruction soon", "visit", v.ID, "reference", v.Reference, "destroy_on", st.DestroyOn.Format(time.DateOnly), "legal_hold", st.LegalHold)
	}
	return st
}
