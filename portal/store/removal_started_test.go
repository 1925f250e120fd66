package store

import (
	"context"
	"testing"
	"time"
)

// TestRemovalStartedGivenAtMigration: the destructions under way when
// the upgrade to version 49 runs whose key was destroyed may have begun
// removing their bucket, and are taken to have (as the version before
// took every bucket it did not find); the others have not, and a
// destruction already past step c needs no mark.
func TestRemovalStartedGivenAtMigration(t *testing.T) {
	ctx := context.Background()
	open := testDatabaseAt(t)
	old, err := open(Defaults{RetentionDays: 30}, 48)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	keyGone := now.Add(-time.Hour)
	for _, d := range []struct {
		id               string
		keyGone, objects any
	}{
		{"under-way", formatTime(keyGone), nil},
		{"key-kept", nil, nil},
		{"removed", formatTime(keyGone), formatTime(now)},
	} {
		if _, err := old.DB().Exec(`INSERT INTO visits (id, reference, title_sealed, provider, notification_date, fieldwork_start, retention_days, state, bucket, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.id, "FV-"+d.id, []byte("t"), "Cafcass", now.Format(dateFormat), now.Format(dateFormat), 30, "destroying", "b-"+d.id, formatTime(now), "system"); err != nil {
			t.Fatal(err)
		}
		if _, err := old.DB().Exec(`INSERT INTO destructions (visit_id, reference, key_fingerprint, files, started_at, key_destroyed_at, objects_deleted_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, d.id, "FV-"+d.id, "fp", "[]", formatTime(now.Add(-2*time.Hour)), d.keyGone, d.objects); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	s, err := open(Defaults{RetentionDays: 30}, latestVersion())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id, want := range map[string]time.Time{"under-way": keyGone, "key-kept": {}, "removed": {}} {
		d, err := s.GetDestruction(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !d.RemovalStartedAt.Equal(want) {
			t.Errorf("%s: removal started at %v after the upgrade, want %v", id, d.RemovalStartedAt, want)
		}
	}
	// Marked once: a later run keeps the first time.
	if err := s.MarkRemovalStarted(ctx, "key-kept", now); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRemovalStarted(ctx, "key-kept", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.GetDestruction(ctx, "key-kept"); !d.RemovalStartedAt.Equal(now) {
		t.Errorf("marked twice: %v, want the first, %v", d.RemovalStartedAt, now)
	}
}
