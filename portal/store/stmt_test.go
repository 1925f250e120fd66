package store

import (
	"context"
	"testing"
	"time"
)

// TestTransactionNeedsOneConnection: a transaction runs on the connection
// it holds. A query it is the first to use must not wait for a second
// connection from the pool to prepare it: with every connection held by a
// transaction doing the same, nothing would move until the statement
// timeout (twenty case files asked for at once on PostgreSQL did this).
func TestTransactionNeedsOneConnection(t *testing.T) {
	s := openTest(t)
	s.db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const q = `SELECT COUNT(*) FROM visits WHERE id <> ? AND state <> 'a query no one else runs'`
	run := func() {
		t.Helper()
		err := s.inTx(ctx, func(tx *Tx) error {
			var n int
			return tx.QueryRowContext(ctx, q, "none").Scan(&n)
		})
		if err != nil {
			t.Fatalf("a transaction on a pool of one: %v", err)
		}
	}
	run()
	// Once the transaction is over, the query is prepared for the next.
	if _, ok := s.db.stmts.Load(q); !ok {
		t.Error("the query was not prepared after the transaction")
	}
	run()
}
