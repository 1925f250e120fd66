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
	u := visitV1(t, s, now)
	if err := s.ReserveName(ctx, "v1", "", "f1", []byte("name f1"), now); err != nil {
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
	u := visitV1(t, s, now)
	for _, id := range []string{"u1", "u2"} {
		if err := s.ReserveName(ctx, "v1", "1.01", "f"+id, []byte("name "+id), now); err != nil {
			t.Fatal(err)
		}
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
	if err := s.AbandonResumable(ctx, "u1", "", 1); !errors.Is(err, ErrConflict) {
		t.Fatalf("abandoning a completed upload: %v, want ErrConflict", err)
	}
	if _, err := s.Resumable(ctx, "v1", "u1"); err != nil {
		t.Fatalf("a refused abandonment changed the upload: %v", err)
	}
	if err := s.ForgetResumable(ctx, "u2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("forgetting an unfinished upload: %v, want ErrNotFound", err)
	}
	// Only under its lease, as it was read: one taken by another since,
	// or moved on, stays.
	if ok, err := s.LockResumable(ctx, "u2", "first", now, now.Add(time.Second)); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	later := now.Add(time.Minute)
	if ok, err := s.LockResumable(ctx, "u2", "second", later, later.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("the lease once run out: %v %v", ok, err)
	}
	if err := s.AbandonResumable(ctx, "u2", "first", 0); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("abandoning under a lease another has taken: %v, want ErrLeaseLost", err)
	}
	if err := s.AbandonResumable(ctx, "u2", "second", 1); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("abandoning an upload read with a segment it does not have: %v, want ErrLeaseLost", err)
	}
	if _, err := s.Resumable(ctx, "v1", "u2"); err != nil {
		t.Fatalf("a refused abandonment changed the upload: %v", err)
	}
	if err := s.AbandonResumable(ctx, "u2", "second", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitSegment(ctx, "u2", 1, []byte("h"), []byte{}, time.Now(), time.Now()); !errors.Is(err, ErrConflict) {
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
	rec := func(data []byte) ([]AuditRecord, error) {
		return []AuditRecord{{Time: time.Now(), ActorSubject: string(data), Action: "session.expired", Outcome: "success"}}, nil
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

// TestCommitNeedsItsPendingUpload: a file is committed only from an upload
// still being received. One taken as cut off (marked failed, its objects
// being removed) or forgotten (its objects removed) commits nothing: no
// file, no receipt, no record.
func TestCommitNeedsItsPendingUpload(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	u := visitV1(t, s, now)
	taken := map[string]func(id string) error{
		"failed":    func(id string) error { return s.FailUpload(ctx, id) },
		"forgotten": func(id string) error { return s.EndUpload(ctx, id) },
	}
	for how, take := range taken {
		id := "f-" + how
		if err := s.BeginUpload(ctx, id, "v1", "u1", now); err != nil {
			t.Fatal(err)
		}
		if err := take(id); err != nil {
			t.Fatal(err)
		}
		rec := AuditRecord{Time: now, Action: "upload.completed", Object: id, VisitID: "v1", Outcome: "success", Detail: "{}"}
		rc := &Receipt{ID: "r-" + id, VisitID: "v1", Kind: "upload", UploadOf: id, IssuedTo: u.ID, IssuedAt: now, SignedSealed: []byte("s")}
		_, err := s.CommitFileWith(ctx, File{ID: id, VisitID: "v1", NameSealed: []byte("n"), Item: "1.03", SHA256: "s", Size: 7, SegmentSize: 1, Segments: 1,
			UploadedBy: u.ID, UploadedAt: now}, rc, true, nil, rec)
		if !errors.Is(err, ErrUploadTaken) {
			t.Fatalf("commit of a %s upload: %v, want ErrUploadTaken", how, err)
		}
		if _, err := s.File(ctx, "v1", id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a %s upload's file: %v, want none", how, err)
		}
		var n int
		s.DB().QueryRow(`SELECT (SELECT COUNT(*) FROM receipts WHERE upload_of = ?) + (SELECT COUNT(*) FROM audit WHERE object = ? AND action = 'upload.completed')`, id, id).Scan(&n)
		if n != 0 {
			t.Fatalf("a %s upload left %d receipts and records", how, n)
		}
	}
}

// TestAbandonUploadOnlyWhileUntouched: the janitor takes an upload as cut
// off only if it is still untouched, and still being received, when it
// takes it: one touched since it was listed (its process is alive) or
// committed is left alone, with no record; one taken is marked failed, its
// record written with it, and no longer commits.
func TestAbandonUploadOnlyWhileUntouched(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	u := visitV1(t, s, now)
	before := now.Add(time.Minute)
	rec := func(id string) AuditRecord {
		return AuditRecord{Time: now, Action: "upload.failed", Object: id, VisitID: "v1", Outcome: "failure", Detail: `{"reason":"interrupted"}`}
	}
	file := func(id string) File {
		return File{ID: id, VisitID: "v1", NameSealed: []byte("n"), Item: "1.03", SHA256: "s", Size: 7, SegmentSize: 1, Segments: 1, UploadedBy: u.ID, UploadedAt: now}
	}
	for _, id := range []string{"live", "done", "cut"} {
		if err := s.BeginUpload(ctx, id, "v1", "u1", now); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.TouchUploads(ctx, []string{"live"}, before.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitFile(ctx, file("done")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"live", "done"} {
		if err := s.AbandonUpload(ctx, id, before, rec(id)); !errors.Is(err, ErrConflict) {
			t.Fatalf("abandoning the %s upload: %v, want ErrConflict", id, err)
		}
	}
	if err := s.AbandonUpload(ctx, "cut", before, rec("cut")); err != nil {
		t.Fatal(err)
	}
	if err := s.AbandonUpload(ctx, "cut", before, rec("cut")); !errors.Is(err, ErrConflict) {
		t.Fatalf("abandoning an upload twice: %v, want ErrConflict", err)
	}
	if err := s.CommitFile(ctx, file("cut")); !errors.Is(err, ErrUploadTaken) {
		t.Fatalf("commit of an abandoned upload: %v, want ErrUploadTaken", err)
	}
	if err := s.FailUpload(ctx, "cut", rec("cut")); !errors.Is(err, ErrUploadTaken) {
		t.Fatalf("the abandoned upload's own failure: %v, want ErrUploadTaken", err)
	}
	// Its next segment's touch stops it: nothing more is written for it.
	if err := s.TouchUpload(ctx, "cut", before.Add(time.Minute)); !errors.Is(err, ErrUploadTaken) {
		t.Fatalf("a segment's touch of an abandoned upload: %v, want ErrUploadTaken", err)
	}
	if err := s.TouchUpload(ctx, "live", before.Add(time.Minute)); err != nil {
		t.Fatalf("a segment's touch of a live upload: %v", err)
	}
	var failed []string
	rows, err := s.DB().Query(`SELECT object FROM audit WHERE action = 'upload.failed' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		rows.Scan(&id)
		failed = append(failed, id)
	}
	if len(failed) != 1 || failed[0] != "cut" {
		t.Fatalf("failures recorded: %v, want the taken upload's once", failed)
	}
	stale, err := s.StaleUploads(ctx, before)
	if err != nil || len(stale) != 1 || stale[0].FileID != "cut" || stale[0].Kind != PendingFailed {
		t.Fatalf("the taken upload's objects are not pending removal: %+v %v", stale, err)
	}
}

// TestSessionChangedElsewhereIsWritten: a session one instance changed is
// written by another that changes it back, though that is what the other
// wrote last. Before, the second instance remembered its own last write
// and, finding the same data within the minute, skipped the write: the
// first instance's change stood (a one-page banner, put by a form sent
// to one instance and taken by the page served from the other, was shown
// again on the next page).
func TestSessionChangedElsewhereIsWritten(t *testing.T) {
	ctx := context.Background()
	open := testDatabase(t)
	one, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	two, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer two.Close()
	a, b := one.Sessions(time.Now), two.Sessions(time.Now)
	t0 := time.Now().Add(30 * time.Minute)
	if err := a.CommitCtx(NewSession(ctx), "t", []byte("signed in"), t0); err != nil {
		t.Fatal(err)
	}
	// A form sent to the second instance puts a banner for the next page.
	if _, ok, err := b.FindCtx(ctx, "t"); !ok || err != nil {
		t.Fatalf("the second instance finds no session: %v", err)
	}
	if err := b.CommitCtx(ctx, "t", []byte("signed in, banner"), t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// The next page, served by the first, takes the banner.
	if data, ok, err := a.FindCtx(ctx, "t"); !ok || err != nil || string(data) != "signed in, banner" {
		t.Fatalf("the first instance finds %q (%v, %v)", data, ok, err)
	}
	if err := a.CommitCtx(ctx, "t", []byte("signed in"), t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if data, _, _ := b.FindCtx(ctx, "t"); string(data) != "signed in" {
		t.Fatalf("the session holds %q after the first instance took the banner, want %q", data, "signed in")
	}
}

// TestUploadsDroppedOnlyWhileARestoreIsPending: a restore drops the
// unfinished uploads the backup held, before the portal serves. A second
// process finishing the same restore, paused past its lease while the
// first finished it, runs on once it wakes: by then the portal serves, and
// the uploads under way are people's, begun since. Before, it dropped them
// all, their segments left in the bucket with no record of them.
func TestUploadsDroppedOnlyWhileARestoreIsPending(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now()
	u := visitV1(t, s, now)
	begin := func(id string) {
		t.Helper()
		if err := s.ReserveName(ctx, "v1", "1.01", "f"+id, []byte("name "+id), now); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateResumable(ctx, Resumable{ID: id, VisitID: "v1", FileID: "f" + id, CreatedBy: u.ID, NameSealed: []byte("n"), Item: "1.01", HashState: []byte("h"),
			SegmentMACs: []byte{}, Length: 7, SegmentSize: 1 << 20, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	begin("backup") // under way when the backup was taken
	if err := s.BeginRestore(ctx, Restore{ID: "r1", BackupCreatedAt: now, StartedAt: now}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DropUnfinishedUploads(ctx); err != nil || n != 1 {
		t.Fatalf("the restore's drop: %d, %v; want the backup's one upload", n, err)
	}
	if err := s.FinishRestore(ctx, "r1", now); err != nil {
		t.Fatal(err)
	}
	begin("since") // begun once the portal served again
	n, err := s.DropUnfinishedUploads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, gone := s.Resumable(ctx, "v1", "since"); n != 0 || gone != nil {
		t.Errorf("a drop once the restore finished dropped %d uploads (the one begun since: %v); want none", n, gone)
	}
}
