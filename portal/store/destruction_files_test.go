package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
)

// TestFilesAndDestructionWaitForEachOther: on PostgreSQL a destruction
// beginning and a file being stored in the same visit are ordered by the
// visit's row. A change to the visit's files that commits while the
// destruction waits for the row stops it (the files it listed are no
// longer the visit's); a file whose commit waits for a destruction that
// began is refused.
func TestFilesAndDestructionWaitForEachOther(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("SQLite runs one write transaction at a time")
	}
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	u := visitV1(t, s, now)
	if _, err := s.GiveNotice(ctx, "v1", publishedOn(t, s, "v1", now), now, now, 0); err != nil {
		t.Fatal(err)
	}
	version, err := s.FilesVersion(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	wait := func(what string, done <-chan error) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatalf("%s did not finish", what)
			return nil
		}
	}

	// A file changes, holding the visit's row, while the destruction
	// begins on the list read before it.
	other, err := s.db.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.ExecContext(ctx, `UPDATE visits SET files_version = files_version + 1 WHERE id = $1`, "v1"); err != nil {
		t.Fatal(err)
	}
	begun := make(chan error, 1)
	go func() {
		begun <- s.BeginDestruction(ctx, Destruction{VisitID: "v1", Reference: "FV-1", Files: "[]", StartedAt: now, FilesVersion: version, NoticeGivenAt: now})
	}()
	time.Sleep(300 * time.Millisecond) // the destruction waits for the visit's row
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := wait("the destruction", begun); !errors.Is(err, ErrFilesChanged) {
		t.Fatalf("a destruction begun on files that changed as it waited: %v, want ErrFilesChanged", err)
	}
	if v, _ := s.Visit(ctx, "v1"); v.State != "active" {
		t.Fatalf("the visit is %s", v.State)
	}

	// The destruction begins, holding the visit's row, while a file is
	// being stored.
	other, err = s.db.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.ExecContext(ctx, `UPDATE visits SET state = 'destroying' WHERE id = $1`, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginUpload(ctx, "f1", "v1", "u1", now); err != nil {
		t.Fatal(err)
	}
	stored := make(chan error, 1)
	go func() {
		stored <- s.CommitFile(ctx, File{ID: "f1", VisitID: "v1", NameSealed: []byte("n"), Item: "1.03", SHA256: "s", Size: 7, SegmentSize: 1, Segments: 1, UploadedBy: u.ID, UploadedAt: now})
	}()
	time.Sleep(300 * time.Millisecond) // the file waits for the visit's row
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := wait("the file's commit", stored); !errors.Is(err, ErrDestructionBegun) {
		t.Fatalf("a file stored as the destruction began: %v, want ErrDestructionBegun", err)
	}
	if _, err := s.File(ctx, "v1", "f1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused file: %v, want ErrNotFound", err)
	}
}

// TestFilesStoredTogether: files and new versions committed at once into
// one visit all commit. On PostgreSQL each commit's foreign keys share
// the visit's row (FOR KEY SHARE) before its files_version trigger
// updates it, so a commit that then asked for the row FOR UPDATE (to read
// the state, or the hold) waited for every other commit's share while
// they waited for its update: a deadlock.
func TestFilesStoredTogether(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	u := visitV1(t, s, now)
	const writers, each = 8, 10
	commit := func(id string) error {
		return s.CommitFile(ctx, File{ID: id, VisitID: "v1", NameSealed: []byte("n"), Item: "1.03", SHA256: "s", Size: 1, SegmentSize: 1, Segments: 1,
			UploadedBy: u.ID, UploadedAt: now})
	}
	// Half the writers store new files; the other half each replace a
	// file of their own, version after version (a name moved, the old
	// version superseded, both of which check the visit's hold).
	var first [writers]string
	for g := range writers {
		first[g] = NewID()
		if err := s.ReserveName(ctx, "v1", "1.03", first[g], []byte(first[g]), now); err != nil {
			t.Fatal(err)
		}
		if err := s.BeginUpload(ctx, first[g], "v1", "u1", now); err != nil {
			t.Fatal(err)
		}
		if err := commit(first[g]); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, writers*each)
	for g := range writers {
		go func() {
			last := first[g]
			for range each {
				id := NewID()
				var err error
				if g%2 == 1 {
					err = s.ReserveReplacement(ctx, "v1", last, id, now)
					last = id
				}
				if err == nil {
					err = s.BeginUpload(ctx, id, "v1", "u1", now)
				}
				if err == nil {
					err = commit(id)
				}
				errs <- err
			}
		}()
	}
	var failed []error
	for range writers * each {
		if err := <-errs; err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		t.Fatalf("%d of %d commits failed, the first: %v", len(failed), writers*each, failed[0])
	}
}
