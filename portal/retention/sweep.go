package retention

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ofsted-portal/evidence/portal/store"
)

const sweepLease = "retention-sweep"

// LeaseHeldError says another process is sweeping: who, and until when
// its lease runs unless it renews it.
type LeaseHeldError struct {
	Holder string
	Until  time.Time
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("another destruction sweep holds the lease: %s, until %s unless it renews it", e.Holder, e.Until.UTC().Format(time.RFC3339))
}

// crash marks an error of the AfterStep hook: a simulated crash stops the
// sweep where it is, as a real one would, lease and all.
type crash struct{ error }

func (c crash) Unwrap() error { return c.error }

func (s *Service) step(name string) error {
	s.Log.Info("destruction step", "step", name)
	if s.AfterStep != nil {
		if err := s.AfterStep(name); err != nil {
			return crash{err}
		}
	}
	return nil
}

// hold takes the sweep's lease and renews it while the work runs. The
// returned context ends if the lease is lost (the work then stops before
// its next step); release gives the lease up.
func (s *Service) hold(ctx context.Context) (context.Context, func(), error) {
	ttl := s.LeaseTTL
	if ttl == 0 {
		ttl = 30 * time.Second
	}
	ok, err := s.Store.TakeLease(ctx, sweepLease, s.Holder, s.Now(), s.Now().Add(ttl))
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		holder, until, err := s.Store.LeaseHolder(ctx, sweepLease)
		if err != nil {
			return nil, nil, err
		}
		return nil, nil, &LeaseHeldError{Holder: holder, Until: until}
	}
	ctx, stop := store.KeepLease(ctx, ttl, func(ctx context.Context) (bool, error) {
		return s.Store.RenewLease(ctx, sweepLease, s.Holder, s.Now().Add(ttl))
	}, func(err error) { s.Log.Error("retention lease lost: stopping the sweep", "err", err) })
	return ctx, func() {
		stop()
		s.Store.ReleaseLease(context.WithoutCancel(ctx), sweepLease, s.Holder)
	}, nil
}

// Sweep destroys every visit that is due and finishes, first, any
// destruction that was interrupted. Only one process sweeps at a time
// (LeaseHeldError otherwise). A visit whose destruction fails is recorded,
// retried with backoff, and does not stop the others: the error returned
// joins every failure. Destroyed visits are not read: they only
// accumulate. What a page says may be minutes old when a visit is reached;
// the one change that makes a due visit not due, a legal hold, is checked
// again as its destruction begins.
func (s *Service) Sweep(ctx context.Context) (destroyed []string, err error) {
	return s.sweep(ctx, false)
}

// SweepNow is Sweep that also tries at once the destructions backing off
// after a failure: the operator's run (portal retention run) once they
// have put its cause right, which would otherwise skip them and report
// nothing due.
func (s *Service) SweepNow(ctx context.Context) (destroyed []string, err error) {
	return s.sweep(ctx, true)
}

func (s *Service) sweep(ctx context.Context, now bool) (destroyed []string, err error) {
	ctx, release, err := s.hold(ctx)
	if err != nil {
		return nil, err
	}
	crashed := false
	defer func() {
		if !crashed {
			release()
		}
	}()
	var errs []error
	err = s.Store.LiveVisitPages(ctx, func(rows []store.VisitRow) error {
		for _, r := range rows {
			if ctx.Err() != nil {
				return fmt.Errorf("retention: sweep stopped: %w", ctx.Err())
			}
			ok, err := s.sweepOne(ctx, r, now, &errs)
			if err != nil {
				crashed = true
				return err
			}
			if ok {
				destroyed = append(destroyed, r.ID)
			}
		}
		return nil
	})
	if crashed {
		return destroyed, err
	}
	return destroyed, errors.Join(append(errs, err)...)
}

