package store

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// writes is the handle writes and transactions go through: SQLite's
// writing connection, or the pool itself on PostgreSQL.
func (h *handle) writes() *handle {
	if h.w != nil {
		return h.w
	}
	return h
}

// TestTransactionNeedsOneConnection: a transaction runs on the connection
// it holds. A query it is the first to use must not wait for a second
// connection from the pool to prepare it: with every connection held by a
// transaction doing the same, nothing would move until the statement
// timeout (twenty case files asked for at once on PostgreSQL did this).
func TestTransactionNeedsOneConnection(t *testing.T) {
	s := openTest(t)
	s.db.SetMaxOpenConns(1)
	s.db.writes().SetMaxOpenConns(1)
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
	if _, ok := s.db.writes().stmts.Load(q); !ok {
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
	// Either index of a person's memberships (members_user, or
	// members_list, in the lists' order) serves it.
	if !slices.Contains(plan, "SEARCH members USING COVERING INDEX members_user (user_id=?)") &&
		!slices.Contains(plan, "SEARCH members USING COVERING INDEX members_list (user_id=?)") {
		t.Fatalf("a person's memberships are not found by index: %q", plan)
	}
}

// queryPlan is SQLite's plan for q, one line per step.
func queryPlan(t *testing.T, s *Store, q string, args ...any) []string {
	t.Helper()
	rows, err := s.db.DB.Query(`EXPLAIN QUERY PLAN `+q, args...)
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

// TestVisitPagesSeekTheCursor: a page of visits, the administrators'
// (every visit) or a member's, is read in the list's order from an index,
// starting at the cursor and stopping at the page's end. The
// administrators' later pages read the index from its start up to the
// cursor (a SCAN: the page after a thousand visits read a thousand), and
// a member's page sorted every visit they belong to (a TEMP B-TREE: a
// member of a thousand visits sorted a thousand on every request).
func TestVisitPagesSeekTheCursor(t *testing.T) {
	sqliteOnly(t)
	s := openTest(t)
	for _, q := range []struct{ name, sql, seek string }{
		{"the administrators'", visitPageAll, "INDEX visits_list (notification_date<?)"},
		{"a member's", visitPageMember, "INDEX members_list (user_id=? AND list_date<?)"},
	} {
		// Planned as it runs: with its values bound, not written in.
		args := make([]any, strings.Count(q.sql, "?"))
		for i := range args {
			args[i] = "2026-12-01"
		}
		args[len(args)-1] = 50
		plan := queryPlan(t, s, q.sql, args...)
		if !slices.ContainsFunc(plan, func(step string) bool { return strings.HasPrefix(step, "SEARCH ") && strings.HasSuffix(step, q.seek) }) ||
			slices.ContainsFunc(plan, func(step string) bool {
				return strings.Contains(step, "TEMP B-TREE") || strings.HasPrefix(step, "SCAN visits") || strings.HasPrefix(step, "SCAN members")
			}) {
			t.Errorf("%s page of visits is not read from the cursor in order (want a search of %s): %q", q.name, q.seek, plan)
		}
	}
}

// TestPageEventsFromACoveringIndex: the letter events of a page of visits
// are read from an index that holds what a status needs, in the order
// recorded: no row of the table is read, and nothing is sorted. Read
// through the index of a visit's events by time, each event's row was read
// and all of them sorted again, a tenth of a member's page of 50 visits
// with three events each.
func TestPageEventsFromACoveringIndex(t *testing.T) {
	sqliteOnly(t)
	s := openTest(t)
	plan := queryPlan(t, s, s.pageEvents(), `["v1","v2"]`)
	if !slices.Contains(plan, "SEARCH visit_events USING COVERING INDEX visit_events_replay (visit_id=?)") ||
		slices.ContainsFunc(plan, func(step string) bool { return strings.Contains(step, "TEMP B-TREE") }) {
		t.Fatalf("a page's events are not read in order from the covering index: %q", plan)
	}
}

// TestPageIDsReadOnce: the statements that read the rest of a page of
// visits by the page's ids (a JSON array) read the array once. On
// PostgreSQL, written as IN (SELECT json_array_elements_text(...)), the
// planner joined a member's memberships to the array in a nested loop and
// parsed the JSON again for each of them: 101 times for a member of 100
// visits, a millisecond and a half of the page's four.
func TestPageIDsReadOnce(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	u, err := s.SignIn(ctx, "https://i", "sub", "lead@x.example", "Lead", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	var members []Member
	var page []string
	for i := range 101 {
		id := fmt.Sprintf("v%03d", i)
		if err := s.CreateVisit(ctx, Visit{ID: id, Reference: "FV-" + id, TitleSealed: []byte("t"), Provider: "Cafcass", RetentionDays: 30, NotificationDate: now, FieldworkStart: now,
			State: "active", Bucket: "b" + id, CreatedAt: now, CreatedBy: "system"}, VisitKey{VisitID: id, Wrapped: []byte("w"), Fingerprint: "f", CreatedAt: now}, nil, nil); err != nil {
			t.Fatal(err)
		}
		members = append(members, Member{ID: "m" + id, VisitID: id, Role: "lead_inspector", UserID: u.ID, CreatedAt: now, UpdatedAt: now})
		if i%2 == 0 {
			page = append(page, id)
		}
	}
	if err := s.SeedMembers(ctx, members); err != nil {
		t.Fatal(err)
	}
	ids, err := json.Marshal(page)
	if err != nil {
		t.Fatal(err)
	}
	in := s.inIDs("visit_id")
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`SELECT ` + memberColumns + ` FROM members WHERE user_id = ? AND ` + in, []any{u.ID, string(ids)}},
		{`SELECT id FROM visit_events WHERE ` + in, []any{string(ids)}},
		{`SELECT visit_id FROM destruction_notices WHERE ` + in, []any{string(ids)}},
		{`SELECT visit_id FROM retention_failures WHERE ` + in, []any{string(ids)}},
	} {
		n, err := queryAll(ctx, s.db, func(sc scanner) (int, error) { return 0, nil }, q.sql, q.args...)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(q.sql, "SELECT "+memberColumns) && len(n) != len(page) {
			t.Errorf("%d memberships on the page, want %d", len(n), len(page))
		}
		if !s.db.pg {
			continue
		}
		plan := pgPlan(t, s, `EXPLAIN ANALYZE `+q.sql, q.args...)
		for i, line := range plan {
			if strings.Contains(line, "ProjectSet") && !strings.Contains(line, "loops=1)") {
				t.Errorf("the page's ids are read more than once:\n%s", strings.Join(plan[max(0, i-4):], "\n"))
			}
		}
	}
}

// TestSupersedeFindsTheFileByKey: committing a new version finds the file
// it replaces by key, on both databases, whatever the statistics say. On
// PostgreSQL, with the statistics of a young table, the statement
// written with IN (SELECT ...) was planned as a scan of every file, which
// a cached plan kept as the table grew.
func TestSupersedeFindsTheFileByKey(t *testing.T) {
	s := openTest(t)
	if !s.db.pg {
		plan := queryPlan(t, s, strings.NewReplacer("?", "'x'").Replace(supersedeFile))
		for _, line := range plan {
			if strings.HasPrefix(line, "SCAN files") {
				t.Fatalf("the replaced file is found by reading every file: %q", plan)
			}
		}
		return
	}
	plan := pgPlan(t, s, `EXPLAIN `+supersedeFile, "new", "2026-12-01T00:00:00Z", "new")
	for _, line := range plan {
		if strings.Contains(line, "Seq Scan on files") {
			t.Fatalf("the replaced file is found by reading every file:\n%s", strings.Join(plan, "\n"))
		}
	}
}

// TestTriggersFindRowsByKey: what the triggers run on every upload,
// delete and refile reads the rows it needs by key, never a whole table
// that grows with the portal. On PostgreSQL, "x NOT IN (SELECT id FROM
// files)" is never an anti-join: it read every file's id, on every
// upload's commit (the trigger on its pending record), which made small
// uploads on PostgreSQL slower the more files the portal held.
func TestTriggersFindRowsByKey(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	var bodies []string
	q := `SELECT sql FROM sqlite_master WHERE type = 'trigger'`
	if s.db.pg {
		q = `SELECT p.prosrc FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal`
	}
	rows, err := s.db.DB.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	rows.Close()
	slices.Sort(bodies)
	bodies = slices.Compact(bodies) // triggers may share a function
	if len(bodies) < 3 {
		t.Fatalf("found %d triggers", len(bodies))
	}
	// OLD.col and NEW.col become a value; each statement of a body is
	// planned as the trigger runs it for one row.
	row := regexp.MustCompile(`\b(OLD|NEW)\.[a-z_]+`)
	growing := regexp.MustCompile(`(Seq Scan on|^SCAN) (files|file_names|audit|members|visits|pending_uploads)\b`)
	checked := 0
	for _, b := range bodies {
		if i := strings.Index(b, "BEGIN"); i >= 0 {
			b = b[i+len("BEGIN"):]
		}
		for _, stmt := range strings.Split(b, ";") {
			stmt = strings.TrimSpace(row.ReplaceAllString(stmt, "'x'"))
			if !strings.HasPrefix(stmt, "INSERT") && !strings.HasPrefix(stmt, "UPDATE") && !strings.HasPrefix(stmt, "DELETE") {
				continue
			}
			checked++
			var plan []string
			if s.db.pg {
				plan = pgPlan(t, s, `EXPLAIN `+stmt)
			} else {
				plan = queryPlan(t, s, stmt)
			}
			for _, line := range plan {
				if growing.MatchString(strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), "->"))) {
					t.Errorf("a trigger reads a whole table:\n%s\n%s", stmt, strings.Join(plan, "\n"))
					break
				}
			}
		}
	}
	if checked < 3 {
		t.Fatalf("checked %d statements of triggers", checked)
	}
}

