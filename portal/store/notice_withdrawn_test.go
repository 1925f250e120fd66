package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestDestructionNeedsTheNoticeStill: the sweep finds a visit due (its
// publication recorded, its notice run) and, while it counts the bucket,
// an administrator withdraws the publication, recorded in error, or sets
// and lifts a legal hold: either withdraws the notice, and a sweep
// elsewhere may give a fresh one. The transaction that would begin the
// destruction finds no notice, or not the one it was found due on, and
// begins nothing: the visit stays active (ErrNotDue), where it was once
// destroyed on the strength of what the sweep had read.
func TestDestructionNeedsTheNoticeStill(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	day := now.Truncate(24 * time.Hour)
	for _, withdraw := range []struct {
		name string
		do   func(s *Store) error
	}{
		{"publication withdrawn", func(s *Store) error {
			_, _, err := s.WithdrawLastEvent(ctx, "v1", Event{Event: "published", Date: day}, now)
			return err
		}},
		{"legal hold set and lifted", func(s *Store) error {
			if _, err := s.SetLegalHold(ctx, "v1", LegalHold{On: true, At: now}); err != nil {
				return err
			}
			_, err := s.SetLegalHold(ctx, "v1", LegalHold{On: false, At: now})
			return err
		}},
		// A sweep elsewhere gives a fresh notice, whose period has
		// not run: the destruction waits for it.
		{"legal hold set and lifted, notice given again", func(s *Store) error {
			for _, on := range []bool{true, false} {
				if _, err := s.SetLegalHold(ctx, "v1", LegalHold{On: on, At: now}); err != nil {
					return err
				}
			}
			_, err := s.GiveNotice(ctx, "v1", day, day.AddDate(0, 0, 30), now.Add(time.Hour), 7*24*time.Hour)
			return err
		}},
	} {
		t.Run(withdraw.name, func(t *testing.T) {
			s := openTest(t)
			visitV1(t, s, now)
			publishedWithNotice(t, s, day, now)
			// What the sweep read before it counted the bucket.
			version, err := s.FilesVersion(ctx, "v1")
			if err != nil {
				t.Fatal(err)
			}
			if err := withdraw.do(s); err != nil {
				t.Fatal(err)
			}
			err = s.BeginDestruction(ctx, Destruction{VisitID: "v1", Reference: "FV-1", Files: "[]", StartedAt: now, FilesVersion: version, NoticeGivenAt: now})
			if !errors.Is(err, ErrNotDue) {
				t.Fatalf("destruction begun after the notice was withdrawn: %v, want ErrNotDue", err)
			}
			if v, _ := s.Visit(ctx, "v1"); v.State != "active" {
				t.Fatalf("the visit is %s", v.State)
			}
		})
	}
}

// TestNoApprovalOnceDestructionBegan: an approval read before the sweep
// began the destruction, committed after it, is refused: the destruction
// went ahead on the notice having run, which its certificate states; an
// approval recorded after it would say otherwise. So is a purge of one of
// its files, which would list the file both destroyed and purged.
func TestNoApprovalOnceDestructionBegan(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	day := now.Truncate(24 * time.Hour)
	s := openTest(t)
	u := visitWithF1(t, s, now)
	publishedWithNotice(t, s, day, now)
	n, version := noticeAndFiles(t, s)
	if err := s.BeginDestruction(ctx, Destruction{VisitID: "v1", Reference: "FV-1", Files: `["f1"]`, StartedAt: now, FilesVersion: version, NoticeGivenAt: n.GivenAt}); err != nil {
		t.Fatal(err)
	}
	err := s.PurgeFile(ctx, PurgedFile{FileID: "f1", VisitID: "v1", Item: "1.03", Size: 7, SHA256: "sum", UploadedBy: u.ID, UploadedAt: now,
		PurgedBy: "admin", PurgedAt: now, ReasonSealed: []byte("sealed")})
	if !errors.Is(err, ErrDestructionBegun) {
		t.Errorf("a purge committed after the destruction began: %v, want ErrDestructionBegun", err)
	}
	if _, err := s.File(ctx, "v1", "f1"); err != nil {
		t.Errorf("the file the destruction listed, after a purge refused: %v", err)
	}
	err = s.ApproveDestruction(ctx, "v1", n.GivenAt, "admin-user", "https://ofsted.example", "sub-admin", "admin@ofsted.example", now.Add(time.Second))
	if !errors.Is(err, ErrDestructionBegun) {
		t.Errorf("an approval committed after the destruction began: %v, want ErrDestructionBegun", err)
	}
	if got, _ := s.GetNotice(ctx, "v1"); !got.ApprovedAt.IsZero() {
		t.Errorf("the notice was approved after the destruction began: %+v", got)
	}
}

// TestDestructionStartsAfterItsApproval: the sweep reads the time it
// begins a destruction before the transaction that begins it, which
// waits for the visit's row. An approval committed meanwhile, timed after
// that reading, came out on the certificate after the destruction's
// start, which it says never happens. The start is no earlier than an
// approval the transaction finds.
func TestDestructionStartsAfterItsApproval(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	day := now.Truncate(24 * time.Hour)
	s := openTest(t)
	visitV1(t, s, now)
	publishedWithNotice(t, s, day, now)
	n, version := noticeAndFiles(t, s)
	approved := now.Add(time.Second)
	if err := s.ApproveDestruction(ctx, "v1", n.GivenAt, "admin-user", "https://ofsted.example", "sub-admin", "admin@ofsted.example", approved); err != nil {
		t.Fatal(err)
	}
	if err := s.BeginDestruction(ctx, Destruction{VisitID: "v1", Reference: "FV-1", Files: "[]", StartedAt: now, FilesVersion: version, NoticeGivenAt: n.GivenAt}); err != nil {
		t.Fatal(err)
	}
	d, err := s.GetDestruction(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if d.StartedAt.Before(approved) {
		t.Errorf("the destruction is recorded as started at %s, before the approval at %s that committed before it", d.StartedAt, approved)
	}
}

// noticeAndFiles is what a sweep reads of v1 before it begins its
// destruction: its notice and its files_version.
func noticeAndFiles(t *testing.T, s *Store) (Notice, int64) {
	t.Helper()
	n, err := s.GetNotice(context.Background(), "v1")
	if err != nil {
		t.Fatal(err)
	}
	version, err := s.FilesVersion(context.Background(), "v1")
	if err != nil {
		t.Fatal(err)
	}
	return n, version
}

// publishedWithNotice records v1's letters, published on day, and gives
// its destruction's notice at now.
func publishedWithNotice(t *testing.T, s *Store, day, now time.Time) {
	t.Helper()
	ctx := context.Background()
	ok := func([]Event) error { return nil }
	for i, e := range []string{"draft_sent", "final_sent", "published"} {
		if _, err := s.AddEvent(ctx, Event{VisitID: "v1", Event: e, Date: day, RecordedBy: "u", RecordedAt: now.Add(time.Duration(i) * time.Second)}, ok); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.GiveNotice(ctx, "v1", day, day.AddDate(0, 0, 30), now, 0); err != nil {
		t.Fatal(err)
	}
}
