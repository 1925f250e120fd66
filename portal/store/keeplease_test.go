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
	ctx, stop := KeepLease(context.Background(), time.Millisecond, func(context.Context) (bool, error) {
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
		ctx, stop := KeepLease(context.Background(), time.Millisecond, func(context.Context) (bool, error) {
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
