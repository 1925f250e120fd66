package store

import (
	"context"
	"time"
)

// KeepLease renews a lease of length ttl every third of it while work goes
// on under it. The returned context is cancelled when a renewal finds the
// lease taken (lost is told err nil) or, renewals failing, once ttl less a
// sixth has passed since the last one that succeeded (lost is told the
// last failure), so the work stops before the lease can run out. stop ends
// the renewals, waits for one under way, and cancels the context; call it
// once the work is done, before letting the lease go.
func KeepLease(ctx context.Context, ttl time.Duration, renew func(context.Context) (bool, error), lost func(error)) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		deadline := time.Now().Add(ttl - ttl/6)
		lapse := time.NewTimer(time.Until(deadline))
		defer lapse.Stop()
		var failed error
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-lapse.C:
				lost(failed)
				cancel()
				return
			case <-t.C:
				start := time.Now()
				rctx, rcancel := context.WithDeadline(ctx, deadline)
				ok, err := renew(rctx)
				rcancel()
				select {
				case <-done:
					return
				default:
				}
				switch {
				case err == nil && ok:
					deadline = start.Add(ttl - ttl/6)
					lapse.Reset(time.Until(deadline))
					failed = nil
				case err == nil:
					lost(nil)
					cancel()
					return
				case !time.Now().Before(deadline):
					lost(err)
					cancel()
					return
				default:
					failed = err
				}
			}
		}
	}()
	return ctx, func() {
		close(done)
		cancel()
		<-exited
	}
}
