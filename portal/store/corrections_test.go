package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
)

// TestCorrections: a file the team has downloaded is withdrawn, never
// deleted; a new version takes the name and supersedes the file when it is
// committed; a purged file's row moves to purged_files with its pending
// removal; items are marked complete. On SQLite and PostgreSQL alike.
func TestCorrections(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	u := visitV1(t, s, now)
	commit := func(id, name string) {
		t.Helper()
		if err := s.ReserveName(ctx, "v1", "1.03", id, []byte(name), now); err != nil && !errors.Is(err, ErrNameTaken) {
			t.Fatal(err)
		}
		if err := s.BeginUpload(ctx, id, "v1", "u1", now); err != nil {
			t.Fatal(err)
		}
		if err := s.CommitFile(ctx, File{ID: id, VisitID: "v1", NameSealed: []byte("n"), Item: "1.03", SHA256: "sum-" + id, Size: 7, SegmentSize: 1, Segments: 1,
			UploadedBy: u.ID, UploadedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	commit("f1", "report")
	if err := s.RecordDownload(ctx, "v1", []string{"f1"}, []string{"f1"}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFile(ctx, "v1", "f1", EarlierName{}, now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting a file the team downloaded: %v", err)
	}
	if err := s.WithdrawFile(ctx, "v1", "f1", u.ID, now); err != nil {
		t.Fatal(err)
	}
	f, err := s.File(ctx, "v1", "f1")
	if err != nil || f.WithdrawnAt.IsZero() || f.WithdrawnBy != u.ID || f.TeamDownloadedAt.IsZero() || f.Live() {
		t.Fatalf("withdrawn: %+v %v", f, err)
	}
	if err := s.WithdrawFile(ctx, "v1", "f1", u.ID, now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("withdrawing twice: %v", err)
	}
	// Its name is free: a corrected file takes it.
	if err := s.ReserveName(ctx, "v1", "1.03", "f2", []byte("report"), now); err != nil {
		t.Fatalf("the withdrawn file's name: %v", err)
	}
	commit("f2", "report")
	if f, err := s.NameHolder(ctx, "v1", "1.03", []byte("report")); err != nil || f.ID != "f2" {
		t.Fatalf("name holder: %q %v", f.ID, err)
	}
	// A new version: the name moves at once, the old is superseded at the
	// new one's commit.
	if err := s.ReserveReplacement(ctx, "v1", "f2", "fx", now); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.File(ctx, "v1", "f2"); !f.Live() {
		t.Fatal("superseded before the new version is committed")
	}
	// A new version that fails gives the name back to the file.
	if err := s.ReleaseName(ctx, "fx"); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.NameHolder(ctx, "v1", "1.03", []byte("report")); f.ID != "f2" {
		t.Fatalf("the name after a failed new version: %q", f.ID)
	}
	// So does an abandoned resumable upload of a new version.
	if err := s.ReserveReplacement(ctx, "v1", "f2", "fr", now); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateResumable(ctx, Resumable{ID: "r1", VisitID: "v1", FileID: "fr", CreatedBy: u.ID, NameSealed: []byte("n"), Item: "1.03", Length: 9,
		SegmentSize: 4, HashState: []byte("h"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.LockResumable(ctx, "r1", "h", now, now.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	if err := s.AbandonResumable(ctx, "r1", "h", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.EndUpload(ctx, "fr"); err != nil { // its objects removed
		t.Fatal(err)
	}
	if f, _ := s.NameHolder(ctx, "v1", "1.03", []byte("report")); f.ID != "f2" {
		t.Fatalf("the name after an abandoned new version: %q", f.ID)
	}
	if err := s.ReserveReplacement(ctx, "v1", "f2", "f3", now); err != nil {
		t.Fatal(err)
	}
	commit("f3", "report")
	if f, _ := s.File(ctx, "v1", "f2"); f.SupersededBy != "f3" || f.SupersededAt.IsZero() {
		t.Fatalf("not superseded: %+v", f)
	}
	if err := s.ReserveReplacement(ctx, "v1", "f2", "f4", now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replacing a superseded version: %v", err)
	}
	if c, _ := s.ItemFileCounts(ctx, "v1"); c["1.03"] != 1 {
		t.Fatalf("counts %v: only the current version counts", c)
	}
	// Purged: the row moves, its objects are pending removal.
	if err := s.PurgeFile(ctx, PurgedFile{FileID: "f3", VisitID: "v1", Item: "1.03", Size: 7, SHA256: "sum-f3", UploadedBy: u.ID, UploadedAt: now,
		PurgedBy: "admin", PurgedAt: now, ReasonSealed: []byte("sealed")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.File(ctx, "v1", "f3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("purged file still there: %v", err)
	}
	ps, err := s.PurgedFiles(ctx, "v1")
	if err != nil || len(ps) != 1 || ps[0].SHA256 != "sum-f3" || ps[0].Size != 7 || ps[0].PurgedBy != "admin" || !ps[0].PurgedAt.Equal(now) || string(ps[0].ReasonSealed) != "sealed" {
		t.Fatalf("purged: %+v %v", ps, err)
	}
	if stale, _ := s.StaleUploads(ctx, now.Add(time.Hour)); len(stale) != 1 || stale[0].FileID != "f3" || stale[0].Kind != PendingDeleted {
		t.Fatalf("the purged file's objects are not pending removal: %+v", stale)
	}
	// Items: complete, and not again.
	if err := s.AddRequestItem(ctx, RequestItem{VisitID: "v1", Code: "1.03", Kind: "annex_a", TitleSealed: []byte("t"), Due: "annex_a_due", AddedBy: "system", AddedAt: now}); err != nil {
		t.Fatal(err)
	}
	// A change of the due date alone keeps the title as it stands; a
	// title that says what the files under the item answer is not
	// changed while they are there.
	if err := s.ChangeRequestItem(ctx, RequestItem{VisitID: "v1", Code: "1.03", Due: "2026-12-10"}, false); err != nil {
		t.Fatal(err)
	}
	items, err := s.RequestItems(ctx, "v1")
	if err != nil || len(items) != 1 || string(items[0].TitleSealed) != "t" || items[0].Due != "2026-12-10" {
		t.Fatalf("the item after a change of its due date alone: %+v %v", items, err)
	}
	if err := s.ChangeRequestItem(ctx, RequestItem{VisitID: "v1", Code: "1.03", TitleSealed: []byte("u"), Due: "2026-12-10"}, true); !errors.Is(err, ErrItemHasFiles) {
		t.Fatalf("retitling an item with files under it: %v, want ErrItemHasFiles", err)
	}
	if err := s.CompleteItem(ctx, "v1", "1.03", u.ID, now); err != nil {
		t.Fatal(err)
	}
	items, _ = s.RequestItems(ctx, "v1")
	if len(items) != 1 || !items[0].CompletedAt.Equal(now) || items[0].CompletedBy != u.ID {
		t.Fatalf("completed: %+v", items)
	}
	// Marked complete again later: the first completion stands.
	if err := s.CompleteItem(ctx, "v1", "1.03", "someone-else", now.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if items, _ := s.RequestItems(ctx, "v1"); !items[0].CompletedAt.Equal(now) || items[0].CompletedBy != u.ID {
		t.Fatalf("completed again: %+v, want the first completion kept", items)
	}
	if err := s.CompleteItem(ctx, "v1", "1.03", u.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if items, _ := s.RequestItems(ctx, "v1"); !items[0].CompletedAt.IsZero() || items[0].CompletedBy != "" {
		t.Fatalf("reopened: %+v", items)
	}
	if err := s.CompleteItem(ctx, "v1", "9.99", u.ID, now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("completing an item not requested: %v", err)
	}
}

// TestHoldCheckLocksAfterTheFile: on PostgreSQL a change to a file locks
// the file's row, then the visit's (the files_version trigger). A deletion,
// which checks the visit's hold where it writes, must take them in the
// same order: here another transaction holds the file, then asks for the
// visit while the deletion waits. Taken the other way round, the two
// deadlock and PostgreSQL fails one of them.
func TestHoldCheckLocksAfterTheFile(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("SQLite runs one write transaction at a time")
	}
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	u := visitV1(t, s, now)
	if err := s.BeginUpload(ctx, "f1", "v1", "u1", now); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitFile(ctx, File{ID: "f1", VisitID: "v1", NameSealed: []byte("n"), Item: "1.03", SHA256: "s", Size: 7, SegmentSize: 1, Segments: 1, UploadedBy: u.ID, UploadedAt: now}); err != nil {
		t.Fatal(err)
	}
	other, err := s.db.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.ExecContext(ctx, `SELECT id FROM files WHERE id = $1 FOR UPDATE`, "f1"); err != nil {
		t.Fatal(err)
	}
	deleted := make(chan error, 1)
	go func() { deleted <- s.DeleteFile(ctx, "v1", "f1", EarlierName{}, now) }()
	time.Sleep(300 * time.Millisecond) // the deletion is waiting for the file
	if _, err := other.ExecContext(ctx, `UPDATE visits SET files_version = files_version + 1 WHERE id = $1`, "v1"); err != nil {
		t.Fatalf("the other transaction, asking for the visit: %v", err)
	}
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-deleted:
		if err != nil {
			t.Fatalf("the deletion: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the deletion did not finish")
	}
}

// TestRecordDownloadOfAGoneFile: a download's record is written only
// while every file it sends is still the visit's: a file deleted since the
// download was allowed is not found, and neither the record nor any mark
// is written (nor, for a zip, the records of its other files). On SQLite
// and PostgreSQL alike.
func TestRecordDownloadOfAGoneFile(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	u := visitV1(t, s, now)
	for _, id := range []string{"f1", "f2"} {
		if err := s.BeginUpload(ctx, id, "v1", "u1", now); err != nil {
			t.Fatal(err)
		}
		if err := s.CommitFile(ctx, File{ID: id, VisitID: "v1", NameSealed: []byte("n"), Item: "1.03", SHA256: "s", Size: 7, SegmentSize: 1, Segments: 1, UploadedBy: u.ID, UploadedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteFile(ctx, "v1", "f1", EarlierName{}, now); err != nil {
		t.Fatal(err)
	}
	head, _, err := s.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(id string) AuditRecord {
		return AuditRecord{Time: now, VisitID: "v1", Action: "file.download", Object: id, Outcome: "success"}
	}
	if err := s.RecordDownload(ctx, "v1", []string{"f2", "f1"}, []string{"f2", "f1"}, now, rec("f2"), rec("f1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a zip with a deleted file: %v, want ErrNotFound", err)
	}
	if after, _, err := s.AuditHead(ctx); err != nil || after != head {
		t.Fatalf("records written for a download that did not begin: head %d, was %d (%v)", after, head, err)
	}
	if f, err := s.File(ctx, "v1", "f2"); err != nil || !f.TeamDownloadedAt.IsZero() {
		t.Fatalf("the other file was marked downloaded by the team: %+v %v", f, err)
	}
	if err := s.RecordDownload(ctx, "v1", []string{"f2"}, nil, now, rec("f2")); err != nil {
		t.Fatal(err)
	}
	if after, _, err := s.AuditHead(ctx); err != nil || after != head+1 {
		t.Fatalf("the download of a file still there: head %d, was %d (%v)", after, head, err)
	}
}

// TestRecordDownloadWaitsForADeletion: on PostgreSQL, where transactions
// run together, the team's first download of a file that a deletion under
// way is removing waits for it, and then is not found (nothing recorded),
// rather than recording a download of a file deleted for good.
func TestRecordDownloadWaitsForADeletion(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("SQLite runs one write transaction at a time")
	}
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	u := visitV1(t, s, now)
	if err := s.BeginUpload(ctx, "f1", "v1", "u1", now); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitFile(ctx, File{ID: "f1", VisitID: "v1", NameSealed: []byte("n"), Item: "1.03", SHA256: "s", Size: 7, SegmentSize: 1, Segments: 1, UploadedBy: u.ID, UploadedAt: now}); err != nil {
		t.Fatal(err)
	}
	other, err := s.db.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.ExecContext(ctx, `DELETE FROM files WHERE id = $1 AND team_downloaded_at IS NULL`, "f1"); err != nil {
		t.Fatal(err)
	}
	head, _, err := s.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recorded := make(chan error, 1)
	go func() {
		recorded <- s.RecordDownload(ctx, "v1", []string{"f1"}, []string{"f1"}, now,
			AuditRecord{Time: now, VisitID: "v1", Action: "file.download", Object: "f1", Outcome: "success"})
	}()
	time.Sleep(300 * time.Millisecond) // the record is waiting for the file
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-recorded:
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("the download of a file deleted as it was recorded: %v, want ErrNotFound", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the record did not finish")
	}
	if after, _, err := s.AuditHead(ctx); err != nil || after != head {
		t.Fatalf("a download of a deleted file recorded: head %d, was %d (%v)", after, head, err)
	}
}

// visitV1 creates the active visit v1 and signs a user in, who is
// returned (the uploader of the tests' files).
func visitV1(t *testing.T, s *Store, now time.Time) User {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateVisit(ctx, Visit{ID: "v1", Reference: "FV-1", TitleSealed: []byte("t"), Provider: "Cafcass", RetentionDays: 30, NotificationDate: now, FieldworkStart: now,
		State: "active", Bucket: "b", CreatedAt: now, CreatedBy: "system"}, VisitKey{VisitID: "v1", Wrapped: []byte("w"), Fingerprint: "f", CreatedAt: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	u, err := s.SignIn(ctx, "https://i", "sub", "a@x.example", "A", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestTeamDownloadAndWithdrawalTogether: on PostgreSQL, the team's first
// download of a zip marked its files one statement each, and the trigger
// that moves the visit's files_version on held the visit's row from the
// first of them; a withdrawal of one of the zip's later files holds that
// file's row and then wants the visit's. Each waited for the other and
// PostgreSQL broke the deadlock by failing one (a 503 for the person).
// The marks are one statement, so every file's row is held before the
// visit's, in the order a withdrawal takes them too.
func TestTeamDownloadAndWithdrawalTogether(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("row locks are PostgreSQL's: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	u := visitV1(t, s, now)
	var ids []string
	for i := range 150 {
		id := fmt.Sprintf("f%03d", i)
		if err := s.BeginUpload(ctx, id, "v1", "u1", now); err != nil {
			t.Fatal(err)
		}
		if err := s.CommitFile(ctx, File{ID: id, VisitID: "v1", NameSealed: []byte("n"), Item: "1.03", SHA256: "s", Size: 7, SegmentSize: 1, Segments: 1, UploadedBy: u.ID, UploadedAt: now}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for round := range 12 {
		var wg sync.WaitGroup
		var download, withdrawal error
		wg.Add(2)
		go func() {
			defer wg.Done()
			download = s.RecordDownload(ctx, "v1", ids, ids, now)
		}()
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(round%4) * time.Millisecond)
			withdrawal = s.WithdrawFile(ctx, "v1", ids[len(ids)-1-round], u.ID, now)
		}()
		wg.Wait()
		if download != nil || withdrawal != nil {
			t.Fatalf("round %d: a team download and a withdrawal of one of its files at once: download %v, withdrawal %v", round, download, withdrawal)
		}
	}
}
