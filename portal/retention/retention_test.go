package retention

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/portal/blobs"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
)

func day(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }

func TestCheckEvents(t *testing.T) {
	cal, err := calendar.New()
	if err != nil {
		t.Fatal(err)
	}
	end := day("2026-11-11")
	ev := func(e, d string) Event { return Event{Event: e, Date: day(d)} }
	for _, tc := range []struct {
		name    string
		history []Event
		next    Event
		ok      bool
	}{
		{"draft first", nil, ev(DraftSent, "2026-11-25"), true},
		{"final before draft", nil, ev(FinalSent, "2026-12-11"), false},
		{"publish before final", []Event{ev(DraftSent, "2026-11-25")}, ev(Published, "2026-12-23"), false},
		{"complaint after draft", []Event{ev(DraftSent, "2026-11-25")}, ev(ComplaintReceived, "2026-11-30"), true},
		{"publish while complaint open", []Event{ev(DraftSent, "2026-11-25"), ev(FinalSent, "2026-12-11"), ev(ComplaintReceived, "2026-12-14")}, ev(Published, "2026-12-23"), false},
		{"publish after resolution", []Event{ev(DraftSent, "2026-11-25"), ev(FinalSent, "2026-12-11"), ev(ComplaintReceived, "2026-12-14"), ev(ComplaintResolved, "2026-12-18")}, ev(Published, "2026-12-23"), true},
		{"resolve without complaint", []Event{ev(DraftSent, "2026-11-25")}, ev(ComplaintResolved, "2026-11-30"), false},
		{"out of date order", []Event{ev(DraftSent, "2026-11-25")}, ev(FinalSent, "2026-11-20"), false},
		{"before fieldwork ends", nil, ev(DraftSent, "2026-11-10"), false},
		{"nothing after publication", []Event{ev(DraftSent, "2026-11-25"), ev(FinalSent, "2026-12-11"), ev(Published, "2026-12-23")}, ev(ComplaintReceived, "2026-12-24"), false},
		{"twice drafted", []Event{ev(DraftSent, "2026-11-25")}, ev(DraftSent, "2026-11-26"), false},
		// The final letter goes on Friday 11 December 2026: Cafcass may
		// complain until Friday 18 December, and the letter is published
		// after that.
		{"publish the day the final letter is sent", []Event{ev(DraftSent, "2026-11-25"), ev(FinalSent, "2026-12-11")}, ev(Published, "2026-12-11"), false},
		{"publish on the last day to complain", []Event{ev(DraftSent, "2026-11-25"), ev(FinalSent, "2026-12-11")}, ev(Published, "2026-12-18"), false},
		{"publish the day after", []Event{ev(DraftSent, "2026-11-25"), ev(FinalSent, "2026-12-11")}, ev(Published, "2026-12-19"), true},
		{"complaint on the last day", []Event{ev(DraftSent, "2026-11-25"), ev(FinalSent, "2026-12-11")}, ev(ComplaintReceived, "2026-12-18"), true},
		{"complaint the day after", []Event{ev(DraftSent, "2026-11-25"), ev(FinalSent, "2026-12-11")}, ev(ComplaintReceived, "2026-12-19"), false},
		// Sent on Friday 18 December 2026, the window steps over Christmas
		// Day and Boxing Day (a holiday on Monday 28 December) and runs to
		// Tuesday 29 December.
		{"complaint over the bank holidays", []Event{ev(DraftSent, "2026-11-25"), ev(FinalSent, "2026-12-18")}, ev(ComplaintReceived, "2026-12-29"), true},
		{"publish over the bank holidays", []Event{ev(DraftSent, "2026-11-25"), ev(FinalSent, "2026-12-18")}, ev(Published, "2026-12-29"), false},
		{"publish after the bank holidays", []Event{ev(DraftSent, "2026-11-25"), ev(FinalSent, "2026-12-18")}, ev(Published, "2026-12-30"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(cal, tc.history, tc.next, end)
			if (err == nil) != tc.ok {
				t.Fatalf("Check = %v, want ok=%v", err, tc.ok)
			}
			var oo *ErrOutOfOrder
			if err != nil && !errors.As(err, &oo) {
				t.Fatalf("error %v is not ErrOutOfOrder", err)
			}
		})
	}
}

type fakeObjects struct {
	removed map[string]bool
	fail    map[string]bool // buckets that cannot be removed
	missing map[string]bool // buckets the store does not show
	objects map[string][]blobs.Version
	// listing, when set, runs as a bucket's versions are listed: the
	// destruction's inventory, after the sweep found the visit due.
	listing func(bucket string)
	// crashAfterRemove: RemoveBucket removes the bucket, then fails, as a
	// process stopped before it could record the removal.
	crashAfterRemove bool
}

func (f *fakeObjects) Versions(_ context.Context, b, _ string) ([]blobs.Version, error) {
	if f.listing != nil {
		f.listing(b)
	}
	return f.objects[b], nil
}

func (f *fakeObjects) BucketExists(_ context.Context, b string) (bool, error) {
	return !f.missing[b] && !f.removed[b], nil
}

func (f *fakeObjects) RemoveBucket(ctx context.Context, b string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if f.fail[b] {
		return 0, errors.New("storage down")
	}
	if f.removed[b] {
		return 0, nil
	}
	f.removed[b] = true
	n := len(f.objects[b])
	delete(f.objects, b)
	if f.crashAfterRemove {
		f.crashAfterRemove = false
		return n, errors.New("crash after the bucket was removed")
	}
	return n, nil
}

type harness struct {
	st      *store.Store
	objects *fakeObjects
	today   time.Time
	hour    int // of the clock on today; 12 when unset
	forgot  []string
	key     ed25519.PrivateKey
	path    string
}

func TestMain(m *testing.M) { os.Exit(pgserver.RunTests(m)) }