// pgPlan is PostgreSQL's plan for an EXPLAIN statement (? bound), one
// line per row.
func pgPlan(t *testing.T, s *Store, explain string, args ...any) []string {
	t.Helper()
	rows, err := s.db.DB.Query(s.db.bind(explain), args...)
	if err != nil {
		t.Fatalf("%s: %v", explain, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	return plan
}

// TestWritesShareOneConnection: on SQLite every write of the process goes
// through one connection, so concurrent writers queue for it in the
// process and its page cache is never dropped. PRAGMA data_version, read
// twice on one connection, differs when another connection has committed
// between: before, writes went through whichever connection of the pool
// was free, so every connection's cache was dropped by the next write of
// another (and each waiting writer slept in SQLite's busy handler).
func TestWritesShareOneConnection(t *testing.T) {
	sqliteOnly(t)
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE written (n INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	w := s.db.writes()
	version := func() int {
		t.Helper()
		var v int
		if err := w.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := version()
	const writers, each = 8, 20
	errs := make(chan error, writers)
	for g := range writers {
		go func() {
			var err error
			for i := range each {
				if i%2 == 0 {
					err = s.inTx(ctx, func(tx *Tx) error {
						_, err := tx.ExecContext(ctx, `INSERT INTO written (n) VALUES (?)`, g*each+i)
						return err
					})
				} else {
					_, err = s.db.ExecContext(ctx, `INSERT INTO written (n) VALUES (?)`, g*each+i)
				}
				if err == nil {
					// A read between writes, on the pool.
					var n int
					err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM written`).Scan(&n)
				}
				if err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM written`).Scan(&n); err != nil || n != writers*each {
		t.Fatalf("%d rows written (%v), want %d", n, err, writers*each)
	}
	if after := version(); after != before {
		t.Errorf("the writing connection's data_version moved from %d to %d: another connection of the process wrote", before, after)
	}
	if st := w.Stats(); st.MaxOpenConnections != 1 {
		t.Errorf("writes go through a pool of %d connections, want 1", st.MaxOpenConnections)
	}
}
