package store

import (
	"context"
	"time"
)

// KeepLease renews a lease every period while work goes on under it. The
// returned context is cancelled when a renewal fails or finds the lease
// taken (lost is told why first: err is nil when another holder has it),
// so the work stops rather than run on without it. stop ends the renewals
// and cancels the context; call it once the work is done, before letting
// the lease go.
func KeepLease(ctx context.Context, period time.Duration, renew func(context.Context) (bool, error), lost func(error)) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if ok, err := renew(ctx); err != nil || !ok {
					lost(err)
					cancel()
					return
				}
			}
		}
	}()
	return ctx, func() {
		close(done)
		cancel()
	}
}
