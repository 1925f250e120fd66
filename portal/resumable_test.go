package portal_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/store"
)

// gatedReader holds its first Read until gate closes, saying on started
// that the request reading it has begun: a PATCH paused after it took
// the upload's lease and read the upload again.
type gatedReader struct {
	started, gate chan struct{}
	r             io.Reader
	once          sync.Once
}

func newGatedReader(b []byte) *gatedReader {
	return &gatedReader{started: make(chan struct{}), gate: make(chan struct{}), r: bytes.NewReader(b)}
}

func (g *gatedReader) Read(p []byte) (int, error) {
	g.once.Do(func() { close(g.started); <-g.gate })
	return g.r.Read(p)
}

// sweepDuringPatch runs the janitor while a PATCH of body[from:] that began
// before the upload's expiry is still receiving its bytes, past the expiry
// (within the PATCH's lease). With midway, should the sweep start removing
// the upload's objects, the PATCH is let finish first, as a PATCH that ends
// in the middle of a slow removal does; without, the PATCH goes on once the
// sweep is over. It returns the PATCH's result.
func sweepDuringPatch(t *testing.T, d *domain, refuse interface {
	Store(*func(*http.Request) bool)
}, up *portal.Access, r store.Resumable, rest []byte, midway bool) (store.Resumable, *store.File, error) {
	t.Helper()
	ctx := context.Background()
	d.offset.Store(int64(time.Until(r.ExpiresAt.Add(-2 * time.Second)))) // the PATCH begins just before the expiry
	g := newGatedReader(rest)
	type result struct {
		r   store.Resumable
		f   *store.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, f, err := up.Append(ctx, r, g, nil)
		done <- result{r, f, err}
	}()
	<-g.started
	d.offset.Add(int64(3 * time.Second)) // the expiry passes while it runs
	var once sync.Once
	var res result
	finish := func() { once.Do(func() { close(g.gate); res = <-done }) }
	hook := func(req *http.Request) bool {
		if midway && req.Method == http.MethodDelete {
			finish()
		}
		return false
	}
	refuse.Store(&hook)
	d.svc.Sweep(ctx)
	refuse.Store(nil)
	finish()
	return res.r, res.f, res.err
}

// firstSegmentStored begins, on v's notification date, the uploader's
// resumable upload of body as name, and stores its first segment.
func firstSegmentStored(t *testing.T, d *domain, v store.Visit, name string, body []byte) (*portal.Access, store.Resumable) {
	t.Helper()
	ctx := context.Background()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	d.at(tl.Notification)
	up := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	r, err := up.CreateResumable(ctx, portal.NewFile{Name: name, Size: int64(len(body))})
	if err != nil {
		t.Fatal(err)
	}
	seg := d.svc.SegmentSize()
	if r, _, err = up.Append(ctx, r, bytes.NewReader(body[:seg]), nil); err != nil || r.SegmentsDone != 1 {
		t.Fatalf("first segment: %v, %d done", err, r.SegmentsDone)
	}
	return up, r
}

// TestResumableExpirySparesLastPatch: the janitor must not abandon an
// expired upload while a PATCH that began before the expiry still holds
// its lease. Abandoned then, the last segment committed in the middle of
// the removal made a listed, receipted file whose objects were gone, with
// both upload.completed and upload.failed "expired" in the trail.
func TestResumableExpirySparesLastPatch(t *testing.T) {
	d, v, refuse := refusingDemo(t)
	ctx := context.Background()
	seg := d.svc.SegmentSize()
	body := bytes.Repeat([]byte("x"), int(seg)+6)
	up, r := firstSegmentStored(t, d, v, "1.01 late.pdf", body)
	_, f, err := sweepDuringPatch(t, d, refuse, up, r, body[seg:], true)
	if err != nil || f == nil {
		t.Fatalf("the last PATCH, begun before the expiry: file %v, %v", f != nil, err)
	}
	d.svc.Sweep(ctx) // the next round forgets the finished upload
	if _, err := d.svc.Store().Resumable(ctx, v.ID, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the finished upload is not forgotten after its expiry: %v", err)
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if rec.Object == f.ID && rec.Action == "upload.failed" {
			t.Errorf("a stored file is also recorded as failed: %s %s", rec.Outcome, rec.Detail)
		}
	}
	downloads(t, d, v, f, string(body))
}

