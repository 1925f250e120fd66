package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestNameReservations: a name is taken once per visit and item, and is
// given back with the file, the failed upload or the abandoned resumable
// upload; refiling moves it and cannot make two.
func TestNameReservations(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now()
	if err := s.CreateVisit(ctx, Visit{ID: "v1", Reference: "FV-1", TitleSealed: []byte("t"), Provider: "Cafcass", RetentionDays: 30, NotificationDate: now, FieldworkStart: now,
		State: "active", Bucket: "b", CreatedAt: now, CreatedBy: "system"}, VisitKey{VisitID: "v1", Wrapped: []byte("w"), Fingerprint: "f", CreatedAt: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	u, _ := s.SignIn(ctx, "https://i", "sub", "a@x.example", "A", nil, now)
	idx := func(s string) []byte { return []byte(s + "-index") }
	reserve := func(item, file, name string) error { return s.ReserveName(ctx, "v1", item, file, idx(name), now) }
	commit := func(id, item string) {
		t.Helper()
		if err := s.BeginUpload(ctx, id, "v1", "u1", now); err != nil {
			t.Fatal(err)
		}
		if err := s.CommitFile(ctx, File{ID: id, VisitID: "v1", NameSealed: []byte("n"), Item: item, SHA256: "x", SegmentSize: 1, Segments: 1, UploadedBy: u.ID, UploadedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := reserve("1.01", "f1", "a"); err != nil {
		t.Fatal(err)
	}
	if err := reserve("1.01", "f2", "a"); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("a second reservation of the name: %v", err)
	}
	if err := reserve("1.02", "f3", "a"); err != nil {
		t.Fatalf("the name in another item: %v", err)
	}
	commit("f1", "1.01")
	commit("f3", "1.02")
	if err := s.RefileFile(ctx, "v1", "f3", "1.02", "1.01", nil); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("refiling onto a taken name: %v", err)
	}
	// Refiling under another name takes that name, and gives the old one
	// back, or changes nothing.
	if err := s.RefileFileRenamed(ctx, "v1", "f3", "1.02", "1.01", idx("a"), idx("a"), []byte("n2"), now); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("refiling renamed onto a taken name: %v", err)
	}
	// Not when the name to be avoided is free: the file keeps its own.
	if err := s.RefileFileRenamed(ctx, "v1", "f3", "1.02", "1.01", idx("b"), idx("b (2)"), []byte("n2"), now); !errors.Is(err, ErrNameFree) {
		t.Fatalf("refiling renamed for a name that is free: %v", err)
	}
	if f, err := s.File(ctx, "v1", "f3"); err != nil || f.Item != "1.02" {
		t.Fatalf("the file refiled renamed for a free name: %+v %v", f, err)
	}
	if err := s.RefileFileRenamed(ctx, "v1", "f3", "1.02", "1.01", idx("a"), idx("a (2)"), []byte("n2"), now); err != nil {
		t.Fatal(err)
	}
	if f, err := s.File(ctx, "v1", "f3"); err != nil || f.Item != "1.01" || string(f.NameSealed) != "n2" {
		t.Fatalf("the file refiled renamed: %+v %v", f, err)
	}
	if err := reserve("1.01", "fx", "a (2)"); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("the new name is not taken: %v", err)
	}
	if err := s.RefileFileRenamed(ctx, "v1", "f3", "1.01", "1.02", nil, idx("a"), []byte("n"), now); err != nil {
		t.Fatal(err)
	}
	if err := s.RefileFile(ctx, "v1", "f3", "1.02", "1.01", nil); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("refiling onto a taken name: %v", err)
	}
	// An upload in progress holds its name for its uploader.
	if err := s.BeginNamedUpload(ctx, "fu", "v1", "u2", "1.04", idx("u"), now); err != nil {
		t.Fatal(err)
	}
	if by, err := s.NameUploader(ctx, "v1", "1.04", idx("u")); err != nil || by != "u2" {
		t.Fatalf("the uploader holding a name: %q %v", by, err)
	}
	s.FailUpload(ctx, "fu")
	s.EndUpload(ctx, "fu")
	// Deleting the file gives the name back; refiling moves it.
	if err := s.DeleteFile(ctx, "v1", "f1", EarlierName{}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.RefileFile(ctx, "v1", "f3", "1.02", "1.01", nil); err != nil {
		t.Fatalf("refiling onto a freed name: %v", err)
	}
	if err := reserve("1.02", "f4", "a"); err != nil {
		t.Fatalf("the name refiled away is still taken in its old item: %v", err)
	}
	// A failed upload (its pending record ends without a file) gives it back.
	if err := s.BeginUpload(ctx, "f4", "v1", "u1", now); err != nil {
		t.Fatal(err)
	}
	s.EndUpload(ctx, "f4")
	if err := reserve("1.02", "f5", "a"); err != nil {
		t.Fatalf("the name of a failed upload is still taken: %v", err)
	}
	// So does an abandoned resumable upload.
	if err := reserve("1.03", "f6", "r"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateResumable(ctx, Resumable{ID: "r1", VisitID: "v1", FileID: "f6", CreatedBy: u.ID, NameSealed: []byte("n"), Item: "1.03", Length: 10, SegmentSize: 10,
		HashState: []byte("h"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.LockResumable(ctx, "r1", "h", now, now.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	if err := s.AbandonResumable(ctx, "r1", "h", 0); err != nil {
		t.Fatal(err)
	}
	if err := reserve("1.03", "f7", "r"); err != nil {
		t.Fatalf("the name of an abandoned resumable upload is still taken: %v", err)
	}
	// A reservation whose upload never began is swept after a while.
	if err := s.SweepNames(ctx, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := reserve("1.03", "f8", "r"); err != nil {
		t.Fatalf("a reservation left by a crash is never swept: %v", err)
	}
}
