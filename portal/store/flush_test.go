package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestCommitsAreFlushed: on SQLite every write commits with the log
// synced (synchronous FULL = 2), so that what was answered survives a
// power cut; an upload's begin alone defers its flush (NORMAL = 1), and
// the writing connection is FULL again after it, whether it committed,
// rolled back or had its context cancelled.
func TestCommitsAreFlushed(t *testing.T) {
	sqliteOnly(t)
	s := openTest(t)
	ctx := context.Background()
	inTx := func(ctx context.Context) (n int, err error) {
		err = s.inTx(ctx, func(tx *Tx) error {
			return tx.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&n)
		})
		return n, err
	}
	outside := func() int {
		t.Helper()
		var n int
		if err := s.db.writes().QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := func(what string, got, want int) {
		t.Helper()
		if got != want {
			t.Errorf("%s: synchronous = %d, want %d", what, got, want)
		}
	}
	n, err := inTx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want("an act's transaction", n, 2)
	want("the writing connection", outside(), 2)

	if n, err = inTx(DeferFlush(ctx)); err != nil {
		t.Fatal(err)
	}
	want("a transaction whose flush is deferred", n, 1)
	want("the writing connection after it committed", outside(), 2)

	failed := errors.New("refused")
	if err := s.inTx(DeferFlush(ctx), func(*Tx) error { return failed }); !errors.Is(err, failed) {
		t.Fatalf("a deferred transaction that fails: %v", err)
	}
	want("the writing connection after a deferred transaction rolled back", outside(), 2)

	cctx, cancel := context.WithCancel(DeferFlush(ctx))
	err = s.inTx(cctx, func(tx *Tx) error {
		cancel()
		_, err := tx.ExecContext(cctx, `INSERT INTO pending_uploads (file_id, visit_id, started_at, touched_at) VALUES ('f', 'v', 'x', 'x')`)
		return err
	})
	if err == nil {
		t.Fatal("a transaction whose context was cancelled committed")
	}
	want("the writing connection after a deferred transaction was cancelled", outside(), 2)

	// The upload's begin defers; writers around it queue for the one
	// connection and every one of them is flushed.
	now := time.Now()
	visitV1(t, s, now)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- s.BeginNamedUpload(ctx, NewID(), "v1", "u1", "1.01", []byte{byte(i)}, now)
		}()
		go func() {
			defer wg.Done()
			n, err := inTx(ctx)
			if err == nil && n != 2 {
				err = errors.New("an act's transaction beside uploads' begins was not flushed")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want("the writing connection after the uploads' begins", outside(), 2)
}
