package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestReceiptsAndQuestionsGoWithTheVisit: one receipt per upload, a thread
// answered once, and every row of both gone when the visit's destruction
// completes.
func TestReceiptsAndQuestionsGoWithTheVisit(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	visitWithF1(t, s, now)
	r := Receipt{ID: "r1", VisitID: "v1", Kind: "upload", UploadOf: "f1", IssuedTo: "u1", IssuedAt: now, SignedSealed: []byte("sealed")}
	if err := s.AddReceipt(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.ID = "r2"
	if err := s.AddReceipt(ctx, r); !errors.Is(err, ErrConflict) {
		t.Fatalf("a second receipt of one upload: %v", err)
	}
	if err := s.AddReceipt(ctx, Receipt{ID: "r3", VisitID: "v1", Kind: "batch", IssuedTo: "u1", IssuedAt: now, SignedSealed: []byte("s")}); err != nil {
		t.Fatalf("a batch receipt: %v", err)
	}
	if got, err := s.UploadReceipt(ctx, "v1", "f1"); err != nil || got.ID != "r1" || got.IssuedAt.IsZero() {
		t.Fatalf("upload receipt: %+v %v", got, err)
	}
	q := Question{ID: "q1", VisitID: "v1", Item: "1.01", Side: SideInspectorate, AskedBy: "u2", AskedAt: now}
	if err := s.AddQuestion(ctx, q, Post{ID: "p1", QuestionID: "q1", VisitID: "v1", Side: SideInspectorate, PostedBy: "u2", PostedAt: now, TextSealed: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	noRecord := func(bool) AuditRecord {
		return AuditRecord{Time: now, VisitID: "v1", Action: "question.replied", Outcome: "success"}
	}
	if err := s.AddPost(ctx, Post{ID: "p2", QuestionID: "q1", VisitID: "v1", Side: SideProvider, PostedBy: "u1", PostedAt: now, TextSealed: []byte("y")}, noRecord); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkAnswered(ctx, "v1", "q1", "u2", now); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkAnswered(ctx, "v1", "q1", "u1", now); !errors.Is(err, ErrConflict) {
		t.Fatalf("answered twice: %v", err)
	}
	if err := s.MarkAnswered(ctx, "v1", "q9", "u1", now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no such thread: %v", err)
	}
	if got, err := s.Question(ctx, "v1", "q1"); err != nil || got.AnsweredBy != "u2" || got.AnsweredAt.IsZero() {
		t.Fatalf("question: %+v %v", got, err)
	}
	// The other side's post leaves it answered; the asking side's opens it
	// again, decided as the post is written (an answer marked after the
	// poster looked is opened again too).
	var told []bool
	tell := func(reopened bool) AuditRecord {
		told = append(told, reopened)
		return AuditRecord{Time: now, VisitID: "v1", Action: "question.replied", Outcome: "success"}
	}
	if err := s.AddPost(ctx, Post{ID: "p3", QuestionID: "q1", VisitID: "v1", Side: SideProvider, PostedBy: "u1", PostedAt: now, TextSealed: []byte("z")}, tell); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Question(ctx, "v1", "q1"); got.AnsweredAt.IsZero() {
		t.Fatal("the answering side's post opened the thread again")
	}
	if err := s.AddPost(ctx, Post{ID: "p4", QuestionID: "q1", VisitID: "v1", Side: SideInspectorate, PostedBy: "u2", PostedAt: now, TextSealed: []byte("w")}, tell); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Question(ctx, "v1", "q1"); !got.AnsweredAt.IsZero() || len(told) != 2 || told[0] || !told[1] {
		t.Fatalf("the asking side's post on an answered thread: answered at %v, records told %v; want it open again, told so", got.AnsweredAt, told)
	}
	if err := s.AddPost(ctx, Post{ID: "p5", QuestionID: "q9", VisitID: "v1", Side: SideInspectorate, PostedBy: "u2", PostedAt: now, TextSealed: []byte("w")}, tell); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a post on a thread that is gone: %v, want ErrNotFound", err)
	}
	if err := s.MarkAnswered(ctx, "v1", "q1", "u2", now); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteDestruction(ctx, "v1", []byte("certificate"), now); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"receipts", "questions", "question_posts"} {
		var n int
		if err := s.DB().QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE visit_id = ?`, "v1").Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d rows left after destruction (%v)", table, n, err)
		}
	}
}

// TestBatchReceiptOfAPurgedFileIsRefused: a purge takes the receipts that
// name the file with it, in a transaction that holds the visit's row; a
// batch receipt kept after it, listing the file, would name it again.
func TestBatchReceiptOfAPurgedFileIsRefused(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now()
	if err := s.CreateVisit(ctx, Visit{ID: "v1", Reference: "FV-1", TitleSealed: []byte("t"), Provider: "Cafcass", RetentionDays: 30, NotificationDate: now, FieldworkStart: now,
		State: "active", Bucket: "b", CreatedAt: now, CreatedBy: "system"}, VisitKey{VisitID: "v1", Wrapped: []byte("w"), Fingerprint: "f", CreatedAt: now}, nil, nil); err != nil {
		t.Fatal(err)
	}
	err := s.AddReceipt(ctx, Receipt{ID: "r1", VisitID: "v1", Kind: "batch", IssuedTo: "u1", IssuedAt: now, SignedSealed: []byte("s"), Files: []string{"purged"}})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("a batch receipt listing a file no longer the visit's: %v, want ErrNotFound", err)
	}
	if _, err := s.Receipt(ctx, "v1", "r1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the receipt was kept: %v", err)
	}
}

// TestDeletedFileTakesItsThreads: a file the provider deletes (the team
// never downloaded it) takes the threads on it with it, as a purge does:
// nobody may read them again, so they are not kept until the visit's
// destruction.
func TestDeletedFileTakesItsThreads(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	visitWithF1(t, s, now)
	q := Question{ID: "q1", VisitID: "v1", FileID: "f1", Side: SideInspectorate, AskedBy: "u2", AskedAt: now}
	if err := s.AddQuestion(ctx, q, Post{ID: "p1", QuestionID: "q1", VisitID: "v1", Side: SideInspectorate, PostedBy: "u2", PostedAt: now, TextSealed: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteFile(ctx, "v1", "f1", EarlierName{}, now); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"questions", "question_posts"} {
		var n int
		if err := s.DB().QueryRow(`SELECT COUNT(*) FROM `+table+` WHERE visit_id = ?`, "v1").Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d rows on the deleted file left (%v)", table, n, err)
		}
	}
	// A question asked as it was deleted (decided on the file as it was)
	// is not kept on it after: nobody could read it, and it would stay
	// until the visit's destruction.
	q2 := Question{ID: "q2", VisitID: "v1", FileID: "f1", Side: SideInspectorate, AskedBy: "u2", AskedAt: now}
	if err := s.AddQuestion(ctx, q2, Post{ID: "p2", QuestionID: "q2", VisitID: "v1", Side: SideInspectorate, PostedBy: "u2", PostedAt: now, TextSealed: []byte("x")}); !errors.Is(err, ErrNotFound) {
		t.Errorf("a question on a file deleted before it was written: %v, want ErrNotFound", err)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM questions WHERE visit_id = ?`, "v1").Scan(&n); err != nil || n != 0 {
		t.Errorf("questions on the deleted file: %d (%v)", n, err)
	}
	// Nor is a receipt of its upload, issued on demand as it went.
	if err := s.AddReceipt(ctx, Receipt{ID: "r1", VisitID: "v1", Kind: "upload", UploadOf: "f1", IssuedTo: "u1", IssuedAt: now, SignedSealed: []byte("s")}); !errors.Is(err, ErrNotFound) {
		t.Errorf("a receipt of the upload of a file deleted before it was written: %v, want ErrNotFound", err)
	}
}

// visitWithF1 is visit v1 (visitV1) with one file committed, f1, under
// item 1.03; it returns f1's uploader.
func visitWithF1(t *testing.T, s *Store, now time.Time) User {
	t.Helper()
	ctx := context.Background()
	u := visitV1(t, s, now)
	if err := s.ReserveName(ctx, "v1", "1.03", "f1", []byte("report"), now); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginUpload(ctx, "f1", "v1", "u1", now); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitFile(ctx, File{ID: "f1", VisitID: "v1", NameSealed: []byte("n"), Item: "1.03", SHA256: "sum", Size: 7, SegmentSize: 1, Segments: 1,
		UploadedBy: u.ID, UploadedAt: now}); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestReplyBesideItsFilesDeletion: a reply sent as the file its thread is
// on is deleted (which takes the thread and its posts, holding the visit
// first) is not found, as a question asked on it then is. Before, on
// PostgreSQL, the reply read the thread, then its insert waited on the
// deletion and failed on the posts' foreign key: a 500.
func TestReplyBesideItsFilesDeletion(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	visitWithF1(t, s, now)
	q := Question{ID: "q1", VisitID: "v1", FileID: "f1", Side: SideInspectorate, AskedBy: "u2", AskedAt: now}
	if err := s.AddQuestion(ctx, q, Post{ID: "p1", QuestionID: "q1", VisitID: "v1", Side: SideInspectorate, PostedBy: "u2", PostedAt: now, TextSealed: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	deleting, release := make(chan struct{}), make(chan struct{})
	deleted := make(chan error, 1)
	go func() {
		deleted <- s.inTx(ctx, func(tx *Tx) error {
			if err := lockVisit(ctx, tx, "v1"); err != nil {
				return err
			}
			if err := forgetThreadsOn(ctx, tx, "v1", "f1"); err != nil {
				return err
			}
			close(deleting)
			<-release
			return nil
		})
	}()
	<-deleting
	replied := make(chan error, 1)
	go func() {
		replied <- s.AddPost(ctx, Post{ID: "p2", QuestionID: "q1", VisitID: "v1", Side: SideProvider, PostedBy: "u1", PostedAt: now, TextSealed: []byte("y")},
			func(bool) AuditRecord {
				return AuditRecord{Time: now, VisitID: "v1", Action: "question.replied", Outcome: "success"}
			})
	}()
	time.Sleep(300 * time.Millisecond) // the reply under way, waiting
	close(release)
	if err := <-deleted; err != nil {
		t.Fatalf("the deletion: %v", err)
	}
	if err := <-replied; !errors.Is(err, ErrNotFound) {
		t.Fatalf("a reply beside its file's deletion: %v, want ErrNotFound", err)
	}
}
