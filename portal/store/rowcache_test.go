package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestVisitListsSeeEveryChange: the lists of visits take their rows from
// the process's memory (rowcache.go) while each visit's row_version is the
// one kept, so every change to what a list shows of a visit must move its
// version: after each change made through the store, the administrators'
// page, its warnings and a member's page are what the database gives when
// read afresh (visitRows, which keeps nothing).
func TestVisitListsSeeEveryChange(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(24 * time.Hour)
	threeVisits(t, s, now, 60)
	v3Published := publishedOn(t, s, "v3", now.AddDate(0, 0, -25)) // what its notice is given on
	u, err := s.SignIn(ctx, "https://ofsted.example", "sub-lead", "lead@ofsted.example", "Lead", []string{"lead_inspector"}, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"v1", "v2", "v3"} {
		if _, _, err := s.PutMember(ctx, Member{VisitID: id, Issuer: u.Issuer, Subject: u.Subject, UserID: u.ID, Role: "lead_inspector"}, now); err != nil {
			t.Fatal(err)
		}
	}
	same := func(step, list string, got, want []VisitRow) {
		t.Helper()
		for i := range got {
			got[i].version = 0
		}
		for i := range want {
			want[i].version = 0
		}
		if len(got) != len(want) {
			t.Errorf("after %s, %s shows %d visits, the database %d", step, list, len(got), len(want))
			return
		}
		for i := range got {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("after %s, %s shows %s as\n   %+v\nthe database has\n   %+v", step, list, got[i].ID, got[i], want[i])
			}
		}
	}
	check := func(step string) {
		t.Helper()
		page, warned, _, err := s.VisitPageWarned(ctx, "nobody", VisitCursor{}, 50, 10)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.visitRows(ctx, "nobody", 50, visitPageAll, VisitCursor{}.args(50))
		if err != nil {
			t.Fatal(err)
		}
		same(step, "the administrators' list", page, want)
		want, err = s.visitRows(ctx, "nobody", 10, warnedVisits, []any{10})
		if err != nil {
			t.Fatal(err)
		}
		same(step, "its warnings", warned, want)
		mine, err := s.VisitPage(ctx, u.ID, false, VisitCursor{}, 50)
		if err != nil {
			t.Fatal(err)
		}
		want, err = s.visitRows(ctx, u.ID, 50, visitPageMember, append([]any{u.ID}, VisitCursor{}.args(50)...))
		if err != nil {
			t.Fatal(err)
		}
		same(step, "a member's list", mine, want)
	}
	check("the first page")
	if n := s.rows.len(); n != 3 {
		t.Fatalf("%d visits kept after a page of three: the lists keep nothing", n)
	}
	at := now.Add(-time.Hour)
	event := Event{VisitID: "v1", Event: "draft_sent", Date: now.AddDate(0, 0, -3), RecordedBy: "lead", RecordedAt: at}
	for _, step := range []struct {
		name string
		do   func() error
	}{
		{"a letter event", func() error {
			_, err := s.AddEvent(ctx, event, func([]Event) error { return nil })
			return err
		}},
		{"a legal hold", func() error {
			_, err := s.SetLegalHold(ctx, "v2", LegalHold{On: true, ReasonSealed: []byte("sealed"), At: at})
			return err
		}},
		{"the hold lifted", func() error {
			_, err := s.SetLegalHold(ctx, "v2", LegalHold{At: at.Add(time.Minute)})
			return err
		}},
		{"a destruction notice", func() error {
			_, err := s.GiveNotice(ctx, "v3", v3Published, now.AddDate(0, 0, 5), at, 0)
			return err
		}},
		{"the destruction approved", func() error {
			return s.ApproveDestruction(ctx, "v3", givenAt(t, s, "v3"), "admin-user", "https://ofsted.example", "sub-admin", "admin@ofsted.example", at)
		}},
		{"a failed destruction", func() error {
			_, err := s.RecordFailure(ctx, "v1", "the store did not answer", at, func(int) time.Time { return at.Add(time.Hour) })
			return err
		}},
		{"a second failure", func() error {
			_, err := s.RecordFailure(ctx, "v1", "the store refused", at, func(int) time.Time { return at.Add(2 * time.Hour) })
			return err
		}},
		{"the failure cleared", func() error { return s.ClearFailure(ctx, "v1") }},
		{"the dates corrected", func() error {
			return s.SetVisitDates(ctx, "v2", now.AddDate(0, 0, -59), now.AddDate(0, 0, -58))
		}},
		{"the event withdrawn", func() error {
			_, _, err := s.WithdrawLastEvent(ctx, "v1", event, at.Add(time.Minute))
			return err
		}},
		{"the state", func() error { return s.SetVisitState(ctx, "v3", "destroying") }},
		{"the key deleted", func() error { return s.DeleteKey(ctx, "v3") }},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		check(step.name)
	}
}