// sweepOne destroys r's visit if it is due (now: whatever its backoff
// after a failure), reporting whether it did; a
// failure is recorded and added to errs, a (simulated) crash returned.
func (s *Service) sweepOne(ctx context.Context, r store.VisitRow, now bool, errs *[]error) (bool, error) {
	v := r.Visit
	if r.Failure != nil && s.Now().Before(r.Failure.NextAttemptAt) && !now {
		return false, nil // backing off after a failure
	}
	due, notice, err := s.due(ctx, r)
	if err != nil && ctx.Err() != nil {
		// The sweep itself stopped (its lease lost, the process
		// stopping): nothing about this visit failed.
		*errs = append(*errs, fmt.Errorf("retention: %s: %w", v.ID, err))
		return false, nil
	}
	if err != nil {
		// Its notice could not be given or read: a failure like any
		// other step's, for administrators to see, tried again after
		// the backoff; the visit would otherwise miss its date unseen.
		if !errors.Is(err, ErrNotAsRecorded) { // which says what it is
			err = fmt.Errorf("the destruction notice: %w", err)
		}
		*errs = append(*errs, s.failed(ctx, v, err))
		return false, nil
	}
	if !due {
		if r.Failure != nil {
			// Nothing failing now (its notice given, or a hold set):
			// the failure is no longer what the visit waits for.
			if err := s.Store.ClearFailure(ctx, v.ID); err != nil {
				*errs = append(*errs, err)
			}
		}
		return false, nil
	}
	if err := s.Destroy(ctx, v, notice); errors.Is(err, store.ErrOnHold) {
		// Put on hold after it was found due, before anything was
		// destroyed: not a failure, and not destroyed.
		s.Log.Warn("destruction not begun: the visit was put on legal hold", "visit", v.ID, "reference", v.Reference)
		return false, nil
	} else if errors.Is(err, store.ErrNotDue) {
		// Its notice withdrawn after it was found due (its publication
		// withdrawn, a hold set and lifted), a fresh one given since or
		// not: not a failure, and not destroyed until a fresh notice
		// has run.
		s.Log.Warn("destruction not begun: the visit's destruction notice was withdrawn", "visit", v.ID, "reference", v.Reference)
		return false, nil
	} else if err != nil {
		var c crash
		if errors.As(err, &c) {
			return false, fmt.Errorf("retention: destroy %s: %w", v.ID, err)
		}
		if ctx.Err() != nil {
			// Cut off because the sweep stopped: not a failure (no alert,
			// no backoff); the next sweep takes it up where it was left.
			*errs = append(*errs, fmt.Errorf("retention: destroy %s: %w", v.ID, err))
			return false, nil
		}
		*errs = append(*errs, s.failed(ctx, v, err))
		return false, nil
	}
	if err := s.Store.ClearFailure(ctx, v.ID); err != nil {
		*errs = append(*errs, err)
	}
	return true, nil
}

// backoff is how long after its nth failure a destruction is tried again.
func backoff(n int) time.Duration {
	d := time.Minute << min(n-1, 6)
	return min(d, time.Hour)
}

// failed records a failed destruction for administrators (the visit page,
// the trail, the log at error level) and when it is tried again.
func (s *Service) failed(ctx context.Context, v store.Visit, cause error) error {
	// Text PostgreSQL takes: bytes that are not UTF-8 (in a server's
	// error, say) dropped, and a long reason cut between characters, not
	// inside one; refused, neither the failure nor its record is kept.
	reason := strings.ToValidUTF8(cause.Error(), "")
	if len(reason) > 300 {
		n := 300
		for !utf8.RuneStart(reason[n]) {
			n--
		}
		reason = reason[:n]
	}
	now := s.Now()
	attempts, err := s.Store.RecordFailure(context.WithoutCancel(ctx), v.ID, reason, now, func(n int) time.Time { return now.Add(backoff(n)) },
		s.audit(v.ID, "destruction.failed", v.ID, map[string]any{"reason": reason})...)
	if errors.Is(err, store.ErrDestroyed) {
		// Another process finished the destruction while this one
		// failed: nothing failed that is still to do.
		s.Log.Info("destruction finished elsewhere while this attempt failed", "visit", v.ID, "reference", v.Reference, "err", cause)
		return nil
	}
	s.Log.Error("destruction failed", "visit", v.ID, "reference", v.Reference, "attempts", attempts, "retry_in", backoff(max(attempts, 1)).String(), "err", cause)
	if err != nil {
		return errors.Join(cause, err)
	}
	return fmt.Errorf("retention: destroy %s (attempt %d): %w", v.ID, attempts, cause)
}
