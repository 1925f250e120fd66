package store

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

// TestWritesWaitABoundedTime: another process (a portal command run beside
// portal serve) holds SQLite's write lock for long. However many writes of
// this process queue meanwhile, each fails as the database unavailable
// (IsUnavailable, answered 503) within about the busy timeout. Before, they
// queued for the one writing connection one after another, each then
// waiting its own busy timeout: the last of n waited n times as long, and a
// request behind a long queue hung for minutes.
func TestWritesWaitABoundedTime(t *testing.T) {
	sqliteOnly(t)
	defer func(old time.Duration) { busyWait = old }(busyWait)
	busyWait = 400 * time.Millisecond
	ctx := context.Background()
	s := openTest(t)
	other, err := sql.Open("sqlite", "file:"+s.path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, `ROLLBACK`)

	const n = 8
	type result struct {
		err  error
		took time.Duration
	}
	results := make(chan result, n)
	start := time.Now()
	for i := range n {
		go func() {
			var err error
			if i%2 == 0 {
				err = s.Audit(ctx, AuditRecord{Action: "test.write", Time: time.Now()})
			} else {
				err = s.TouchFailed(ctx, "no-such-upload", time.Now())
			}
			results <- result{err, time.Since(start)}
		}()
	}
	for range n {
		r := <-results
		if !IsUnavailable(r.err) {
			t.Errorf("a write while another process holds the database: %v, want it unavailable", r.err)
		}
		if limit := 2*busyWait + 500*time.Millisecond; r.took > limit {
			t.Errorf("a write waited %s for a database another process holds, want at most %s (busy timeout %s)", r.took.Round(time.Millisecond), limit, busyWait)
		}
	}
	// Once the other process lets go, writes go through at once.
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if err := s.Audit(ctx, AuditRecord{Action: "test.write", Time: time.Now()}); err != nil {
		t.Fatalf("a write once the database is free: %v", err)
	}
}
