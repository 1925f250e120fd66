package store

import (
	"context"
	"sync"
	"sync/atomic"
)

// Counter counts the statements sent to the database on behalf of one
// context (a request): queries, executions and transactions' begin and
// end. The cost of a request is the number of round trips it makes, so
// tests use it to prove that no request's cost grows with how much the
// portal holds.
type Counter struct {
	// Before, when set, is called with each statement's text before it is
	// sent, on the goroutine sending it: a test acts there between two
	// statements of one request. It is also called for statements sent
	// inside a transaction or while a write is under way, where a write of
	// its own would wait on, or be refused by, SQLite's one writer.
	Before func(q string)

	n    atomic.Int64
	rows atomic.Int64
	mu   sync.Mutex
	qs   []string
}

// Statements are the counted statements' texts, in order (a test's
// message, when a count changes).
func (c *Counter) Statements() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.qs...)
}

type counterKey struct{}

// WithCounter returns a context whose statements are counted by c.
func WithCounter(ctx context.Context) (context.Context, *Counter) {
	c := &Counter{}
	return context.WithValue(ctx, counterKey{}, c), c
}

// N is how many statements were counted.
func (c *Counter) N() int64 { return c.n.Load() }

// Rows is how many rows the counted queries returned (those read through
// queryAll and queryAtMost: every list the store reads; a single row read
// with QueryRow is not counted).
func (c *Counter) Rows() int64 { return c.rows.Load() }

func countRows(ctx context.Context, n int) {
	if c, ok := ctx.Value(counterKey{}).(*Counter); ok {
		c.rows.Add(int64(n))
	}
}

func count(ctx context.Context, q string) {
	if c, ok := ctx.Value(counterKey{}).(*Counter); ok {
		if c.Before != nil {
			c.Before(q)
		}
		c.n.Add(1)
		c.mu.Lock()
		if len(c.qs) < 1000 {
			c.qs = append(c.qs, q)
		}
		c.mu.Unlock()
	}
}
