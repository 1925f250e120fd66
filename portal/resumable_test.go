package portal_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

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
		t.Fatalf("download: %q, %v", got, err)
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