// TestResumableExpiryLeavesNoObjects: a segment (not the last) stored by a
// PATCH running across the expiry is removed with the rest of the upload.
// Abandoned under it, the segment was written after the removal and left
// with no record of it, for no janitor to find. (A committed segment moves
// the expiry on, up to 7 times PORTAL_UPLOAD_EXPIRY after the upload
// began: the upload here began that long before its expiry, so the
// segment cannot move it.)
func TestResumableExpiryLeavesNoObjects(t *testing.T) {
	d, v, refuse := refusingDemo(t)
	ctx := context.Background()
	seg := d.svc.SegmentSize()
	body := bytes.Repeat([]byte("y"), 2*int(seg)+6)
	up, r := firstSegmentStored(t, d, v, "1.01 left.pdf", body)
	began := r.ExpiresAt.Add(-7 * d.Config.UploadExpiry).UTC().Format("2006-01-02T15:04:05.000000000Z")
	if _, err := d.svc.Store().DB().Exec(`UPDATE resumable_uploads SET created_at = ? WHERE id = ?`, began, r.ID); err != nil {
		t.Fatal(err)
	}
	r, _, err := sweepDuringPatch(t, d, refuse, up, r, body[seg:2*seg], false)
	t.Logf("the PATCH of the second segment: %d done, %v", r.SegmentsDone, err)
	d.svc.Sweep(ctx) // the next round abandons it
	if _, err := d.svc.Store().Resumable(ctx, v.ID, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the expired upload is still there: %v", err)
	}
	if left, err := d.svc.Blobs().Versions(ctx, v.Bucket, evidence.FilePrefix(r.FileID)); err != nil || len(left) != 0 {
		t.Fatalf("%d objects of the expired upload are left (%v)", len(left), err)
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, rec := range recs {
		if rec.Object == r.FileID && rec.Action == "upload.failed" {
			failed++
		}
	}
	if failed != 1 {
		t.Fatalf("%d upload.failed records of the expired upload, want 1", failed)
	}
}

// staleUpload creates a 6-byte resumable upload, reads it as a second
// request does before it takes the lease, then completes it (the first
// request), and returns the copy read early and the stored file.
func staleUpload(t *testing.T, up *portal.Access, name string) (store.Resumable, *store.File) {
	t.Helper()
	ctx := context.Background()
	r, err := up.CreateResumable(ctx, portal.NewFile{Name: name, Size: 6})
	if err != nil {
		t.Fatal(err)
	}
	stale, err := up.Resumable(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, f, err := up.Append(ctx, r, strings.NewReader("second"), nil)
	if err != nil || f == nil {
		t.Fatalf("the first request: file %v, %v", f != nil, err)
	}
	return stale, f
}

// downloads says whether the file is listed and reads back as want.
func downloads(t *testing.T, d *domain, v store.Visit, f *store.File, want string) {
	t.Helper()
	ctx := context.Background()
	if _, err := d.svc.Store().File(ctx, v.ID, f.ID); err != nil {
		t.Fatalf("the stored file is no longer listed: %v", err)
	}
	lead := d.person("ofsted", "lead@ofsted.example")
	acc, err := d.access(lead, policy.FileDownload, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := acc.OpenDownload(ctx, 0, int64(len(want)), false)
	if err != nil {
		t.Fatalf("the stored file no longer downloads: %v", err)
	}
	got, err := io.ReadAll(dl)
	dl.Close()
	if err != nil || string(got) != want {
		t.Fatalf("download: %d bytes, %v; want the %d bytes stored", len(got), err, len(want))
	}
}

// TestResumableStaleRequests: a PATCH or DELETE acts on the upload as it
// is once the request holds the lease, not as it was read before. A retried
// PATCH of the same bytes re-stored a committed segment with new
// ciphertext (the file no longer verified), and a DELETE removed a file
// that had just been stored.
func TestResumableStaleRequests(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	d.at(tl.Notification)
	uploader := d.person("cafcass", "uploader@cafcass.example")
	up := d.mustAccess(uploader, policy.FileUpload)

	t.Run("retried PATCH", func(t *testing.T) {
		stale, f := staleUpload(t, up, "1.01 retried.pdf")
		r, _, err := up.Append(ctx, stale, strings.NewReader("second"), nil)
		if !errors.Is(err, portal.ErrMovedOn) {
			t.Errorf("a PATCH of a completed upload: %v, want %v", err, portal.ErrMovedOn)
		}
		if r.CompletedAt.IsZero() || r.Offset() != 6 {
			t.Errorf("the refused PATCH answers offset %d, completed %v: want the upload as stored", r.Offset(), r.CompletedAt)
		}
		downloads(t, d, v, f, "second")
	})
	t.Run("DELETE", func(t *testing.T) {
		stale, f := staleUpload(t, up, "1.01 deleted.pdf")
		var pe *portal.Error
		if err := up.CancelResumable(ctx, stale); !errors.As(err, &pe) || pe.Code != "complete" {
			t.Errorf("a DELETE of a completed upload: %v, want the conflict \"complete\"", err)
		}
		downloads(t, d, v, f, "second")
	})
}

// TestResumableExpirySlides: an unfinished upload expired a fixed
// PORTAL_UPLOAD_EXPIRY after it began, however recently it had sent a
// segment: a large file over a slow line, still sending at 24 hours, was
// removed between two PATCHes and had to start again. Each committed
// segment moves the expiry to PORTAL_UPLOAD_EXPIRY after it, never later
// than 7 times that after the upload began, so an upload kept alive by a
// trickle still goes.
func TestResumableExpirySlides(t *testing.T) {
	d, v, _ := refusingDemo(t)
	ctx := context.Background()
	seg := int(d.svc.SegmentSize())
	expiry := d.Config.UploadExpiry
	body := bytes.Repeat([]byte("y"), 9*seg+6)
	up, r := firstSegmentStored(t, d, v, "1.01 slow line.pdf", body)
	began := r.CreatedAt
	at := func(after time.Duration) { d.offset.Store(int64(time.Until(began.Add(after)))) }
	step := expiry - time.Hour
	k := 1
	for ; began.Add(time.Duration(k+1) * step).Before(began.Add(7 * expiry)); k++ {
		at(time.Duration(k) * step)
		d.svc.Sweep(ctx)
		cur, err := up.Resumable(ctx, r.ID)
		if err != nil {
			t.Fatalf("%s after it began, %s after its last segment, the upload is gone: %v", time.Duration(k)*step, step, err)
		}
		if cur, _, err = up.Append(ctx, cur, bytes.NewReader(body[k*seg:(k+1)*seg]), nil); err != nil || cur.SegmentsDone != k+1 {
			t.Fatalf("segment %d, %s after the upload began: %v (%d done)", k+1, time.Duration(k)*step, err, cur.SegmentsDone)
		}
		if want := began.Add(time.Duration(k) * step).Add(expiry); cur.ExpiresAt.Before(want.Add(-time.Second)) {
			t.Fatalf("after segment %d the upload expires at %s, want %s", k+1, cur.ExpiresAt, want)
		}
	}
	// Past the bound: gone, however recent its last segment.
	at(7*expiry + time.Minute)
	d.svc.Sweep(ctx)
	if _, err := up.Resumable(ctx, r.ID); err == nil {
		t.Fatalf("the upload outlived 7 times PORTAL_UPLOAD_EXPIRY (%s) since it began", 7*expiry)
	}
}

// TestResumableExpiryListedThenSlid: the janitor lists an upload as
// expired while a PATCH begun just before the expiry is still sending; the
// PATCH commits its segment (moving the expiry on) and lets go of the
// lease; the janitor then takes the lease. It abandoned the upload, live
// again, with the segments the coordinator had sent: the upload must be
// kept, and go only at its new expiry.
func TestResumableExpiryListedThenSlid(t *testing.T) {
	d, v, _ := refusingDemo(t)
	ctx := context.Background()
	seg := d.svc.SegmentSize()
	body := bytes.Repeat([]byte("z"), 2*int(seg)+6)
	up, r := firstSegmentStored(t, d, v, "1.01 slid.pdf", body)
	d.offset.Store(int64(time.Until(r.ExpiresAt.Add(-2 * time.Second)))) // the PATCH begins just before the expiry
	g := newGatedReader(body[seg : 2*seg])
	done := make(chan error, 1)
	go func() {
		_, _, err := up.Append(ctx, r, g, nil)
		done <- err
	}()
	<-g.started
	d.offset.Add(int64(3 * time.Second)) // the expiry passes while it runs
	listed, err := d.svc.Store().ExpiredResumables(ctx, time.Now().Add(time.Duration(d.offset.Load())))
	if err != nil || len(listed) != 1 || listed[0].ID != r.ID {
		t.Fatalf("the janitor's listing: %d uploads, %v; want the upload", len(listed), err)
	}
	close(g.gate)
	if err := <-done; err != nil {
		t.Fatalf("the PATCH begun before the expiry: %v", err)
	}
	if err := d.svc.SweepExpiredUploads(ctx, listed); err != nil {
		t.Fatal(err)
	}
	cur, err := up.Resumable(ctx, r.ID)
	if err != nil {
		t.Fatalf("the upload, live again after its segment, was abandoned: %v", err)
	}
	if cur.SegmentsDone != 2 || !cur.ExpiresAt.After(time.Now().Add(time.Duration(d.offset.Load()))) {
		t.Fatalf("the upload kept: %d segments done, expires %s", cur.SegmentsDone, cur.ExpiresAt)
	}
	if _, _, err := up.Append(ctx, cur, bytes.NewReader(body[2*seg:]), nil); err != nil {
		t.Fatalf("the last segment: %v", err)
	}
}

// TestResumableBegunBeforeSegmentMACs: an upload with segments committed
// by a version that did not record their MACs (the migration left its row
// with none) and finished by this one was completed with the MACs of its
// later segments alone, the first of them taken for segment 0's: the
// upload was answered done, and every download and verify of the file
// then failed as damaged in storage, its bytes intact. It completes now
// as a file stored before MACs were recorded: read whole against its
// SHA-256, its MACs filled by evidence verify.
func TestResumableBegunBeforeSegmentMACs(t *testing.T) {
	d := startDomain(t)
	v := d.demo()
	ctx := context.Background()
	seg := int(d.svc.SegmentSize())
	body := bytes.Repeat([]byte("z"), 2*seg+6)
	up, r := firstSegmentStored(t, d, v, "1.01 across the upgrade.pdf", body)
	if _, err := d.svc.Store().DB().Exec(`UPDATE resumable_uploads SET segment_macs = ? WHERE id = ?`, []byte{}, r.ID); err != nil {
		t.Fatal(err)
	}
	cur, err := up.Resumable(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, f, err := up.Append(ctx, cur, bytes.NewReader(body[seg:]), nil)
	if err != nil || f == nil {
		t.Fatalf("the rest of the upload: %v (file %v)", err, f)
	}
	if n, err := d.downloadAll(f.ID); err != nil || n != int64(len(body)) {
		t.Fatalf("the file completed across the upgrade downloads %d of %d bytes: %v", n, len(body), err)
	}
	checks := map[string]error{}
	if _, err := d.svc.VerifyEvidence(ctx, portal.OperatorActor("test", "evidence verify"), v.Reference, func(c portal.FileCheck) { checks[c.FileID] = c.Err }); err != nil || checks[f.ID] != nil {
		t.Fatalf("verify of the file completed across the upgrade: %v (%v)", checks[f.ID], err)
	}
}

// TestHeldUploadLeftUntilTheHoldIsLifted: the objects of an upload
// abandoned under a legal hold (the hold holds every object of the
// visit's bucket, segments of unfinished uploads too) are left to the
// janitor's first round after the hold is lifted, and that round removes
// them. Before, every round tried again, about once a minute for as long
// as the hold lasted (months): a list and a refused DELETE for every
// version of every segment, and an error in the log each time.
func TestHeldUploadLeftUntilTheHoldIsLifted(t *testing.T) {
	d, v, refuse := refusingDemo(t)
	ctx := context.Background()
	seg := d.svc.SegmentSize()
	body := bytes.Repeat([]byte("x"), int(seg)+6)
	up, r := firstSegmentStored(t, d, v, "1.01 held.pdf", body)
	admin := d.person("ofsted", "admin@ofsted.example")
	if _, err := d.mustAccess(admin, policy.LegalHoldSet).SetLegalHold(ctx, true, "Judicial review"); err != nil {
		t.Fatal(err)
	}
	if err := up.CancelResumable(ctx, r); err != nil {
		t.Fatal(err)
	}
	var deletes atomic.Int64
	count := func(req *http.Request) bool {
		if req.Method == http.MethodDelete {
			deletes.Add(1)
		}
		return false
	}
	refuse.Store(&count)
	defer refuse.Store(nil)
	for range 3 {
		d.later(3 * time.Minute)
		d.svc.Sweep(ctx)
	}
	if n := deletes.Load(); n != 0 {
		t.Errorf("three janitor rounds under the hold sent %d DELETEs for the held upload's objects, want none", n)
	}
	if _, err := d.mustAccess(admin, policy.LegalHoldLift).SetLegalHold(ctx, false, "Review concluded"); err != nil {
		t.Fatal(err)
	}
	d.later(3 * time.Minute)
	d.svc.Sweep(ctx)
	if left, err := d.svc.Blobs().Versions(ctx, v.Bucket, r.FileID+"/"); err != nil || len(left) != 0 {
		t.Errorf("after the hold was lifted, the janitor's round left %d objects of the abandoned upload (%v)", len(left), err)
	}
}
