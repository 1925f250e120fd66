package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
)

// testDatabaseAt is testDatabase for a test of a migration: what it
// returns opens the database brought to a given schema version, with
// the given settings.
func testDatabaseAt(t *testing.T) func(d Defaults, version int) (*Store, error) {
	t.Helper()
	ctx := context.Background()
	if pgserver.TestDatabaseWanted() {
		url, err := pgserver.NewTestDatabase(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return func(d Defaults, version int) (*Store, error) {
			return openPostgres(ctx, url, PostgresOptions{Defaults: d}, version)
		}
	}
	path := filepath.Join(t.TempDir(), "t.db")
	return func(d Defaults, version int) (*Store, error) { return openSQLite(ctx, path, d, version) }
}

// TestRetentionPeriodGivenAtMigration: the visits that kept no retention
// period of their own (created at the portal's default, which each
// process then read from its own PORTAL_RETENTION_DAYS at each use) are
// given the setting in force when the upgrade runs, once: a later start
// with another setting leaves them as they are, and a visit's own period
// is kept. An upgrade with no setting to give refuses rather than guess.
// From then on the store writes no visit without a period.
func TestRetentionPeriodGivenAtMigration(t *testing.T) {
	ctx := context.Background()
	open := testDatabaseAt(t)
	old, err := open(Defaults{}, 29)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	insert := func(s *Store, id string, days any) error {
		_, err := s.DB().Exec(`INSERT INTO visits (id, reference, title_sealed, provider, notification_date, fieldwork_start, retention_days, state, bucket, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, "FV-"+id, []byte("t"), "Cafcass", now.Format(dateFormat), now.Format(dateFormat), days, "active", "b-"+id, formatTime(now), "system")
		return err
	}
	// As version 29 stored them: a visit at the portal's default, with no
	// period, and one given its own.
	if err := insert(old, "default", nil); err != nil {
		t.Fatal(err)
	}
	if err := insert(old, "own", 90); err != nil {
		t.Fatal(err)
	}
	old.Close()

	if s, err := open(Defaults{}, latestVersion()); err == nil || !strings.Contains(err.Error(), "PORTAL_RETENTION_DAYS") {
		if err == nil {
			s.Close()
		}
		t.Fatalf("an upgrade with no retention period to give the visits without one: %v, want a refusal naming PORTAL_RETENTION_DAYS", err)
	}
	days := func(s *Store, id string) int {
		t.Helper()
		v, err := s.Visit(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return v.RetentionDays
	}
	s, err := open(Defaults{RetentionDays: 30}, latestVersion())
	if err != nil {
		t.Fatal(err)
	}
	if got, own := days(s, "default"), days(s, "own"); got != 30 || own != 90 {
		t.Fatalf("after the upgrade at 30 days: the default visit keeps %d, the one with its own period %d; want 30 and 90", got, own)
	}
	s.Close()

	// Restarted with another setting: nothing moves.
	s, err = open(Defaults{RetentionDays: 10}, latestVersion())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := days(s, "default"); got != 30 {
		t.Fatalf("restarted at 10 days, the visit given 30 at the upgrade keeps %d", got)
	}

	// No visit without a period: the store writes none, and PostgreSQL,
	// which several instances (of several versions, during an upgrade)
	// share, refuses one from any writer.
	v := Visit{ID: "none", Reference: "FV-none", TitleSealed: []byte("t"), Provider: "Cafcass", NotificationDate: now, FieldworkStart: now,
		State: "active", Bucket: "b-none", CreatedAt: now, CreatedBy: "system"}
	if err := s.CreateVisit(ctx, v, VisitKey{VisitID: v.ID, Wrapped: []byte("w"), Fingerprint: "f", CreatedAt: now}, nil, nil); err == nil {
		t.Fatal("the store created a visit with no retention period")
	}
	if !s.DB().Postgres() {
		return
	}
	for _, bad := range []any{nil, 0} {
		if err := insert(s, "raw", bad); err == nil || !strings.Contains(err.Error(), "visits_retention_days") {
			t.Fatalf("a visit inserted with retention_days %v: %v, want the database's refusal", bad, err)
		}
		if _, err := s.DB().Exec(`UPDATE visits SET retention_days = ? WHERE id = ?`, bad, "default"); err == nil || !strings.Contains(err.Error(), "visits_retention_days") {
			t.Fatalf("a visit's retention_days set to %v: %v, want the database's refusal", bad, err)
		}
	}
}
