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
// the largest file in bytes declared, the oldest is given up (its parts
// removed, recorded as a failed upload) to make room for the new one; one
// being written is never given up, and when all are, the new one is
// refused. Another person's are not touched.
func TestUnfinishedUploadsAreBounded(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	st := d.svc.Store()
	up := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	other := d.mustAccess(d.person("cafcass", "coordinator@cafcass.example"), policy.FileUpload)
	theirs, err := other.CreateResumable(ctx, portal.NewFile{Name: "1.05 Another person's.pdf", Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	gone := func(id string) bool {
		t.Helper()
		_, err := st.Resumable(ctx, d.demo().ID, id)
		return err != nil
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
	if _, err := up.CreateResumable(ctx, portal.NewFile{Name: "1.05 One more.zip", Size: 1}); err != nil {
		t.Fatalf("an upload past %d of the largest files declared: %v", portal.MaxOpenUploadSizes, err)
	}
	if !gone(big[0]) || gone(big[1]) {
		t.Errorf("past the bytes allowed, the oldest upload is given up, and only it: %v %v", gone(big[0]), gone(big[1]))
	}
	var all []string
	for i := range portal.MaxOpenUploads + 2 {
		r, err := up.CreateResumable(ctx, portal.NewFile{Name: fmt.Sprintf("1.05 Small %d.pdf", i), Size: 10})
		if err != nil {
			t.Fatalf("unfinished upload %d: %v", i+1, err)
		}
		all = append(all, r.ID)
	}
	n, _, err := st.OpenResumables(ctx, d.demo().ID, up.Actor.UserID)
	if err != nil || n != portal.MaxOpenUploads {
		t.Errorf("%d unfinished uploads kept (%v), want %d", n, err, portal.MaxOpenUploads)
	}
	if gone(all[len(all)-1]) || gone(theirs.ID) {
		t.Error("the newest upload, or another person's, was given up")
	}
	// Every one being written: none is given up, the new one is refused.
	for _, id := range all {
		if _, err := st.LockResumable(ctx, id, "a request", time.Now(), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	open, err := st.OldestOpenResumables(ctx, d.demo().ID, up.Actor.UserID, portal.MaxOpenUploads)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range open {
		if _, err := st.LockResumable(ctx, r.ID, "a request", time.Now(), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	_, err = up.CreateResumable(ctx, portal.NewFile{Name: "1.05 Refused.pdf", Size: 10})
	if e, ok := portal.AsError(err); !ok || e.Code != "too_many_uploads" {
		t.Errorf("a new upload while all %d are being written: %v, want too_many_uploads", portal.MaxOpenUploads, err)
	}
	if n, _, err := st.OpenResumables(ctx, d.demo().ID, up.Actor.UserID); err != nil || n != portal.MaxOpenUploads {
		t.Errorf("%d unfinished uploads after the refusal (%v), want %d", n, err, portal.MaxOpenUploads)
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
