package portal_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestUnfinishedUploadsAreBounded: a person's unfinished resumable
// uploads of a visit are kept for days, unseen by anyone else, each up to
// the largest file allowed: a session that opens upload after upload and
// never finishes them would fill the object store. Past
// portal.MaxOpenUploads of them, or past portal.MaxOpenUploadSizes times
// the largest file in bytes declared, a new one is refused, saying to
// finish or cancel some; another person is not held back, and one
// cancelled makes room.
func TestUnfinishedUploadsAreBounded(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	up := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	tooMany := func(err error) bool {
		e, ok := portal.AsError(err)
		return ok && e.Code == "too_many_uploads"
	}
	max := d.Config.MaxFileSize
	var big []string
	for i := range portal.MaxOpenUploadSizes {
		r, err := up.CreateResumable(ctx, portal.NewFile{Name: fmt.Sprintf("1.05 Large %d.zip", i), Size: max})
		if err != nil {
			t.Fatal(err)
		}
		big = append(big, r.ID)
	}
	if _, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.05 One more.zip", Size: 1}); !tooMany(err) {
		t.Errorf("an upload past %d of the largest files declared and unfinished: %v, want too_many_uploads", portal.MaxOpenUploadSizes, err)
	}
	for _, id := range big {
		r, err := up.Resumable(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := up.CancelResumable(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var small []string
	for i := range portal.MaxOpenUploads {
		r, err := up.CreateResumable(ctx, portal.NewFile{Name: fmt.Sprintf("1.05 Small %d.pdf", i), Size: 10})
		if err != nil {
			t.Fatalf("unfinished upload %d: %v", i+1, err)
		}
		small = append(small, r.ID)
	}
	if _, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.05 One more.pdf", Size: 10}); !tooMany(err) {
		t.Errorf("upload %d unfinished at once: %v, want too_many_uploads", portal.MaxOpenUploads+1, err)
	}
	other := d.mustAccess(d.person("cafcass", "coordinator@cafcass.example"), policy.FileUpload)
	if _, err := other.CreateResumable(ctx, portal.NewFile{Name: "1.05 Another person's.pdf", Size: 10}); err != nil {
		t.Errorf("another person's upload: %v", err)
	}
	r, err := up.Resumable(ctx, small[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := up.CancelResumable(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.05 One more.pdf", Size: 10}); err != nil {
		t.Errorf("an upload once one was cancelled: %v", err)
	}
}

// TestResumableMaxAgeHoldsWithinARequest: an unfinished resumable upload
// is kept at most 7 times PORTAL_UPLOAD_EXPIRY after it began, and the
// janitor leaves alone an upload a request is writing: a PATCH that
// trickles on past that age (a byte in every read timeout) is refused
// when it would commit, not completed.
func TestResumableMaxAgeHoldsWithinARequest(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	up := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	before, err := d.svc.Store().Files(ctx, d.demo().ID)
	if err != nil {
		t.Fatal(err)
	}
	r, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.05 Slow.pdf", Size: 6})
	if err != nil {
		t.Fatal(err)
	}
	_, f, err := up.Append(ctx, r, strings.NewReader("trickle"[:6]), func() error {
		d.later(7*d.Config.UploadExpiry + time.Minute) // the body took that long
		return nil
	})
	if err == nil || f != nil {
		t.Fatalf("an upload completed %s after it began: %v (file %v), want it refused as expired", 7*d.Config.UploadExpiry, err, f != nil)
	}
	if fs, err := d.svc.Store().Files(ctx, d.demo().ID); err != nil || len(fs) != len(before) {
		t.Fatalf("files: %d (%v), want the %d from before", len(fs), err, len(before))
	}
}
