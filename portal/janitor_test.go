package portal_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// stallingReader yields n bytes of 'x' and stalls once, after first of
// them, until resume is closed (stalled is closed when it does).
type stallingReader struct {
	n, first, read  int
	stalled, resume chan struct{}
}

func (r *stallingReader) Read(p []byte) (int, error) {
	if r.read >= r.first && r.stalled != nil {
		close(r.stalled)
		r.stalled = nil
		<-r.resume
	}
	if r.read >= r.n {
		return 0, io.EOF
	}
	k := min(len(p), r.n-r.read)
	if r.read < r.first {
		k = min(k, r.first-r.read)
	}
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.read += k
	return k, nil
}

// TestJanitorTakesAStalledUploadWhole: a plain upload whose pending record
// went untouched past the janitor's limit (its process stalled, its
// database out of reach, or its clock behind the janitor's) but which is
// still being received is taken by the janitor as cut off. Once the
// janitor has removed its segments the upload can no longer commit: the
// uploader is answered an error, with no receipt, no file and nothing
// left in the bucket, and the trail records one failure, never
// upload.completed.
func TestJanitorTakesAStalledUploadWhole(t *testing.T) {
	d := startDomainOn(t, nil, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := d.demo()
	up := d.person("cafcass", "uploader@cafcass.example")
	acc, err := d.svc.Authorize(ctx, up, policy.FileUpload, v.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	body := &stallingReader{n: 3 << 20, first: 2<<20 + 1000, stalled: make(chan struct{}), resume: make(chan struct{})}
	stalled := body.stalled
	type result struct {
		f   portal.FileView
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := acc.Upload(ctx, portal.NewFile{Name: "1.05 Slow link.zip", Size: 3 << 20}, body)
		done <- result{f, err}
	}()
	<-stalled
	var fileID string
	if err := d.svc.Store().DB().QueryRow(`SELECT file_id FROM pending_uploads WHERE visit_id = ?`, v.ID).Scan(&fileID); err != nil {
		t.Fatal(err)
	}
	// The janitor's clock is 3 minutes on: the record looks abandoned.
	d.offset.Store(int64(3 * time.Minute))
	d.svc.Sweep(ctx)
	close(body.resume)
	r := <-done
	if r.err == nil {
		left, _ := d.svc.Blobs().Versions(ctx, v.Bucket, fileID+"/")
		_, derr := d.downloadAll(r.f.ID)
		t.Fatalf("an upload whose segments the janitor removed was committed: file %s, %d bytes; %d of its objects left; download: %v", r.f.ID, r.f.Size, len(left), derr)
	}
	if _, err := d.svc.Store().File(ctx, v.ID, fileID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the taken upload's file: %v, want none", err)
	}
	var receipts int
	if err := d.svc.Store().DB().QueryRow(`SELECT COUNT(*) FROM receipts WHERE upload_of = ?`, fileID).Scan(&receipts); err != nil || receipts != 0 {
		t.Fatalf("receipts for the taken upload: %d (%v)", receipts, err)
	}
	if left, err := d.svc.Blobs().Versions(ctx, v.Bucket, fileID+"/"); err != nil || len(left) != 0 {
		t.Fatalf("objects of the taken upload left: %d (%v)", len(left), err)
	}
	if got := uploadTrail(t, d, v.ID, fileID); got != "upload.started:started: upload.failed:failure:interrupted" {
		t.Fatalf("the taken upload's records: %s", got)
	}
}

// downloadAll reads a file whole as the lead inspector.
func (d *domain) downloadAll(fileID string) (int64, error) {
	acc, err := d.access(d.person("ofsted", "lead@ofsted.example"), policy.FileDownload, fileID)
	if err != nil {
		return 0, err
	}
	f, err := d.svc.Store().File(context.Background(), d.demo().ID, fileID)
	if err != nil {
		return 0, err
	}
	dl, err := acc.OpenDownload(context.Background(), 0, f.Size, false)
	if err != nil {
		return 0, err
	}
	defer dl.Close()
	return io.Copy(io.Discard, dl)
}
