package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestAbandonedVersionGivesTheNameBack: a new version of a file takes the
// file's name while it streams (ReserveReplacement). However it ends
// without a file (the janitor's sweep of an upload cut off by a crash, an
// upload that failed in the process, an abandoned resumable upload, or a
// reservation never begun), the name goes back to the file, which stays
// its holder: a second file of the name in the item is refused, and the
// file can be replaced again.
func TestAbandonedVersionGivesTheNameBack(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now()
	u := visitV1(t, s, now)
	index := []byte("report-index")
	if err := s.BeginNamedUpload(ctx, "f1", "v1", u.ID, "1.01", index, now); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitFile(ctx, File{ID: "f1", VisitID: "v1", NameSealed: []byte("n"), Item: "1.01", SHA256: "x", SegmentSize: 1, Segments: 1, UploadedBy: u.ID, UploadedAt: now}); err != nil {
		t.Fatal(err)
	}
	holdsItsName := func(how string) {
		t.Helper()
		if err := s.ReserveName(ctx, "v1", "1.01", "other", index, now); !errors.Is(err, ErrNameTaken) {
			t.Fatalf("after a new version %s, a second file of the name in the item: %v, want it taken by the file", how, err)
		}
		if f, err := s.NameHolder(ctx, "v1", "1.01", index); err != nil || f.ID != "f1" {
			t.Fatalf("after a new version %s, the name's holder: %q %v, want f1", how, f.ID, err)
		}
	}
	replace := func(newID string) {
		t.Helper()
		if err := s.ReserveReplacement(ctx, "v1", "f1", newID, now); err != nil {
			t.Fatalf("replace f1 by %s: %v", newID, err)
		}
	}

	// Cut off by a crash: the janitor takes it, removes its objects and
	// forgets it.
	replace("n1")
	if err := s.BeginUpload(ctx, "n1", "v1", u.ID, now); err != nil {
		t.Fatal(err)
	}
	if err := s.AbandonUpload(ctx, "n1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.EndUpload(ctx, "n1"); err != nil {
		t.Fatal(err)
	}
	holdsItsName("cut off by a crash")

	// Failed in the process: its record ended, then its name released.
	replace("n2")
	if err := s.BeginUpload(ctx, "n2", "v1", u.ID, now); err != nil {
		t.Fatal(err)
	}
	if err := s.FailUpload(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if err := s.EndUpload(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseName(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	holdsItsName("that failed")

	// Reserved, and never begun (a crash in between): swept.
	replace("n3")
	if err := s.SweepNames(ctx, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	holdsItsName("never begun")

	// And the file can still be replaced, and then is.
	replace("n4")
	if err := s.BeginUpload(ctx, "n4", "v1", u.ID, now); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitFile(ctx, File{ID: "n4", VisitID: "v1", NameSealed: []byte("n"), Item: "1.01", SHA256: "y", SegmentSize: 1, Segments: 1, UploadedBy: u.ID, UploadedAt: now}); err != nil {
		t.Fatal(err)
	}
	if f, err := s.File(ctx, "v1", "f1"); err != nil || f.SupersededBy != "n4" {
		t.Fatalf("f1 after its new version: %+v %v", f, err)
	}
	var left int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM file_replacements WHERE new_file_id IN ('n1', 'n2', 'n3')`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d replacements of versions that stored nothing are left (%v)", left, err)
	}
}
