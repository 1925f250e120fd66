package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestUploadLeaseOneHolderAtATime: the lease on a resumable upload lets one
// request (of any instance) write it; another is refused until the holder
// gives it up or, if the holder died, until the lease runs out.
func TestUploadLeaseOneHolderAtATime(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now()
	v := Visit{ID: "v1", Reference: "FV-1", TitleSealed: []byte("x"), Provider: "Cafcass", RetentionDays: 30, NotificationDate: now, FieldworkStart: now,
		State: "active", Bucket: "b1", CreatedAt: now, CreatedBy: "system"}
	if err := s.CreateVisit(ctx, v, VisitKey{VisitID: "v1", Wrapped: []byte("w"), Fingerprint: "f", CreatedAt: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	u, err := s.SignIn(ctx, "https://i", "sub", "a@x.example", "A", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateResumable(ctx, Resumable{ID: "u1", VisitID: "v1", FileID: "f1", CreatedBy: u.ID, NameSealed: []byte("n"), HashState: []byte("h"), SegmentMACs: []byte{}, Length: 10, SegmentSize: 1 << 20, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	lock := func(holder string, at time.Time) bool {
		t.Helper()
		ok, err := s.LockResumable(ctx, "u1", holder, at, at.Add(15*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !lock("a", now) {
		t.Fatal("the first request did not get the lease")
	}
	if lock("b", now.Add(time.Second)) {
		t.Fatal("a second holder got the lease while the first held it")
	}
	if !lock("a", now.Add(5*time.Second)) {
		t.Fatal("the holder could not renew its lease")
	}
	if err := s.UnlockResumable(ctx, "u1", "b"); err != nil {
		t.Fatal(err)
	}
	if lock("b", now.Add(6*time.Second)) {
		t.Fatal("another holder's unlock released the lease")
	}
	// The holder dies without unlocking: the lease runs out.
	if lock("b", now.Add(19*time.Second)) {
		t.Fatal("the lease ran out early")
	}
	if !lock("b", now.Add(21*time.Second)) {
		t.Fatal("a dead holder's lease never ran out")
	}
	if err := s.UnlockResumable(ctx, "u1", "b"); err != nil {
		t.Fatal(err)
	}
	if !lock("c", now.Add(22*time.Second)) {
		t.Fatal("a released lease was not free")
	}
}

// TestAbandonResumableSparesAFile: an upload is abandoned (its row gone
// first, its objects then pending removal) only while unfinished; once it
// became a file, abandoning it changes nothing, and only forgetting its row
// (which leaves the objects alone) is allowed.
func TestAbandonResumableSparesAFile(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now()
	v := Visit{ID: "v1", Reference: "FV-1", TitleSealed: []byte("x"), Provider: "Cafcass", RetentionDays: 30, NotificationDate: now, FieldworkStart: now,
		State: "active", Bucket: "b1", CreatedAt: now, CreatedBy: "system"}
	if err := s.CreateVisit(ctx, v, VisitKey{VisitID: "v1", Wrapped: []byte("w"), Fingerprint: "f", CreatedAt: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	u, err := s.SignIn(ctx, "https://i", "sub", "a@x.example", "A", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"u1", "u2"} {
		if err := s.CreateResumable(ctx, Resumable{ID: id, VisitID: "v1", FileID: "f" + id, CreatedBy: u.ID, NameSealed: []byte("n"), Item: "1.01", HashState: []byte("h"),
			SegmentMACs: []byte{}, Length: 7, SegmentSize: 1 << 20, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	// u1 becomes a file.
	f := File{ID: "fu1", VisitID: "v1", NameSealed: []byte("n"), Item: "1.01", SHA256: "s", Size: 7, SegmentSize: 1 << 20, Segments: 1, UploadedBy: u.ID, UploadedAt: now}
	if err := s.CompleteResumable(ctx, "u1", 1, []byte("h"), []byte{}, f, now, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AbandonResumable(ctx, "u1"); !errors.Is(err, ErrConflict) {
		t.Fatalf("abandoning a completed upload: %v, want ErrConflict", err)
	}
	if _, err := s.Resumable(ctx, "v1", "u1"); err != nil {
		t.Fatalf("a refused abandonment changed the upload: %v", err)
	}
	if err := s.ForgetResumable(ctx, "u2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("forgetting an unfinished upload: %v, want ErrNotFound", err)
	}
	if err := s.AbandonResumable(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitSegment(ctx, "u2", 1, []byte("h"), []byte{}); !errors.Is(err, ErrConflict) {
		t.Fatalf("a segment committed to an abandoned upload: %v", err)
	}
	stale, err := s.StaleUploads(ctx, now.Add(time.Hour))
	if err != nil || len(stale) != 1 || stale[0].FileID != "fu2" || stale[0].Kind != PendingFailed {
		t.Fatalf("the abandoned upload's objects are not pending removal: %+v %v", stale, err)
	}
	if err := s.ForgetResumable(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.File(ctx, "v1", "fu1"); err != nil {
		t.Fatalf("forgetting the upload took its file: %v", err)
	}
}

// TestSessionExpiryRecordedOnce: two janitors (two instances) sweeping
// expired sessions at once record each expiry exactly once.
func TestSessionExpiryRecordedOnce(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	const n = 100
	expiry := time.Now().Add(time.Minute)
	later := func() time.Time { return expiry.Add(time.Minute) }
	for i := range n {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions (token, data, expiry) VALUES (?, ?, ?)`, fmt.Sprintf("tok-%03d", i), []byte(fmt.Sprintf("user-%03d", i)), unixFloat(expiry)); err != nil {
			t.Fatal(err)
		}
	}
	rec := func(data []byte) []AuditRecord {
		return []AuditRecord{{Time: time.Now(), ActorSubject: string(data), Action: "session.expired", Outcome: "success"}}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Sessions(later).DeleteExpired(ctx, rec)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	recs, err := s.AuditRecords(ctx, AuditFilter{Action: "session.expired"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.ActorSubject]++
	}
	if len(recs) != n || len(seen) != n {
		t.Fatalf("%d expiry records for %d sessions (%d distinct)", len(recs), n, len(seen))
	}
}
