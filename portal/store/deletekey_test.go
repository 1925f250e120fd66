package store

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
)

// destroyingV1 creates v1 with its key wrapped to epoch e0 (as w0) and
// begins its destruction, which records e0.
func destroyingV1(t *testing.T, s *Store, now time.Time, w0 []byte) {
	t.Helper()
	ctx := context.Background()
	visitV1(t, s, now)
	if _, err := s.GiveNotice(ctx, "v1", publishedOn(t, s, "v1", now), now, now, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartEpoch(ctx, Epoch{ID: "e0", Recipient: "r0", CreatedAt: now}, now.Add(time.Hour), func(VisitKey) ([]byte, error) { return w0, nil }); err != nil {
		t.Fatal(err)
	}
	version, err := s.FilesVersion(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.BeginDestruction(ctx, Destruction{VisitID: "v1", Reference: "FV-1", Files: "[]", StartedAt: now, FilesVersion: version, KeyEpoch: "e0", NoticeGivenAt: now}); err != nil {
		t.Fatal(err)
	}
}

// keyWrapping returns 100 bytes standing for a wrapped key.
func keyWrapping(b byte) []byte { return bytes.Repeat([]byte{b}, 100) }

// checkDeletedFrom checks that the destruction of v1 records the epoch and
// the probe of the wrapping its key was deleted as.
func checkDeletedFrom(t *testing.T, s *Store, epoch string, wrapped []byte) {
	t.Helper()
	ctx := context.Background()
	d, err := s.GetDestruction(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if d.KeyEpoch != epoch {
		t.Errorf("the destruction records key epoch %s; the key was deleted while wrapped to %s", d.KeyEpoch, epoch)
	}
	var probe []byte
	if err := s.db.QueryRowContext(ctx, `SELECT key_probe FROM destructions WHERE visit_id = ?`, "v1").Scan(&probe); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(probe, keyProbe(wrapped)) {
		t.Errorf("the key-gone check would search for bytes of another wrapping than the one deleted")
	}
}

// TestDeleteKeyRecordsTheEpochItDeletesFrom: a key that moved to another
// epoch after its destruction began is deleted from that epoch, and that
// is the epoch the destruction then supersedes and names.
func TestDeleteKeyRecordsTheEpochItDeletesFrom(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	destroyingV1(t, s, now, keyWrapping(1))
	w1 := keyWrapping(2)
	if _, err := s.StartEpoch(ctx, Epoch{ID: "e1", Recipient: "r1", CreatedAt: now.Add(time.Minute)}, now.Add(time.Hour), func(VisitKey) ([]byte, error) { return w1, nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	checkDeletedFrom(t, s, "e1", w1)
	// Run again (a resumed destruction), the key already gone: what was
	// recorded stays.
	if err := s.DeleteKey(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	if d, err := s.GetDestruction(ctx, "v1"); err != nil || d.KeyEpoch != "e1" {
		t.Fatalf("after a second run the destruction records %q: %v", d.KeyEpoch, err)
	}
}

// TestDeleteKeyWaitsForAMoveOfTheKey: on PostgreSQL a key deletion that
// meets a move of the key to a new epoch, not yet committed, waits for it
// and then records the epoch and the bytes it deletes, not those it would
// have read before the move.
func TestDeleteKeyWaitsForAMoveOfTheKey(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("SQLite runs one write transaction at a time")
	}
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	destroyingV1(t, s, now, keyWrapping(1))
	w1 := keyWrapping(2)
	move, err := s.db.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer move.Rollback()
	if _, err := move.ExecContext(ctx, `INSERT INTO key_epochs (id, recipient, created_at) VALUES ($1, $2, $3)`, "e1", "r1", formatTime(now)); err != nil {
		t.Fatal(err)
	}
	if _, err := move.ExecContext(ctx, `UPDATE visit_keys SET wrapped = $1, epoch = $2 WHERE visit_id = $3`, w1, "e1", "v1"); err != nil {
		t.Fatal(err)
	}
	deleted := make(chan error, 1)
	go func() { deleted <- s.DeleteKey(ctx, "v1") }()
	for waiting := 0; waiting == 0; {
		if err := s.db.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-deleted:
			t.Fatalf("the deletion did not wait for the move: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := move.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-deleted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the deletion did not finish")
	}
	checkDeletedFrom(t, s, "e1", w1)
}

// publishedOn records the publication of visit id on day, as a notice
// needs (GiveNotice gives none for a publication the visit does not
// have), and returns day.
func publishedOn(t *testing.T, s *Store, id string, day time.Time) time.Time {
	t.Helper()
	if _, err := s.AddEvent(context.Background(), Event{VisitID: id, Event: "published", Date: day, RecordedBy: "u", RecordedAt: time.Now()}, func([]Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return day
}