// TestRowVersionFollowsTheListsColumns: every column of a visit that the
// lists read (visitRowColumns) moves its row_version when written, by any
// statement (the test writes each as it is), so a column added to the
// lists without adding it to the trigger fails here; and a write of a
// column the lists do not read (files_version, moved by every upload)
// leaves it, so uploads do not empty the lists' memory.
func TestRowVersionFollowsTheListsColumns(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	threeVisits(t, s, time.Now().UTC().Truncate(24*time.Hour), 0)
	version := func() int64 {
		t.Helper()
		var v int64
		if err := s.db.QueryRowContext(ctx, `SELECT row_version FROM visits WHERE id = 'v1'`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	cols, _, _ := strings.Cut(visitRowColumns, ", (SELECT")
	n := 0
	for _, col := range strings.Split(cols, ",") {
		col = strings.TrimPrefix(strings.TrimSpace(col), "visits.")
		if col == "id" {
			continue // the key: never written
		}
		before := version()
		if _, err := s.db.ExecContext(ctx, fmt.Sprintf(`UPDATE visits SET %s = %s WHERE id = 'v1'`, col, col)); err != nil {
			t.Fatal(err)
		}
		if version() == before {
			t.Errorf("writing visits.%s leaves the visit's row_version: the lists would show it as it was", col)
		}
		n++
	}
	if n < 13 {
		t.Fatalf("checked %d columns", n)
	}
	before := version()
	if _, err := s.db.ExecContext(ctx, `UPDATE visits SET files_version = files_version + 1 WHERE id = 'v1'`); err != nil {
		t.Fatal(err)
	}
	if version() != before {
		t.Error("a change to the visit's files moves its row_version: every upload would read its row again")
	}
}

// TestRowVersionTakesTheVisitFirst: the triggers that move a visit's
// row_version write the visit's row, so every act that writes a visit's
// notice, failure or letter events takes the visit's row first, as the
// acts that write the visit and then its notice do (a legal hold set
// withdraws the notice): on PostgreSQL, an approval that wrote the notice
// and then, by trigger, the visit, waited for a hold being set while the
// hold waited for it, and one of the two was refused as a deadlock.
func TestRowVersionTakesTheVisitFirst(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(24 * time.Hour)
	threeVisits(t, s, now, 60)
	at := now.Add(-time.Hour)
	for _, id := range []string{"v1", "v2", "v3"} {
		if _, err := s.GiveNotice(ctx, id, publishedOn(t, s, id, now.AddDate(0, 0, -25)), now.AddDate(0, 0, 5), at, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, act := range []struct {
		name, visit string
		do          func() error
	}{
		{"an approval", "v1", func() error {
			err := s.ApproveDestruction(ctx, "v1", givenAt(t, s, "v1"), "admin-user", "https://ofsted.example", "sub-admin", "admin@ofsted.example", at)
			if errors.Is(err, ErrNotFound) || errors.Is(err, ErrOnHold) {
				return nil // the hold came first: it is refused
			}
			return err
		}},
		{"a failed destruction", "v2", func() error {
			_, err := s.RecordFailure(ctx, "v2", "the store did not answer", at, func(int) time.Time { return at.Add(time.Hour) })
			return err
		}},
		{"a failure cleared", "v3", func() error { return s.ClearFailure(ctx, "v3") }},
	} {
		if act.visit == "v3" {
			if _, err := s.RecordFailure(ctx, "v3", "the store did not answer", at, func(int) time.Time { return at.Add(time.Hour) }); err != nil {
				t.Fatal(err)
			}
		}
		// A hold being set: the visit's row written, then (after the act
		// has begun) its notice and failure.
		holding, release := make(chan struct{}), make(chan struct{})
		holdErr := make(chan error, 1)
		go func() {
			holdErr <- s.inTx(ctx, func(tx *Tx) error {
				if _, err := tx.ExecContext(ctx, `UPDATE visits SET legal_hold = 1 WHERE id = ?`, act.visit); err != nil {
					return err
				}
				close(holding)
				<-release
				if _, err := tx.ExecContext(ctx, `DELETE FROM destruction_notices WHERE visit_id = ?`, act.visit); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `DELETE FROM retention_failures WHERE visit_id = ?`, act.visit)
				return err
			})
		}()
		<-holding
		actErr := make(chan error, 1)
		go func() { actErr <- act.do() }()
		time.Sleep(300 * time.Millisecond) // the act waits, or holds its row
		close(release)
		if err := <-holdErr; err != nil {
			t.Errorf("%s beside a hold being set: the hold: %v", act.name, err)
		}
		if err := <-actErr; err != nil {
			t.Errorf("%s beside a hold being set: %v", act.name, err)
		}
	}
}

// TestRowCacheIsBoundedAndShared: the lists' memory holds at most
// rowCacheSize visits, and what it gives is a copy: a caller changing a
// row it was given (its events, notice, failure, sealed title) changes
// nothing kept.
func TestRowCacheIsBoundedAndShared(t *testing.T) {
	var c rowCache
	for i := range rowCacheSize + 10 {
		c.put(VisitRow{Visit: Visit{ID: fmt.Sprintf("v%d", i)}}, 1)
	}
	if n := c.len(); n != rowCacheSize {
		t.Fatalf("%d visits kept, want at most %d", n, rowCacheSize)
	}
	r := VisitRow{Visit: Visit{ID: "x", TitleSealed: []byte("sealed")}, Events: []Event{{Event: "draft_sent"}}, Notice: &Notice{VisitID: "x"}, Failure: &Failure{Attempts: 1},
		Member: &Member{ID: "m"}}
	c.put(r, 7)
	r.Events[0].Event, r.Notice.VisitID, r.Failure.Attempts, r.TitleSealed[0] = "changed", "changed", 9, 'S'
	got, ok := c.get("x", 7)
	if !ok {
		t.Fatal("the row just kept is not found")
	}
	if got.Member != nil {
		t.Error("a membership was kept: it is the person's, read with every page")
	}
	got.Events[0].Event, got.Notice.VisitID, got.Failure.Attempts = "changed", "changed", 9
	again, _ := c.get("x", 7)
	if again.Events[0].Event != "draft_sent" || again.Notice.VisitID != "x" || again.Failure.Attempts != 1 || string(again.TitleSealed) != "sealed" {
		t.Errorf("what is kept changed with a caller's copy: %+v", again)
	}
	if _, ok := c.get("x", 8); ok {
		t.Error("a row was given for a version other than the one kept")
	}
}

// givenAt is when visit id's destruction notice was given: what an
// approval names.
func givenAt(t *testing.T, s *Store, id string) time.Time {
	t.Helper()
	n, err := s.GetNotice(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n.GivenAt
}
