package store

import (
	"context"
	"slices"
	"strings"
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

// TestItemCountsFromAnIndex: the information request's counts of a visit's
// standing files by item read one index, not each file's row (13 ms
// at 20,000 files before, 5 ms after, on SQLite).
func TestItemCountsFromAnIndex(t *testing.T) {
	sqliteOnly(t)
	s := openTest(t)
	plan := queryPlan(t, s, `SELECT item, COUNT(*) FROM files WHERE visit_id = 'v' AND withdrawn_at IS NULL AND superseded_by IS NULL GROUP BY item`)
	if !slices.Contains(plan, "SEARCH files USING COVERING INDEX files_item_standing (visit_id=?)") {
		t.Fatalf("the item counts do not read the covering index: %q", plan)
	}
}

// TestMemberVisitsFromAnIndex: a person's list of visits finds their
// memberships by index, not by reading every visit's members (the
// member's list grew 4.8 times from 100 to 1,000 visits without it).
func TestMemberVisitsFromAnIndex(t *testing.T) {
	sqliteOnly(t)
	s := openTest(t)
	plan := queryPlan(t, s, `SELECT visit_id FROM members WHERE user_id = 'u'`)
	if !slices.Contains(plan, "SEARCH members USING COVERING INDEX members_user (user_id=?)") {
		t.Fatalf("a person's memberships are not found by index: %q", plan)
	}
}

// queryPlan is SQLite's plan for q, one line per step.
func queryPlan(t *testing.T, s *Store, q string) []string {
	t.Helper()
	rows, err := s.db.DB.Query(`EXPLAIN QUERY PLAN ` + q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return plan
}

// TestVisitListFromAnIndex: the administrators' page of visits reads the
// visits in the list's order from an index and stops at the page's end;
// it sorted every visit the portal holds for each statement of the page.
func TestVisitListFromAnIndex(t *testing.T) {
	sqliteOnly(t)
	s := openTest(t)
	plan := queryPlan(t, s, strings.NewReplacer("?", "'x'").Replace(visitPageAll))
	if !slices.ContainsFunc(plan, func(step string) bool {
		return strings.Contains(step, "USING INDEX visits_list") || strings.Contains(step, "USING COVERING INDEX visits_list")
	}) ||
		slices.ContainsFunc(plan, func(step string) bool { return strings.Contains(step, "TEMP B-TREE") }) {
		t.Fatalf("the page of visits is sorted, not read in order: %q", plan)
	}
}