func newHarness(t *testing.T) *harness {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.db")
	var st *store.Store
	var err error
	if pgserver.TestDatabaseWanted() {
		url, uerr := pgserver.NewTestDatabase(context.Background())
		if uerr != nil {
			t.Fatal(uerr)
		}
		path = ""
		st, err = store.OpenPostgres(context.Background(), url, store.PostgresOptions{})
	} else {
		st, err = store.Open(context.Background(), path)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, key, _ := ed25519.GenerateKey(nil)
	return &harness{st: st, objects: &fakeObjects{removed: map[string]bool{}, fail: map[string]bool{}, missing: map[string]bool{}, objects: map[string][]blobs.Version{}}, key: key, path: path}
}

func (h *harness) service(holder string) *Service {
	return &Service{Store: h.st, Objects: h.objects, Forget: func(id string) { h.forgot = append(h.forgot, id) }, Signer: h.key,
		Now: func() time.Time {
			hour := h.hour
			if hour == 0 {
				hour = 12
			}
			y, m, d := h.today.Date()
			return time.Date(y, m, d, hour, 0, 0, 0, calendar.London)
		}, Today: func() time.Time { return h.today },
		Holder: holder, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// recordInTrail has s's records made as the portal makes them (at s's
// clock, by the portal), so that they land in the trail.
func recordInTrail(s *Service) {
	s.Record = func(visitID, action, object string, detail map[string]any) store.AuditRecord {
		return store.AuditRecord{Time: s.Now(), ActorSubject: "portal", VisitID: visitID, Action: action, Object: object, Outcome: "success"}
	}
}

func (h *harness) visit(t *testing.T, id string, wrapped []byte) store.Visit {
	t.Helper()
	ctx := context.Background()
	v := store.Visit{ID: id, Reference: "FV-" + id, TitleSealed: []byte("t"), Provider: "Cafcass", NotificationDate: day("2026-11-03"),
		FieldworkStart: day("2026-11-10"), RetentionDays: 30, State: "active", Bucket: "bucket-" + id, CreatedAt: time.Now(), CreatedBy: "system"}
	if err := h.st.CreateVisit(ctx, v, store.VisitKey{VisitID: id, Wrapped: wrapped, Fingerprint: "fp-" + id, HeaderSize: 1, CreatedAt: time.Now()}, nil, nil); err != nil {
		t.Fatal(err)
	}
	u, err := h.st.SignIn(ctx, "https://idp.example", "sub-"+id, "u@example.org", "U", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h.st.BeginUpload(ctx, "f-"+id, id, "u1", time.Now())
	if err := h.st.CommitFile(ctx, store.File{ID: "f-" + id, VisitID: id, NameSealed: []byte("n"), Size: 10, SHA256: "abc", SegmentSize: 1, Segments: 1, HeaderSize: 1, UploadedBy: u.ID, UploadedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// Its one segment, in two versions, and a stray object.
	h.objects.objects[v.Bucket] = []blobs.Version{{Key: "f-" + id + "/0", VersionID: "1"}, {Key: "f-" + id + "/0", VersionID: "2"}, {Key: "stray", VersionID: "3"}}
	for _, e := range []Event{{DraftSent, day("2026-11-25")}, {FinalSent, day("2026-12-11")}, {Published, day("2026-12-23")}} {
		h.event(t, id, e)
	}
	return v
}

// event records e on visit id as the portal does: with its record in the
// visit's audit trail.
func (h *harness) event(t *testing.T, id string, e Event) {
	t.Helper()
	rec := store.AuditRecord{Time: time.Now(), ActorSubject: "sub-" + id, VisitID: id, Action: "letter." + e.Event, Outcome: "success",
		Detail: `{"date":"` + e.Date.Format(time.DateOnly) + `"}`}
	if _, err := h.st.AddEvent(context.Background(), store.Event{VisitID: id, Event: e.Event, Date: e.Date, RecordedBy: "u", RecordedAt: time.Now()}, func([]store.Event) error { return nil }, rec); err != nil {
		t.Fatal(err)
	}
}

func TestNothingDestroyedBeforeDateOrOnHold(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey())
	s := h.service("p1")
	for _, today := range []string{"2026-12-23", "2027-01-21"} { // publication, and the day before publication + 30
		h.today = day(today)
		if got, err := s.Sweep(ctx); err != nil || len(got) != 0 {
			t.Fatalf("%s: destroyed %v, %v", today, got, err)
		}
	}
	h.today = day("2027-01-22")
	h.st.SetLegalHold(ctx, "v1", store.LegalHold{On: true, At: time.Now()})
	if got, _ := s.Sweep(ctx); len(got) != 0 {
		t.Fatalf("destroyed while on hold: %v", got)
	}
	h.st.SetLegalHold(ctx, "v1", store.LegalHold{On: false, At: time.Now()})
	if got, err := s.Sweep(ctx); err != nil || len(got) != 1 {
		t.Fatalf("on its date, hold lifted: destroyed %v, %v", got, err)
	}
	v, _ := h.st.Visit(ctx, "v1")
	if v.State != "destroyed" {
		t.Fatalf("state %s", v.State)
	}
	if _, err := h.st.WrappedKey(ctx, "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("key row survived")
	}
	d, _ := h.st.GetDestruction(ctx, "v1")
	c, err := Verify(d.Certificate, h.key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if c.Reference != "FV-v1" || c.FileCount != 1 || c.Files[0].SHA256 != "abc" || c.KeyFingerprint != "fp-v1" || c.ObjectsDeleted != 3 || c.Steps.KeyDestroyed.IsZero() {
		t.Fatalf("certificate %+v", c)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	if _, err := Verify(d.Certificate, other.Public().(ed25519.PublicKey)); !errors.Is(err, ErrBadSignature) {
		t.Fatal("verified with the wrong key")
	}
	tampered := bytes.Replace(d.Certificate, []byte("FV-v1"), []byte("FV-v2"), 1)
	if _, err := Verify(tampered, h.key.Public().(ed25519.PublicKey)); !errors.Is(err, ErrBadSignature) {
		t.Fatal("tampered certificate verified")
	}
}

// TestLiftedHoldGivesNoticeAgain: a notice given (and approved) before a
// legal hold does not count once the hold is lifted, months later
// perhaps, by one administrator: the lift withdraws them, and the visit
// is destroyed only once a fresh notice has run, as for any visit whose
// date is already past.
func TestLiftedHoldGivesNoticeAgain(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey()) // destroy on 2027-01-22
	s := h.service("p1")
	s.NoticePeriod = 7 * 24 * time.Hour
	h.today, h.hour = day("2027-01-16"), 9
	if got, err := s.Sweep(ctx); err != nil || len(got) != 0 {
		t.Fatalf("noticed: destroyed %v, %v", got, err)
	}
	if err := h.st.ApproveDestruction(ctx, "v1", givenAt(t, h.st, "v1"), "admin-user", "iss", "admin", "admin@ofsted.example", s.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.SetLegalHold(ctx, "v1", store.LegalHold{On: true, At: s.Now()}); err != nil {
		t.Fatal(err)
	}
	h.today = day("2027-09-01")
	if _, err := h.st.SetLegalHold(ctx, "v1", store.LegalHold{On: false, At: s.Now()}); err != nil {
		t.Fatal(err)
	}
	lifted := s.Now()
	if got, err := s.Sweep(ctx); err != nil || len(got) != 0 {
		t.Fatalf("the sweep right after the lift destroyed %v (%v): the notice and approval given before the hold counted", got, err)
	}
	n, err := h.st.GetNotice(ctx, "v1")
	if err != nil || n.GivenAt.Before(lifted) || !n.ApprovedAt.IsZero() {
		t.Fatalf("after the lift the notice stands given at %s (lifted %s), approved at %s (%v): want a fresh one, not approved", n.GivenAt, lifted, n.ApprovedAt, err)
	}
	h.today = day("2027-09-07")
	if got, _ := s.Sweep(ctx); len(got) != 0 {
		t.Fatalf("destroyed %v before the fresh notice ran out", got)
	}
	h.today = day("2027-09-08")
	if got, err := s.Sweep(ctx); err != nil || len(got) != 1 {
		t.Fatalf("the fresh notice ran out: destroyed %v, %v", got, err)
	}
}

// TestHoldDuringTheInventoryStopsTheDestruction sets a legal hold while
// the destruction takes its inventory: after the sweep found the visit
// due, before anything is destroyed. The destruction must not begin: the
// visit is neither destroying nor failed, and is destroyed only once the
// hold is lifted. (Nothing else can make a due visit not due: no letter
// event follows publication, and the retention period is fixed.)
func TestHoldDuringTheInventoryStopsTheDestruction(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey())
	s := h.service("p1")
	h.today = day("2027-01-22")
	held := false
	h.objects.listing = func(string) {
		if !held {
			held = true
			if _, err := h.st.SetLegalHold(ctx, "v1", store.LegalHold{On: true, At: time.Now()}); err != nil {
				t.Error(err)
			}
		}
	}
	got, err := s.Sweep(ctx)
	if len(got) != 0 {
		t.Fatalf("destroyed %v under a legal hold set as it began (%v)", got, err)
	}
	if err != nil {
		t.Fatalf("a visit put on hold is not a failure: %v", err)
	}
	v, _ := h.st.Visit(ctx, "v1")
	if _, derr := h.st.GetDestruction(ctx, "v1"); v.State != "active" || !errors.Is(derr, store.ErrNotFound) {
		t.Fatalf("state %s, destruction record: %v", v.State, derr)
	}
	if _, err := h.st.GetFailure(ctx, "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failure recorded: %v", err)
	}
	if _, err := h.st.WrappedKey(ctx, "v1"); err != nil {
		t.Fatal("key:", err)
	}
	if got, err := s.Sweep(ctx); len(got) != 0 || err != nil {
		t.Fatalf("next sweep: destroyed %v, %v", got, err)
	}
	if _, err := h.st.SetLegalHold(ctx, "v1", store.LegalHold{On: false, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Sweep(ctx); len(got) != 1 || err != nil {
		t.Fatalf("hold lifted: destroyed %v, %v", got, err)
	}
}

// TestFreshNoticeDuringTheInventoryStopsTheDestruction: the sweep finds a
// visit due on its notice and, while it counts the bucket (a sweep
// paused past its lease runs on), an administrator sets a legal hold and
// another lifts it, which withdraws the notice, and a sweep elsewhere
// gives a fresh one. The destruction began all the same: it asked only
// whether the visit had a notice, and was destroyed a notice period
// early, the period administrators have to set the hold again. It begins
// only on the notice it was found due on.
func TestFreshNoticeDuringTheInventoryStopsTheDestruction(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey()) // published 2026-12-23, destroy on 2027-01-22
	s := h.service("p1")
	s.NoticePeriod = 7 * 24 * time.Hour
	h.today, h.hour = day("2027-01-16"), 12
	if got, err := s.Sweep(ctx); err != nil || len(got) != 0 {
		t.Fatalf("noticed: destroyed %v, %v", got, err)
	}
	h.today, h.hour = day("2027-01-23"), 13
	again := false
	h.objects.listing = func(string) {
		if again {
			return
		}
		again = true
		for _, on := range []bool{true, false} {
			if _, err := h.st.SetLegalHold(ctx, "v1", store.LegalHold{On: on, At: s.Now()}); err != nil {
				t.Error(err)
			}
		}
		if _, err := h.st.GiveNotice(ctx, "v1", day("2026-12-23"), day("2027-01-22"), s.Now(), s.NoticePeriod); err != nil {
			t.Error(err)
		}
	}
	if got, err := s.Sweep(ctx); len(got) != 0 || err != nil {
		t.Fatalf("destroyed %v (%v) on the notice withdrawn as it counted the bucket: a fresh one was given meanwhile", got, err)
	}
	if v, _ := h.st.Visit(ctx, "v1"); v.State != "active" {
		t.Fatalf("the visit is %s", v.State)
	}
	h.today = day("2027-01-30")
	h.hour = 12
	if got, _ := s.Sweep(ctx); len(got) != 0 {
		t.Fatalf("destroyed %v before the fresh notice ran out", got)
	}
	h.hour = 14
	if got, err := s.Sweep(ctx); err != nil || len(got) != 1 {
		t.Fatalf("the fresh notice ran out: destroyed %v, %v", got, err)
	}
}

// TestHoldRefusedOnceDestructionBegan: a legal hold cannot stop a
// destruction that has begun, so setting one then is refused, never
// reported as set.
func TestHoldRefusedOnceDestructionBegan(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey())
	s := h.service("p1")
	s.AfterStep = func(step string) error {
		if step == "destroying" {
			return errors.New("crash")
		}
		return nil
	}
	h.today = day("2027-01-22")
	if _, err := s.Sweep(ctx); err == nil {
		t.Fatal("no crash")
	}
	if _, err := h.st.SetLegalHold(ctx, "v1", store.LegalHold{On: true, At: time.Now()}); !errors.Is(err, store.ErrDestructionBegun) {
		t.Fatalf("hold on a destroying visit: %v", err)
	}
	if hold, _ := h.st.GetLegalHold(ctx, "v1"); hold.On {
		t.Fatal("hold stored")
	}
}

// TestReapplyIgnoresARestoredHold: a destruction applied again after a
// restore is not stopped by a legal hold the backup held: the hold is
// older than the destruction, which was decided, and begun, already.
func TestReapplyIgnoresARestoredHold(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	v := h.visit(t, "v1", wrappedKey())
	if _, err := h.st.SetLegalHold(ctx, "v1", store.LegalHold{On: true, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	h.today = day("2026-12-01") // before publication: nothing of its own is due
	if err := h.service("p1").Reapply(ctx, v, "destruction recorded outside the database", nil, nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := h.st.Visit(ctx, "v1"); v.State != "destroyed" {
		t.Fatalf("state %s", v.State)
	}
}

// TestReappliedCertificateCountsWhatWasThere: a destruction applied again
// after a restore (its note found outside the database, no certificate)
// counts the bucket once the key is gone, before removing it, so that the
// only certificate the visit gets says what there was: the object
// versions removed. Before, it said 0 objects deleted, whatever the
// bucket held. A bucket already removed (by the run the backup predates)
// is counted as holding nothing, and no segment is said to have been
// gone before the destruction began, which is not known.
func TestReappliedCertificateCountsWhatWasThere(t *testing.T) {
	for _, removedBefore := range []bool{false, true} {
		ctx := context.Background()
		h := newHarness(t)
		v := h.visit(t, "v1", wrappedKey()) // 3 object versions, 1 segment expected
		if removedBefore {
			h.objects.removed[v.Bucket] = true
			delete(h.objects.objects, v.Bucket)
		}
		h.today = day("2026-12-01")
		if err := h.service("p1").Reapply(ctx, v, "destruction recorded outside the database", nil, nil); err != nil {
			t.Fatal(err)
		}
		d, _ := h.st.GetDestruction(ctx, "v1")
		c, err := Verify(d.Certificate, h.key.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatalf("certificate: %v", err)
		}
		want, gone := 3, 0
		if removedBefore {
			want = 0
		}
		if c.ObjectsDeleted != want || c.SegmentsExpected != 1 || c.SegmentsGoneBefore != gone {
			t.Errorf("bucket removed before the restore %v: the certificate says %d object versions deleted, %d of %d segments gone before; want %d, %d of 1",
				removedBefore, c.ObjectsDeleted, c.SegmentsGoneBefore, c.SegmentsExpected, want, gone)
		}
	}
}

// TestRestartAtEachStep stops the run after each step, as a crash would,
// and checks that a new process finishes the job.
func TestRestartAtEachStep(t *testing.T) {
	for _, stop := range []string{"destroying", "key_deleted", "key_destroyed", "objects_deleted"} {
		t.Run(stop, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t)
			h.visit(t, "v1", wrappedKey())
			h.today = day("2027-02-01")
			s := h.service("p1")
			s.AfterStep = func(step string) error {
				if step == stop {
					return errors.New("crash")
				}
				return nil
			}
			if _, err := s.Sweep(ctx); err == nil {
				t.Fatal("no crash")
			}
			v, _ := h.st.Visit(ctx, "v1")
			if v.State != "destroying" {
				t.Fatalf("after crash at %s: state %s, want destroying", stop, v.State)
			}
			// A second process: the first one's lease must not block it
			// for ever, but it is still held, so wait it out.
			h.today = h.today.AddDate(0, 0, 1)
			s2 := h.service("p2")
			if got, err := s2.Sweep(ctx); err != nil || len(got) != 1 {
				t.Fatalf("resume: %v, %v", got, err)
			}
			v, _ = h.st.Visit(ctx, "v1")
			d, _ := h.st.GetDestruction(ctx, "v1")
			if v.State != "destroyed" || d.Certificate == nil || !h.objects.removed["bucket-v1"] {
				t.Fatalf("not finished: %s %v", v.State, h.objects.removed)
			}
		})
	}
}

func TestLeaseExcludesASecondSweeper(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.today = day("2027-02-01")
	now := h.today
	if ok, _ := h.st.TakeLease(ctx, sweepLease, "p1", now, now.Add(24*time.Hour)); !ok {
		t.Fatal("first lease refused")
	}
	h.visit(t, "v1", wrappedKey())
	got, err := h.service("p2").Sweep(ctx)
	var held *LeaseHeldError
	if len(got) != 0 || !errors.As(err, &held) || held.Holder != "p1" || !held.Until.Equal(now.Add(24*time.Hour)) {
		t.Fatalf("second sweeper while the lease was held: %v %v", got, err)
	}
}

// TestDestructionWaitsForNoticeOrApproval: nothing is destroyed before the
// notice period has run since the notice was given, however late the
// events that set the date were recorded, unless an administrator approves;
// the notice is given once and both go on the certificate.
func TestDestructionWaitsForNoticeOrApproval(t *testing.T) {
	ctx := context.Background()
	at := func(h *harness, d string, hour int) { h.today = day(d); h.hour = hour }
	notices := func(h *harness) int {
		var n int
		h.st.DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE action = 'destruction.notice'`).Scan(&n)
		return n
	}
	t.Run("notice period", func(t *testing.T) {
		h := newHarness(t)
		h.visit(t, "v1", wrappedKey())
		s := h.service("p1")
		s.NoticePeriod = 7 * 24 * time.Hour
		recordInTrail(s)
		for _, step := range []struct {
			day     string
			hour    int
			notices int
			gone    bool
		}{
			{"2027-01-10", 12, 0, false}, // date 2027-01-22: not yet within the period
			{"2027-01-16", 12, 1, false}, // notice given now
			{"2027-01-22", 12, 1, false}, // the date, but the notice has run 6 days
			{"2027-01-23", 11, 1, false},
			{"2027-01-23", 13, 1, true},
		} {
			at(h, step.day, step.hour)
			got, err := s.Sweep(ctx)
			if err != nil || (len(got) == 1) != step.gone || notices(h) != step.notices {
				t.Fatalf("%s %02d:00: destroyed %v (%v), %d notices; want destroyed=%v, %d notices", step.day, step.hour, got, err, notices(h), step.gone, step.notices)
			}
		}
		d, _ := h.st.GetDestruction(ctx, "v1")
		c, err := Verify(d.Certificate, h.key.Public().(ed25519.PublicKey))
		if err != nil || c.Type != CertificateType || c.Notice == nil || c.Notice.Period != "168h0m0s" || c.Approval != nil {
			t.Fatalf("certificate %+v %v", c, err)
		}
	})
	t.Run("back-dated publication waits, or is approved", func(t *testing.T) {
		h := newHarness(t)
		h.visit(t, "v1", wrappedKey())
		s := h.service("p1")
		s.NoticePeriod = 7 * 24 * time.Hour
		at(h, "2027-06-01", 9) // months past the date
		if got, _ := s.Sweep(ctx); len(got) != 0 {
			t.Fatalf("destroyed at once: %v", got)
		}
		if _, err := h.st.GetNotice(ctx, "v1"); err != nil {
			t.Fatalf("no notice given: %v", err)
		}
		at(h, "2027-06-02", 9)
		if got, _ := s.Sweep(ctx); len(got) != 0 {
			t.Fatalf("destroyed before the notice ran: %v", got)
		}
		if err := h.st.ApproveDestruction(ctx, "v1", givenAt(t, h.st, "v1"), "admin-2-user", "https://idp.example", "admin-2", "admin2@example.org", s.Now()); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Sweep(ctx); err != nil || len(got) != 1 {
			t.Fatalf("approved: destroyed %v, %v", got, err)
		}
		d, _ := h.st.GetDestruction(ctx, "v1")
		c, err := Verify(d.Certificate, h.key.Public().(ed25519.PublicKey))
		if err != nil || c.Approval == nil || c.Approval.Email != "admin2@example.org" || c.Approval.At.IsZero() {
			t.Fatalf("certificate %+v %v", c, err)
		}
	})
}

// wrappedKey stands in for a wrapped visit key: random bytes of about the
// size of a real one.
func wrappedKey() []byte {
	b := make([]byte, 1600)
	rand.Read(b)
	return b
}

// TestOneFailureDoesNotStopTheOthers: a visit whose bucket cannot be
// removed is recorded (for administrators and the trail), retried with
// backoff, and the other visits due are destroyed meanwhile.
func TestOneFailureDoesNotStopTheOthers(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey())
	h.visit(t, "v2", wrappedKey())
	h.objects.fail["bucket-v1"] = true
	s := h.service("p1")
	recordInTrail(s)
	h.today = day("2027-02-01")
	got, err := s.Sweep(ctx)
	if len(got) != 1 || got[0] != "v2" || err == nil || !strings.Contains(err.Error(), "storage down") {
		t.Fatalf("first sweep: destroyed %v, %v", got, err)
	}
	f, err := h.st.GetFailure(ctx, "v1")
	if err != nil || f.Attempts != 1 || !strings.Contains(f.Reason, "storage down") || !f.NextAttemptAt.After(s.Now()) {
		t.Fatalf("failure record %+v %v", f, err)
	}
	var recorded int
	h.st.DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE action = 'destruction.failed'`).Scan(&recorded)
	// Within the backoff, nothing is tried.
	if got, err := s.Sweep(ctx); len(got) != 0 || err != nil {
		t.Fatalf("within the backoff: %v %v", got, err)
	}
	h.objects.fail["bucket-v1"] = false
	h.hour = 14 // two hours later
	if got, err := s.Sweep(ctx); len(got) != 1 || got[0] != "v1" || err != nil {
		t.Fatalf("after the backoff: %v %v", got, err)
	}
	if _, err := h.st.GetFailure(ctx, "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failure kept after success: %v", err)
	}
	if recorded != 1 {
		t.Fatalf("%d destruction.failed records, want 1", recorded)
	}
}

// TestCertificateCountsTheStart: the certificate counts every object
// version there was when destruction began, and the segments already gone
// (a lifecycle backstop), whatever a resumed run removed.
func TestCertificateCountsTheStart(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	v := h.visit(t, "v1", wrappedKey())
	// The backstop expired the file's segment: a delete marker and one
	// older version left, plus an object of an abandoned upload.
	h.objects.objects[v.Bucket] = []blobs.Version{{Key: "f-v1/0", VersionID: "dm", DeleteMarker: true}, {Key: "pending/0", VersionID: "p"}}
	h.today = day("2027-02-01")
	s := h.service("p1")
	s.AfterStep = func(step string) error {
		if step == "objects_deleted" {
			return errors.New("crash")
		}
		return nil
	}
	s.Sweep(ctx)
	h.today = day("2027-02-02")
	if got, err := h.service("p2").Sweep(ctx); err != nil || len(got) != 1 {
		t.Fatalf("resume: %v %v", got, err)
	}
	d, _ := h.st.GetDestruction(ctx, "v1")
	c, err := Verify(d.Certificate, h.key.Public().(ed25519.PublicKey))
	if err != nil || c.ObjectsDeleted != 2 || c.SegmentsExpected != 1 || c.SegmentsGoneBefore != 1 {
		t.Fatalf("certificate counts: objects %d, segments %d, gone before %d (%v)", c.ObjectsDeleted, c.SegmentsExpected, c.SegmentsGoneBefore, err)
	}
}

// TestKeyDestroyedOnlyWhenGone: while a reader holds the database's log,
// the key's page cannot be checkpointed away: the step is not recorded and
// no certificate is signed until the key's bytes are verifiably gone from
// the database files.
func TestKeyDestroyedOnlyWhenGone(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	wrapped := wrappedKey()
	h.visit(t, "v1", wrapped)
	h.today = day("2027-02-01")
	conn, err := h.st.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	begin := `BEGIN`
	if h.st.Postgres() {
		begin = `BEGIN ISOLATION LEVEL REPEATABLE READ` // a snapshot for the whole transaction
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		t.Fatal(err)
	}
	var n int
	conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM visit_keys`).Scan(&n) // holds a snapshot
	s := h.service("p1")
	s.KeyWait = 500 * time.Millisecond
	got, err := s.Sweep(ctx)
	if len(got) != 0 || !errors.Is(err, store.ErrKeyNotGone) {
		t.Fatalf("with a reader holding the log: destroyed %v, %v", got, err)
	}
	d, _ := h.st.GetDestruction(ctx, "v1")
	if !d.KeyDestroyedAt.IsZero() || d.Certificate != nil {
		t.Fatalf("key recorded destroyed (%v) or certificate signed while its bytes may remain", d.KeyDestroyedAt)
	}
	if _, err := h.st.WrappedKey(ctx, "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("the key row is still readable")
	}
	conn.ExecContext(ctx, `ROLLBACK`)
	conn.Close()
	h.hour = 14 // past the backoff
	if got, err := s.Sweep(ctx); err != nil || len(got) != 1 {
		t.Fatalf("reader gone: %v %v", got, err)
	}
	for _, f := range []string{h.path, h.path + "-wal"} {
		if h.path == "" {
			break // PostgreSQL: the row and its dead version are gone (VerifyKeyGone)
		}
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, wrapped[len(wrapped)-200:]) {
			t.Fatalf("the wrapped key is still in %s", f)
		}
	}
}

// TestKeyDestroyedAtTheProof: the time the key is recorded destroyed, on
// the certificate and in the trail, is the time its bytes were proved gone,
// not the time the proof began: a reader holding the log makes the proof
// wait, and the record must not claim the key was gone while it waited.
func TestKeyDestroyedAtTheProof(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey())
	h.today = day("2027-02-01")
	conn, err := h.st.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	begin := `BEGIN`
	if h.st.Postgres() {
		begin = `BEGIN ISOLATION LEVEL REPEATABLE READ`
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		t.Fatal(err)
	}
	var n int
	conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM visit_keys`).Scan(&n) // holds a snapshot
	var now atomic.Pointer[time.Time]
	began := time.Date(2027, 2, 1, 12, 0, 0, 0, calendar.London)
	now.Store(&began)
	s := h.service("p1")
	s.Now = func() time.Time { return *now.Load() }
	recordInTrail(s)
	s.KeyWait = 20 * time.Second
	proved := began.Add(40 * time.Minute)
	s.AfterStep = func(step string) error {
		if step == "key_deleted" {
			go func() {
				time.Sleep(300 * time.Millisecond)
				now.Store(&proved) // the reader lets go forty minutes later
				conn.ExecContext(ctx, `ROLLBACK`)
			}()
		}
		return nil
	}
	if got, err := s.Sweep(ctx); err != nil || len(got) != 1 {
		t.Fatalf("sweep: %v %v", got, err)
	}
	d, err := h.st.GetDestruction(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if !d.KeyDestroyedAt.Equal(proved) {
		t.Errorf("the key recorded destroyed at %v, want %v, when its bytes were proved gone", d.KeyDestroyedAt, proved)
	}
	c, err := Verify(d.Certificate, h.key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Steps.KeyDestroyed.Equal(proved) {
		t.Errorf("the certificate says the key was destroyed at %v, want %v", c.Steps.KeyDestroyed, proved)
	}
	recs, err := h.st.AuditRecords(ctx, store.AuditFilter{VisitID: "v1", Action: "destruction.key_destroyed"})
	if err != nil || len(recs) != 1 || !recs[0].Time.Equal(proved) {
		t.Errorf("the trail's destruction.key_destroyed: %+v (%v), want one at %v", recs, err, proved)
	}
}

// TestDestructionNamesEveryFileItDestroys: a file stored while the
// destruction takes its inventory (after the sweep found the visit due,
// before the visit is marked destroying) is listed on the certificate,
// because the inventory is taken again; once the visit is destroying, no
// file is stored in it.
func TestDestructionNamesEveryFileItDestroys(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey())
	u, err := h.st.SignIn(ctx, "https://idp.example", "sub-late", "late@example.org", "L", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	put := func(id string) error {
		if err := h.st.BeginUpload(ctx, id, "v1", "u1", time.Now()); err != nil {
			return err
		}
		return h.st.CommitFile(ctx, store.File{ID: id, VisitID: "v1", NameSealed: []byte("n"), Size: 5, SHA256: "late-" + id, SegmentSize: 1, Segments: 1,
			HeaderSize: 1, UploadedBy: u.ID, UploadedAt: time.Now()})
	}
	listings := 0
	h.objects.listing = func(string) {
		if listings++; listings == 1 {
			if err := put("f-late"); err != nil {
				t.Error("a file stored during the inventory:", err)
			}
		}
	}
	h.today = day("2027-02-01")
	s := h.service("p1")
	var during error
	s.AfterStep = func(step string) error {
		if step == "destroying" {
			during = put("f-after")
		}
		return nil
	}
	if got, err := s.Sweep(ctx); err != nil || len(got) != 1 {
		t.Fatalf("sweep: %v %v", got, err)
	}
	if !errors.Is(during, store.ErrDestructionBegun) {
		t.Errorf("a file stored once the visit was destroying: %v, want ErrDestructionBegun", during)
	}
	files, err := h.st.Files(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.ID == "f-after" {
			t.Error("a file was stored in a visit being destroyed")
		}
	}
	d, _ := h.st.GetDestruction(ctx, "v1")
	c, err := Verify(d.Certificate, h.key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, f := range c.Files {
		named = append(named, f.ID)
	}
	if strings.Join(named, ",") != "f-v1,f-late" {
		t.Errorf("the certificate names %v, want the visit's file and the one stored during the inventory", named)
	}
	if listings != 2 {
		t.Errorf("the bucket was listed %d times, want 2 (the inventory taken again)", listings)
	}
}

// TestCertificateProvesNotEarly: a records manager, or anyone given the
// certificate and the public key and nothing of the database, can tell
// from the signed certificate alone that the visit was destroyed no
// sooner than it was due (the date the schedule set, and the moment the
// notice, or an approval, let it run) and which bucket went with it.
func TestCertificateProvesNotEarly(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, today string
		hour        int
		approve     bool
		after       time.Time
	}{
		// the date 2027-01-22; notice given 2027-01-16 12:00: it runs a week later.
		{"notice", "2027-01-23", 13, false, time.Date(2027, 1, 23, 12, 0, 0, 0, time.UTC)},
		// approved: the start of the date in London.
		{"approved", "2027-01-22", 9, true, time.Date(2027, 1, 22, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.visit(t, "v1", wrappedKey())
			s := h.service("p1")
			s.NoticePeriod = 7 * 24 * time.Hour
			h.today, h.hour = day("2027-01-16"), 12
			if got, err := s.Sweep(ctx); err != nil || len(got) != 0 {
				t.Fatalf("notice: destroyed %v, %v", got, err)
			}
			if tc.approve {
				if err := h.st.ApproveDestruction(ctx, "v1", givenAt(t, h.st, "v1"), "admin-2-user", "https://idp.example", "admin-2", "admin2@example.org", s.Now()); err != nil {
					t.Fatal(err)
				}
			}
			h.today, h.hour = day(tc.today), tc.hour
			if got, err := s.Sweep(ctx); err != nil || len(got) != 1 {
				t.Fatalf("destroyed %v, %v", got, err)
			}
			d, _ := h.st.GetDestruction(ctx, "v1")
			if _, err := Verify(d.Certificate, h.key.Public().(ed25519.PublicKey)); err != nil {
				t.Fatal(err)
			}
			// What the verifier reads: the signed member, as JSON.
			var signed Signed
			var c struct {
				Bucket string `json:"bucket"`
				Due    *struct {
					DestroyOn    string    `json:"destroy_on"`
					DestroyAfter time.Time `json:"destroy_after"`
				} `json:"due"`
				Steps CertSteps `json:"steps"`
			}
			if err := json.Unmarshal(d.Certificate, &signed); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(signed.Certificate, &c); err != nil {
				t.Fatal(err)
			}
			if c.Bucket != "bucket-v1" || c.Due == nil || c.Due.DestroyOn != "2027-01-22" || !c.Due.DestroyAfter.Equal(tc.after) {
				t.Fatalf("the certificate says bucket %q, due %+v; want bucket-v1, due 2027-01-22 after %s:\n%s", c.Bucket, c.Due, tc.after, signed.Certificate)
			}
			on, _ := time.ParseInLocation(time.DateOnly, c.Due.DestroyOn, calendar.London)
			if c.Steps.Started.Before(c.Due.DestroyAfter) || c.Due.DestroyAfter.Before(on) {
				t.Fatalf("started %s, due %+v: early", c.Steps.Started, c.Due)
			}
		})
	}
}

// TestCertificateWrittenOutsideIsTheOne: the certificate reached the
// anchor store but the destruction stopped before recording it (the
// store's answer was lost, the process died): the run that finishes it
// records that same certificate, so the database and the anchor store
// (write-once: the first copy stays) hold one certificate, not two that
// differ in when they were issued.
func TestCertificateWrittenOutsideIsTheOne(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey())
	h.today = day("2027-02-01")
	s := h.service("p1")
	recordInTrail(s)
	outside, lost := map[string][]byte{}, false
	s.Outside = func(_ context.Context, name string, body []byte) error {
		if outside[name] == nil {
			outside[name] = body
		}
		if name == CertificateName("v1") && !lost {
			lost = true
			return errors.New("the store's answer was lost")
		}
		return nil
	}
	s.Issued = func(_ context.Context, visitID string) ([]byte, error) { return outside[CertificateName(visitID)], nil }
	if got, err := s.Sweep(ctx); len(got) != 0 || err == nil {
		t.Fatalf("first run: destroyed %v, %v", got, err)
	}
	h.hour = 14 // after the backoff
	if got, err := s.Sweep(ctx); len(got) != 1 || err != nil {
		t.Fatalf("second run: destroyed %v, %v", got, err)
	}
	d, _ := h.st.GetDestruction(ctx, "v1")
	if !bytes.Equal(d.Certificate, outside[CertificateName("v1")]) {
		t.Fatalf("the database's certificate:\n%s\nthe one outside it:\n%s", d.Certificate, outside[CertificateName("v1")])
	}
	var issued int
	h.st.DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE action = 'destruction.certificate_issued'`).Scan(&issued)
	if issued != 1 {
		t.Fatalf("%d destruction.certificate_issued records, want 1", issued)
	}
}

// TestLiftWithoutAHoldKeepsTheNotice: a visit never held is noticed, and
// an administrator who is not a member approves its destruction. Another
// administrator then lifts a legal hold the visit does not have (the
// wrong visit, or a lift sent twice). Nothing held the visit, so nothing
// was decided before a hold: the notice and the approval stand, and the
// visit is destroyed on its date. Before, any lift withdrew them, and one
// person's stray lift put the destruction off by a fresh notice.
func TestLiftWithoutAHoldKeepsTheNotice(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey()) // destroy on 2027-01-22
	s := h.service("p1")
	s.NoticePeriod = 7 * 24 * time.Hour
	h.today, h.hour = day("2027-01-16"), 9
	if got, err := s.Sweep(ctx); err != nil || len(got) != 0 {
		t.Fatalf("noticed: destroyed %v, %v", got, err)
	}
	if err := h.st.ApproveDestruction(ctx, "v1", givenAt(t, h.st, "v1"), "admin-user", "iss", "admin", "admin@ofsted.example", s.Now()); err != nil {
		t.Fatal(err)
	}
	h.today = day("2027-01-20")
	if _, err := h.st.SetLegalHold(ctx, "v1", store.LegalHold{On: false, At: s.Now()}); err != nil {
		t.Fatal(err)
	}
	if n, err := h.st.GetNotice(ctx, "v1"); err != nil || n.ApprovedAt.IsZero() {
		t.Fatalf("after a lift of no hold the notice is %+v (%v): want the approved notice kept", n, err)
	}
	h.today = day("2027-01-22")
	if got, err := s.Sweep(ctx); err != nil || len(got) != 1 {
		t.Fatalf("approved and due: destroyed %v, %v", got, err)
	}
}

// TestStaleSweepGivesNoNoticeForAWithdrawnPublication: the sweep decides
// from a page of visits read before it destroys the ones before them,
// minutes earlier. A publication withdrawn meanwhile (recorded in error)
// must not be noticed, and with no notice period (PORTAL_DESTRUCTION_NOTICE
// 0) destroyed, on the withdrawn date. Before, the sweep gave the notice
// on the page's stale row, and the destruction began on it.
func TestStaleSweepGivesNoNoticeForAWithdrawnPublication(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "va", wrappedKey())
	h.visit(t, "vb", wrappedKey())
	s := h.service("p1")
	s.NoticePeriod = 0
	h.today = day("2027-01-22")
	withdrawn := false
	s.AfterStep = func(step string) error {
		if step == "destroyed" && !withdrawn {
			withdrawn = true
			// While va is destroyed, vb's publication is withdrawn.
			if _, _, err := h.st.WithdrawLastEvent(ctx, "vb", store.Event{Event: Published, Date: day("2026-12-23")}, time.Now()); err != nil {
				t.Error(err)
			}
		}
		return nil
	}
	got, err := s.Sweep(ctx)
	if err != nil || !withdrawn || len(got) != 1 || got[0] != "va" {
		t.Fatalf("the sweep destroyed %v (%v; withdrawn %v), want va alone", got, err, withdrawn)
	}
	if v, _ := h.st.Visit(ctx, "vb"); v.State != "active" {
		t.Fatalf("vb is %s after its publication was withdrawn", v.State)
	}
	if n, err := h.st.GetNotice(ctx, "vb"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("vb has a notice (%+v, %v) for a publication withdrawn", n, err)
	}
}

// givenAt is when visit id's destruction notice was given: what an
// approval names.
func givenAt(t *testing.T, st *store.Store, id string) time.Time {
	t.Helper()
	n, err := st.GetNotice(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n.GivenAt
}

// TestCertificateStatesTheNoticeThatApplied: a destruction begun under a
// 7-day notice and finished after a crash by a run configured with 14
// days states the 7 days that decided it, and a moment it was due that
// its start does not precede. Before, it stated the finishing run's 14
// days and a due moment after its own start: portal certificate verify
// reported a destruction made on time as begun before it was due.
func TestCertificateStatesTheNoticeThatApplied(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey()) // destroy on 2027-01-22
	s := h.service("p1")
	s.NoticePeriod = 7 * 24 * time.Hour
	h.today = day("2027-01-16")
	if got, err := s.Sweep(ctx); err != nil || len(got) != 0 {
		t.Fatalf("noticed: destroyed %v, %v", got, err)
	}
	h.today = day("2027-01-23")
	s.AfterStep = func(step string) error {
		if step == "key_destroyed" {
			return errors.New("crash")
		}
		return nil
	}
	if _, err := s.Sweep(ctx); err == nil {
		t.Fatal("no crash")
	}
	h.today = day("2027-01-24") // the crashed run's lease has run out
	later := h.service("p2")
	later.NoticePeriod = 14 * 24 * time.Hour
	if got, err := later.Sweep(ctx); err != nil || len(got) != 1 {
		t.Fatalf("resume: %v %v", got, err)
	}
	d, _ := h.st.GetDestruction(ctx, "v1")
	c, err := Verify(d.Certificate, h.key.Public().(ed25519.PublicKey))
	if err != nil || c.Notice == nil || c.Due == nil {
		t.Fatalf("certificate: %+v %v", c, err)
	}
	if c.Notice.Period != (7*24*time.Hour).String() || c.Steps.Started.Before(c.Due.DestroyAfter) {
		t.Fatalf("the certificate states a notice of %s and due from %s, started %s: want the 7 days that applied, and a start not before it was due",
			c.Notice.Period, c.Due.DestroyAfter, c.Steps.Started)
	}
}

// TestNoticeGivenKeepsItsPeriod: a notice, once given, holds the
// destruction back for the period it announced, whatever the setting of
// the replica (or the restarted portal) that finishes it. Before, a
// replica with a shorter PORTAL_DESTRUCTION_NOTICE destroyed the visit
// days before the time the notice's record and the review page gave.
func TestNoticeGivenKeepsItsPeriod(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey()) // destroy on 2027-01-22: past by the time the notice is given
	s := h.service("p1")
	s.NoticePeriod = 7 * 24 * time.Hour
	h.today = day("2027-02-01") // 12:00: destroy after 2027-02-08 12:00
	if got, err := s.Sweep(ctx); err != nil || len(got) != 0 {
		t.Fatalf("noticed: destroyed %v, %v", got, err)
	}
	shorter := h.service("p2")
	shorter.NoticePeriod = 24 * time.Hour
	h.today, h.hour = day("2027-02-02"), 13
	if got, err := shorter.Sweep(ctx); err != nil || len(got) != 0 {
		t.Fatalf("a replica with a one-day notice destroyed %v (%v) on 2027-02-02, six days before the seven-day notice given on 2027-02-01 ran", got, err)
	}
	h.today, h.hour = day("2027-02-08"), 13
	if got, err := shorter.Sweep(ctx); err != nil || len(got) != 1 {
		t.Fatalf("the notice run: destroyed %v, %v", got, err)
	}
	d, _ := h.st.GetDestruction(ctx, "v1")
	c, err := Verify(d.Certificate, h.key.Public().(ed25519.PublicKey))
	if err != nil || c.Notice == nil {
		t.Fatalf("certificate: %+v %v", c, err)
	}
	if c.Notice.Period != (7 * 24 * time.Hour).String() {
		t.Errorf("the certificate states a notice of %s: want the 7 days given", c.Notice.Period)
	}
}

// TestMissingBucketDestroysNothing: a visit whose bucket the object store
// does not show as its destruction begins (the portal pointed at a replica
// without it, or a store that lost it) is not destroyed: its key is kept,
// and the destruction fails, to be retried and seen by the
// administrators. Before, an empty listing counted as an empty bucket: the
// key went, and the certificate said the bucket was deleted, its objects
// "gone before".
func TestMissingBucketDestroysNothing(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	v := h.visit(t, "v1", wrappedKey())
	h.objects.missing[v.Bucket] = true
	delete(h.objects.objects, v.Bucket)
	h.today = day("2027-02-01")
	got, err := h.service("p1").Sweep(ctx)
	if len(got) != 0 || !errors.Is(err, ErrBucketMissing) {
		t.Errorf("destroyed a visit whose bucket the store does not show: %v (%v), want none, ErrBucketMissing", got, err)
	}
	if f, err := h.st.GetFailure(ctx, v.ID); err != nil || f.Attempts != 1 {
		t.Errorf("the failed destruction: %+v (%v), want it recorded, to be retried", f, err)
	}
	if _, err := h.st.WrappedKey(ctx, v.ID); err != nil {
		t.Errorf("the key of a visit whose bucket is missing: %v, want it kept", err)
	}
	if got, _ := h.st.Visit(ctx, v.ID); got.State != "active" {
		t.Errorf("the visit whose bucket is missing is %s, want active", got.State)
	}
}

// stoppedAfterKey makes visit v1, due on 2027-02-01, and a sweep that
// stops (as a crash would) once its key is recorded destroyed, before
// its bucket is touched.
func (h *harness) stoppedAfterKey(t *testing.T) store.Visit {
	t.Helper()
	v := h.visit(t, "v1", wrappedKey())
	h.today = day("2027-02-01")
	s := h.service("p1")
	s.AfterStep = func(step string) error {
		if step == "key_destroyed" {
			return errors.New("crash")
		}
		return nil
	}
	if _, err := s.Sweep(context.Background()); err == nil {
		t.Fatal("no crash")
	}
	return v
}

// TestBucketGoneBeforeItsRemovalIsNotCertified: a destruction resumed
// after its key was destroyed, whose bucket (counted with its objects when
// the destruction began) the object store no longer shows, though no run
// of the destruction began to remove it (the portal restarted against a
// replica without it, or the store lost it), is not certified: it fails,
// to be retried and seen, the visit still being destroyed. Before, a
// bucket not found counted as removed, and the certificate said its
// objects were deleted while they may still be where they were. A bucket
// this destruction began to remove, whose removal was not recorded before
// a crash, is still finished as removed.
func TestBucketGoneBeforeItsRemovalIsNotCertified(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	v := h.stoppedAfterKey(t)
	h.objects.missing[v.Bucket] = true
	h.today = h.today.AddDate(0, 0, 1)
	got, err := h.service("p2").Sweep(ctx)
	if len(got) != 0 || !errors.Is(err, ErrBucketMissing) {
		t.Fatalf("resumed with the counted bucket not shown: destroyed %v (%v), want none, ErrBucketMissing", got, err)
	}
	d, _ := h.st.GetDestruction(ctx, v.ID)
	if d.Certificate != nil || !d.ObjectsDeletedAt.IsZero() {
		t.Errorf("a bucket no run removed is certified deleted: objects deleted at %v, certificate %d bytes", d.ObjectsDeletedAt, len(d.Certificate))
	}
	if f, err := h.st.GetFailure(ctx, v.ID); err != nil || f.Attempts != 1 {
		t.Errorf("the failed destruction: %+v (%v), want it recorded, to be retried", f, err)
	}
	if got, _ := h.st.Visit(ctx, v.ID); got.State != "destroying" {
		t.Errorf("the visit is %s, want destroying", got.State)
	}
	// The store shows the bucket again (the portal pointed back at the
	// one the evidence is in), and this time the removal is cut short by
	// a crash before it is recorded: the next run finishes it.
	delete(h.objects.missing, v.Bucket)
	h.objects.crashAfterRemove = true
	h.today = h.today.AddDate(0, 0, 2)
	if got, err := h.service("p3").Sweep(ctx); len(got) != 0 || err == nil {
		t.Fatalf("the crash in the removal: destroyed %v (%v)", got, err)
	}
	h.today = h.today.AddDate(0, 0, 4)
	if got, err := h.service("p4").Sweep(ctx); err != nil || len(got) != 1 {
		t.Fatalf("resumed after its own removal: destroyed %v (%v), want it finished", got, err)
	}
	d, _ = h.st.GetDestruction(ctx, v.ID)
	c, err := Verify(d.Certificate, h.key.Public().(ed25519.PublicKey))
	if err != nil || c.ObjectsDeleted != 3 {
		t.Fatalf("certificate: %+v (%v), want the 3 object versions counted at the start", c, err)
	}
}

// TestRestoredDestructionFindsItsBucketRemoved: a database restored from a
// backup taken while a destruction was under way, its key destroyed but
// its bucket not yet being removed, holds no mark of the removal the run
// after the backup did; the destruction recorded outside the database is
// applied again (Reapply) and finishes with the bucket gone. Refused as a
// bucket no run removed, the restore would fail on it for ever.
func TestRestoredDestructionFindsItsBucketRemoved(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	v := h.stoppedAfterKey(t) // the backup is taken here
	// The run the backup predates removed the bucket.
	h.objects.removed[v.Bucket] = true
	delete(h.objects.objects, v.Bucket)
	restored, _ := h.st.Visit(ctx, v.ID)
	if err := h.service("p2").Reapply(ctx, restored, "destruction recorded outside the database", nil, nil); err != nil {
		t.Fatalf("applied again after the restore: %v", err)
	}
	if got, _ := h.st.Visit(ctx, v.ID); got.State != "destroyed" {
		t.Fatalf("the visit is %s, want destroyed", got.State)
	}
}

// TestVisitNeverFilledWithoutABucketIsDestroyed: a visit that never held a
// file and has no bucket (its creation's answer was lost after the bucket
// was removed) has nothing for the store to lose: it is destroyed as an
// empty one, not left failing every day.
func TestVisitNeverFilledWithoutABucketIsDestroyed(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	v := h.visit(t, "v1", wrappedKey())
	if _, err := h.st.DB().Exec(`DELETE FROM files WHERE visit_id = ?`, v.ID); err != nil {
		t.Fatal(err)
	}
	h.objects.missing[v.Bucket] = true
	delete(h.objects.objects, v.Bucket)
	h.today = day("2027-02-01")
	if got, err := h.service("p1").Sweep(ctx); err != nil || len(got) != 1 {
		t.Fatalf("a visit that never held a file, without a bucket: destroyed %v (%v), want it", got, err)
	}
}

// TestNoticeThatCannotBeGivenIsAFailure: a visit whose destruction
// notice cannot be written (the database refuses it) is recorded as a
// failed destruction, for administrators and the trail, and tried again
// after the backoff; once the notice is given its failure is cleared.
// Before, the error went to the log alone: the visit missed its date with
// nothing on the pages and no alert.
func TestNoticeThatCannotBeGivenIsAFailure(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey())
	refuse, allow := `CREATE TRIGGER refuse_notice BEFORE INSERT ON destruction_notices BEGIN SELECT RAISE(ABORT, 'notices refused'); END`, `DROP TRIGGER refuse_notice`
	if h.st.Postgres() {
		refuse = `CREATE FUNCTION refuse_notice() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'notices refused'; END $$;
			CREATE TRIGGER refuse_notice BEFORE INSERT ON destruction_notices FOR EACH ROW EXECUTE FUNCTION refuse_notice()`
		allow = `DROP TRIGGER refuse_notice ON destruction_notices`
	}
	if _, err := h.st.DB().Exec(refuse); err != nil {
		t.Fatal(err)
	}
	s := h.service("p1")
	recordInTrail(s)
	s.NoticePeriod = 7 * 24 * time.Hour
	h.today = day("2027-01-20") // within the notice period of its date
	if got, err := s.Sweep(ctx); len(got) != 0 || err == nil {
		t.Fatalf("a sweep whose notice is refused: destroyed %v, %v; want none, and the error", got, err)
	}
	f, err := h.st.GetFailure(ctx, "v1")
	if err != nil || f.Attempts != 1 || !strings.Contains(f.Reason, "notices refused") {
		t.Fatalf("the failure of the notice: %+v (%v), want it recorded", f, err)
	}
	// Within its backoff it is not tried again.
	if got, err := s.Sweep(ctx); len(got) != 0 || err != nil {
		t.Fatalf("a sweep within the backoff: destroyed %v, %v", got, err)
	}
	if f, err := h.st.GetFailure(ctx, "v1"); err != nil || f.Attempts != 1 {
		t.Fatalf("within the backoff: %d attempts (%v), want the one", f.Attempts, err)
	}
	if _, err := h.st.DB().Exec(allow); err != nil {
		t.Fatal(err)
	}
	h.hour = 14 // past the backoff
	if got, err := s.Sweep(ctx); len(got) != 0 || err != nil {
		t.Fatalf("the sweep after: destroyed %v, %v", got, err)
	}
	if _, err := h.st.GetNotice(ctx, "v1"); err != nil {
		t.Fatalf("the notice after the refusal ended: %v", err)
	}
	if f, err := h.st.GetFailure(ctx, "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the notice given, its failure is still reported: %+v (%v)", f, err)
	}
}

// TestStoppedDestructionIsNoFailure: a destruction cut off because its
// sweep stopped (the process told to stop, its lease lost) did not fail:
// no failure, no destruction.failed record (which mails every
// administrator) and no backoff; the next sweep finishes it. Before, the
// stop was recorded as a failure, "context canceled".
func TestStoppedDestructionIsNoFailure(t *testing.T) {
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey())
	h.today = day("2027-02-01")
	s := h.service("p1")
	recordInTrail(s)
	ctx, stop := context.WithCancel(context.Background())
	s.AfterStep = func(step string) error {
		if step == "key_destroyed" {
			stop() // the process is told to stop between two steps
		}
		return nil
	}
	if got, err := s.Sweep(ctx); len(got) != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("a sweep stopped mid-destruction: destroyed %v, %v; want none, and the stop", got, err)
	}
	if f, err := h.st.GetFailure(context.Background(), "v1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a destruction stopped with its sweep recorded as failed: %+v (%v), want no failure", f, err)
	}
	var failed int
	h.st.DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE action = 'destruction.failed'`).Scan(&failed)
	if failed != 0 {
		t.Errorf("%d destruction.failed records for a sweep that stopped, want none", failed)
	}
	s.AfterStep = nil
	if got, err := s.Sweep(context.Background()); len(got) != 1 || err != nil {
		t.Fatalf("the next sweep: destroyed %v, %v; want the visit finished", got, err)
	}
}

// TestFailureReasonIsCutBetweenCharacters: a failure's reason is kept to
// 300 bytes, cut between two characters, never inside one: PostgreSQL
// refuses a string that is not UTF-8, and then neither the failure nor its
// record was kept.
func TestFailureReasonIsCutBetweenCharacters(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	v := h.visit(t, "v1", wrappedKey())
	s := h.service("p1")
	s.failed(ctx, v, errors.New(strings.Repeat("a", 299)+"é, le stockage ne répond pas"))
	f, err := h.st.GetFailure(ctx, "v1")
	if err != nil || len(f.Reason) != 299 || !utf8.ValidString(f.Reason) {
		t.Fatalf("the failure of a reason in two-byte characters: %d bytes, UTF-8 %v (%v); want 299, cut before the é", len(f.Reason), utf8.ValidString(f.Reason), err)
	}
	// A short reason holding a byte that is not UTF-8 (a server's error).
	s.failed(ctx, v, errors.New("the store said \xff and stopped"))
	if f, err := h.st.GetFailure(ctx, "v1"); err != nil || f.Attempts != 2 || f.Reason != "the store said  and stopped" {
		t.Fatalf("the failure of a reason with a byte that is not UTF-8: %q, %d attempts (%v)", f.Reason, f.Attempts, err)
	}
}

// TestNoteSaysWhatTheCertificateSays: the note a destruction writes
// outside the database before the key goes carries what the destruction
// was decided on, as its certificate then names it: what a restore that
// must finish the destruction certifies.
func TestNoteSaysWhatTheCertificateSays(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey())
	h.today = day("2027-02-01")
	s := h.service("p1")
	outside := map[string][]byte{}
	s.Outside = func(_ context.Context, name string, body []byte) error {
		outside[name] = body
		return nil
	}
	if got, err := s.Sweep(ctx); len(got) != 1 || err != nil {
		t.Fatalf("destroyed %v, %v", got, err)
	}
	pub := s.Signer.Public().(ed25519.PublicKey)
	note, err := VerifyTombstone(outside[TombstoneName("v1")], pub)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify(outside[CertificateName("v1")], pub)
	if err != nil {
		t.Fatal(err)
	}
	if note.Decided == nil || c.Due == nil || !reflect.DeepEqual(*note.Decided, Decision{Notice: c.Notice, Approval: c.Approval, Due: c.Due}) {
		t.Errorf("the note says the destruction was decided on %+v; the certificate names notice %+v, approval %+v, due %+v", note.Decided, c.Notice, c.Approval, c.Due)
	}
}
