package portal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestStaleWriterCannotOverwriteASegment: a request that lost its hold on
// a resumable upload while its last bytes of a segment were late (its
// process paused past the lease) must not store that segment once it runs
// again. Another request has meanwhile taken the lease, sent the segment
// and the rest, and made the file: the late request's segment, stored over
// it, was another encryption of the segment under another header, and the
// file, listed and receipted, failed its check at every download. So for a
// segment in the middle of the file and for its last.
func TestStaleWriterCannotOverwriteASegment(t *testing.T) {
	d := startDomain(t)
	v := d.demo()
	ctx := context.Background()
	seg := d.svc.SegmentSize()
	for i, c := range []struct {
		name  string
		pause int64 // where in the late request's bytes (from the second segment on) it pauses
	}{
		{"a middle segment", seg - 1},
		{"the last segment", seg + 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("x"), int(2*seg+6)) // what stallingReader sends
			up, r := firstSegmentStored(t, d, v, fmt.Sprintf("1.0%d Chronology.pdf", i+1), body)

			// The late request: up to its pause, then no more until it runs again.
			paused, resume := make(chan struct{}), make(chan struct{})
			late := &stallingReader{n: int(seg + 6), first: int(c.pause), stalled: paused, resume: resume}
			type result struct {
				f   *store.File
				err error
			}
			done := make(chan result, 1)
			go func() {
				_, f, err := up.Append(ctx, r, late, nil)
				done <- result{f, err}
			}()
			select {
			case <-paused:
			case res := <-done:
				t.Fatalf("the late request ended before its pause: %v", res.err)
			case <-time.After(time.Minute):
				t.Fatal("the late request never reached its pause")
			}

			// Its lease runs out while it is paused, and the client,
			// having had no answer, sends the rest again from the offset
			// the upload answers: this request makes the file.
			d.offset.Add(int64(time.Minute))
			cur, err := d.svc.Store().Resumable(ctx, v.ID, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			_, f, err := up.Append(ctx, cur, bytes.NewReader(body[cur.Offset():]), nil)
			if err != nil || f == nil {
				t.Fatalf("the request sent once the lease ran out: file %v, %v", f != nil, err)
			}

			// The paused request runs again and its last bytes arrive.
			close(resume)
			if res := <-done; !errors.Is(res.err, portal.ErrMovedOn) {
				t.Errorf("the late request, run again after another made the file: file %v, %v; want %v", res.f != nil, res.err, portal.ErrMovedOn)
			}
			downloads(t, d, v, f, string(body))
		})
	}
}

// TestRoomMadeSparesAnUploadTakenBack: making room for a new upload gives
// up the person's oldest idle upload, which it holds the lease of. Should
// that request be paused past the lease before it gives it up, and the
// upload's owner send its next segment meanwhile, the upload is live again:
// it must not be given up. Before, its row was removed whatever had
// happened under it, and the upload, written a moment before, was gone.
func TestRoomMadeSparesAnUploadTakenBack(t *testing.T) {
	d, v, _, uploader, _ := oneFileUploaded(t)
	ctx := context.Background()
	up := d.mustAccess(uploader, policy.FileUpload)
	seg := d.svc.SegmentSize()
	body := bytes.Repeat([]byte("y"), int(seg+10))
	var oldest store.Resumable
	for i := range portal.MaxOpenUploads {
		r, err := up.CreateResumable(ctx, portal.NewFile{Name: fmt.Sprintf("1.02 Part %d.pdf", i), Size: int64(len(body))})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			oldest = r
		}
		d.offset.Add(int64(time.Second)) // the first is the oldest
	}
	d.offset.Add(int64(time.Hour)) // every one of them idle

	// The new upload takes the oldest's lease to give it up; before it
	// does, its lease runs out, and the owner sends the first segment.
	cctx, c := store.WithCounter(ctx)
	var leased, sent bool
	var sendErr error
	c.Before = func(q string) {
		switch {
		case sent:
		case strings.Contains(q, "SET lock_holder"):
			leased = true
		case leased && q == "BEGIN":
			sent = true
			d.offset.Add(int64(time.Minute))
			_, _, sendErr = d.mustAccess(uploader, policy.FileUpload).Append(ctx, oldest, bytes.NewReader(body[:seg]), nil)
		}
	}
	_, err := d.mustAccess(uploader, policy.FileUpload).CreateResumable(cctx, portal.NewFile{Name: "1.03 Minutes.pdf", Size: 10})
	if !sent {
		t.Fatalf("the new upload (%v) gave nothing up under a lease: the test did not run what it tests", err)
	}
	if sendErr != nil {
		t.Fatalf("the owner's segment, sent while the lease had run out: %v", sendErr)
	}
	cur, err := d.svc.Store().Resumable(ctx, v.ID, oldest.ID)
	if err != nil {
		t.Fatalf("the upload whose owner sent a segment while room was made was given up: %v", err)
	}
	_, f, err := up.Append(ctx, cur, bytes.NewReader(body[cur.Offset():]), nil)
	if err != nil || f == nil {
		t.Fatalf("the rest of the upload: file %v, %v", f != nil, err)
	}
	downloads(t, d, v, f, string(body))
}
