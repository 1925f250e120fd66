package store

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeepLease(t *testing.T) {
	// Renewed while held; the work's context lives on.
	var renewals atomic.Int32
	ctx, stop := KeepLease(context.Background(), 30*time.Millisecond, func(context.Context) (bool, error) {
		renewals.Add(1)
		return true, nil
	}, func(err error) { t.Errorf("lost a lease still held: %v", err) })
	for renewals.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	if ctx.Err() != nil {
		t.Fatal("the work was stopped while the lease was held")
	}
	stop()
	if ctx.Err() == nil {
		t.Fatal("stop left the work's context alive")
	}

	// Taken by another holder, or a renewal that fails: the work stops,
	// and lost hears why.
	for _, c := range []struct {
		ok  bool
		err error
	}{{false, nil}, {false, errors.New("database unreachable")}} {
		told := make(chan error, 1)
		ctx, stop := KeepLease(context.Background(), 3*time.Millisecond, func(context.Context) (bool, error) {
			return c.ok, c.err
		}, func(err error) { told <- err })
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("lease lost (%v): the work went on", c.err)
		}
		if err := <-told; err != c.err {
			t.Errorf("lost was told %v, want %v", err, c.err)
		}
		stop()
	}
}

// TestKeepLeaseStopWaitsForRenewal: stop ended the renewals without
// waiting for one under way, so a renewal already sent to the database
// when the work let its lease go put the lease back afterwards: finished
// work then held it until it ran out, and another process (a key
// rotation, the next janitor round) was refused meanwhile.
func TestKeepLeaseStopWaitsForRenewal(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	const ttl = 30 * time.Millisecond
	take := func(ctx context.Context, holder string) (bool, error) {
		now := time.Now()
		return s.TakeLease(ctx, "janitor", holder, now, now.Add(time.Minute))
	}
	if ok, err := take(ctx, "a"); err != nil || !ok {
		t.Fatalf("the lease was not taken: %v %v", ok, err)
	}
	renewing, sent := make(chan struct{}), make(chan struct{})
	var renewals atomic.Int32
	_, stop := KeepLease(ctx, ttl, func(ctx context.Context) (bool, error) {
		if renewals.Add(1) > 1 {
			return take(ctx, "a")
		}
		close(renewing)
		<-sent
		// The statement is on its way: the work ending no longer holds it
		// back.
		return take(context.WithoutCancel(ctx), "a")
	}, func(err error) { t.Errorf("lost a lease still held: %v", err) })
	<-renewing
	stopped, released := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(released)
		stop()
		close(stopped)
		if err := s.ReleaseLease(ctx, "janitor", "a"); err != nil {
			t.Error(err)
		}
	}()
	select {
	case <-stopped:
		// stop did not wait: the renewal lands after the release.
		<-released
	case <-time.After(200 * time.Millisecond):
	}
	close(sent)
	<-released
	ok, err := take(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		holder, until, _ := s.LeaseHolder(ctx, "janitor")
		t.Fatalf("the lease released after its work was done is still held, by %q until %s", holder, until.Format(time.TimeOnly))
	}
}

// TestKeepLeaseRidesOutFailedRenewals: one renewal that failed (the
// database busy for a moment: every connection of the pool in use) was
// taken for a lost lease and stopped the work, though the lease still had
// two thirds of its time to run. A failed renewal is tried again; the work
// stops only when the lease might run out before a renewal succeeds, and
// then before it does.
func TestKeepLeaseRidesOutFailedRenewals(t *testing.T) {
	t.Run("one failure", func(t *testing.T) {
		const ttl = 600 * time.Millisecond
		var renewals atomic.Int32
		ctx, stop := KeepLease(context.Background(), ttl, func(context.Context) (bool, error) {
			if renewals.Add(1) == 1 {
				return false, ErrPoolExhausted
			}
			return true, nil
		}, func(err error) { t.Errorf("lost a lease that was renewed in time: %v", err) })
		defer stop()
		// Past the lease's length since the failure.
		for renewals.Load() < 5 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		if ctx.Err() != nil {
			t.Fatal("one failed renewal stopped the work")
		}
	})

	for _, c := range []struct {
		name  string
		renew func(context.Context) (bool, error)
	}{
		{"every renewal fails", func(context.Context) (bool, error) { return false, ErrPoolExhausted }},
		{"a renewal that hangs", func(ctx context.Context) (bool, error) {
			<-ctx.Done()
			return false, ctx.Err()
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			const ttl = 900 * time.Millisecond
			var renewals atomic.Int32
			var lostAt atomic.Pointer[time.Time]
			taken := time.Now()
			ctx, stop := KeepLease(context.Background(), ttl, func(ctx context.Context) (bool, error) {
				renewals.Add(1)
				return c.renew(ctx)
			}, func(err error) {
				now := time.Now()
				lostAt.Store(&now)
				if err == nil {
					t.Error("lost was told another holder has the lease")
				}
			})
			defer stop()
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("renewals that all failed let the work go on")
			}
			at := lostAt.Load()
			if at == nil {
				t.Fatal("the work stopped and lost was not told")
			}
			if held := at.Sub(taken); held >= ttl {
				t.Errorf("the work stopped %v after the lease was taken, once it had run out (%v)", held, ttl)
			} else if held < ttl/2 {
				t.Errorf("the work stopped %v after the lease was taken (%d renewals), with the lease still good until %v", held, renewals.Load(), ttl)
			}
		})
	}
}
