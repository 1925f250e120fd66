package portal_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// revokedMidDownload starts the domain with 1 MiB segments and an 8 MiB
// file "1.01 big.bin" uploaded by the provider's uploader, at the
// notification date, and returns the file's id.
func revokedMidDownload(t *testing.T) (*domain, store.Visit, string) {
	t.Helper()
	d := startDomainOn(t, nil, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	d.at(tl.Notification)
	body := bytes.Repeat([]byte("evidence"), 1<<20) // 8 MiB
	f, err := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload).
		Upload(context.Background(), portal.NewFile{Name: "1.01 big.bin", Size: int64(len(body))}, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return d, v, f.ID
}

// removeMember removes the member with this address, as an administrator.
func removeMember(t *testing.T, d *domain, email string) {
	t.Helper()
	ctx := context.Background()
	admin := d.person("ofsted", "admin@ofsted.example")
	ms, err := d.mustAccess(admin, policy.MemberManage).Members(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Email == email {
			if err := d.mustAccess(admin, policy.MemberManage).RemoveMember(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no member %s", email)
}

// TestRevokedWhileDownloadingStopsSending: an inspector whose access ends
// while a large download is under way (removed from the visit, her window
// closed by the publication, or the file's item restricted to the lead
// inspector) does not go on receiving
// the file for as long as the download takes: the decision taken as the
// request began is taken again once it is older than a moment, and a
// refusal stops the download at the next block. The refusal and the cut
// download (with the bytes sent) are recorded.
func TestRevokedWhileDownloadingStopsSending(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(t *testing.T, d *domain)
	}{
		{"removed", func(t *testing.T, d *domain) { removeMember(t, d, "hmi@ofsted.example") }},
		{"window ended", func(t *testing.T, d *domain) {
			// An inspector's access ends with the publication day.
			d.publish(d.person("ofsted", "lead@ofsted.example"), d.demo())
			d.later(12 * time.Hour)
		}},
		{"restricted", func(t *testing.T, d *domain) {
			admin := d.person("ofsted", "admin@ofsted.example")
			if _, err := d.mustAccess(admin, policy.VisitManage).SetRestriction(context.Background(), "1.01", true, []string{policy.RoleLeadInspector}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, v, fileID := revokedMidDownload(t)
			ctx := context.Background()
			hmi := d.person("ofsted", "hmi@ofsted.example")
			acc, err := d.access(hmi, policy.FileDownload, fileID)
			if err != nil {
				t.Fatal(err)
			}
			size := int64(8 << 20)
			dl, err := acc.OpenDownload(ctx, 0, size, false)
			if err != nil {
				t.Fatal(err)
			}
			defer dl.Close()
			first, err := io.CopyN(io.Discard, dl, 2<<20)
			if err != nil {
				t.Fatal(err)
			}
			c.change(t, d)
			d.later(time.Minute) // the rest of a large file over home broadband
			rest, err := io.Copy(io.Discard, dl)
			sent := first + rest
			if err == nil {
				t.Fatalf("the download went on to its end (%d bytes) after the inspector's access ended", sent)
			}
			if e, ok := portal.AsError(err); !ok || e.Kind != portal.KindNotFound && e.Kind != portal.KindForbidden && e.Kind != portal.KindLocked {
				t.Fatalf("the download stopped with %v, want the refusal", err)
			}
			// What was decrypted ahead and not yet handed out is not sent.
			if sent > 3<<20 {
				t.Errorf("%d bytes sent after the change, want at most one block more than the 2 MiB before it", sent-first)
			}
			acc.DownloadCut(ctx, dl, sent, err)
			recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Actions: []string{"file.download", "request.denied"}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				if r.ActorEmail != "hmi@ofsted.example" {
					continue
				}
				var detail struct {
					Sent   *int64
					Action string
				}
				json.Unmarshal([]byte(r.Detail), &detail)
				s := r.Action + ":" + r.Outcome
				if detail.Sent != nil && *detail.Sent == sent {
					s += ":sent"
				}
				if detail.Action != "" {
					s += ":" + detail.Action
				}
				got = append(got, s)
			}
			if want := "file.download:success request.denied:denied:file.download file.download:refused:sent"; strings.Join(got, " ") != want {
				t.Errorf("the inspector's records: %q, want %q", strings.Join(got, " "), want)
			}
		})
	}
}

// changingWriter counts what is written to it and calls change once, as
// the write that passes after bytes comes.
type changingWriter struct {
	n      int64
	after  int64
	change func()
}

func (c *changingWriter) Write(p []byte) (int, error) {
	if c.change != nil && c.n >= c.after {
		c.change()
		c.change = nil
	}
	c.n += int64(len(p))
	return len(p), nil
}

// TestRevokedWhileZippingStopsSending: a zip of evidence stops as a single
// download does once its reader's access ends, and the cut archive is
// recorded "refused" with the bytes sent.
func TestRevokedWhileZippingStopsSending(t *testing.T) {
	d, v, _ := revokedMidDownload(t)
	ctx := context.Background()
	hmi := d.person("ofsted", "hmi@ofsted.example")
	acc := d.mustAccess(hmi, policy.FileDownload)
	a, err := acc.PrepareArchive(ctx, nil, []string{"1.01"})
	if err != nil {
		t.Fatal(err)
	}
	w := &changingWriter{after: 2 << 20, change: func() {
		removeMember(t, d, "hmi@ofsted.example")
		d.later(time.Minute)
	}}
	err = a.WriteTo(ctx, w)
	if err == nil {
		t.Fatalf("the zip went on to its end (%d bytes) after the inspector was removed", w.n)
	}
	if _, ok := portal.AsError(err); !ok {
		t.Fatalf("the zip stopped with %v, want the refusal", err)
	}
	if w.n > 4<<20 {
		t.Errorf("%d bytes of the zip sent, want little more than the 2 MiB before the removal", w.n)
	}
	acc.ArchiveCut(ctx, a, w.n, err)
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Actions: []string{"archive.download"}})
	if err != nil || len(recs) != 1 || recs[0].Outcome != "refused" {
		t.Fatalf("the cut zip's records: %+v (%v), want one, refused", recs, err)
	}
}

// zipRestrictedWhileSent zips items 1.01 and 1.02 as acc, restricting 1.02
// to the lead inspector once 2 MiB are sent, a minute later by the clock,
// and returns what was sent and how the zip ended.
func zipRestrictedWhileSent(t *testing.T, d *domain, acc *portal.Access) (*portal.Archive, *changingWriter, *bytes.Buffer, error) {
	t.Helper()
	ctx := context.Background()
	a, err := acc.PrepareArchive(ctx, nil, []string{"1.01", "1.02"})
	if err != nil {
		t.Fatal(err)
	}
	admin := d.person("ofsted", "admin@ofsted.example")
	w := &changingWriter{after: 2 << 20, change: func() {
		if _, err := d.mustAccess(admin, policy.VisitManage).SetRestriction(ctx, "1.02", true, []string{policy.RoleLeadInspector}); err != nil {
			t.Fatal(err)
		}
		d.later(time.Minute)
	}}
	out := &bytes.Buffer{}
	return a, w, out, a.WriteTo(ctx, io.MultiWriter(w, out))
}

// TestZipDecidesEachFileAgain: a zip whose reader may no longer have one
// of its files (its item restricted while an earlier file is sent) stops
// before that file, its name unsent, although the decision on the file
// being sent, taken again a moment before, still allowed: each round of
// decisions covers the files not yet begun too, and an empty file is
// decided as it begins.
func TestZipDecidesEachFileAgain(t *testing.T) {
	d, v, _ := revokedMidDownload(t)
	ctx := context.Background()
	// Sent after the large file, in this order: an empty file (which
	// writes no block to decide at), then a small one.
	uploader := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	for _, f := range []struct{ name, body string }{{"1.02 empty.txt", ""}, {"1.02 small.txt", "small"}} {
		d.later(time.Second)
		if _, err := uploader.Upload(ctx, portal.NewFile{Name: f.name, Size: int64(len(f.body))}, strings.NewReader(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	acc := d.mustAccess(d.person("ofsted", "hmi@ofsted.example"), policy.FileDownload)
	a, w, out, err := zipRestrictedWhileSent(t, d, acc)
	if err == nil {
		if zr, zerr := zip.NewReader(bytes.NewReader(out.Bytes()), int64(out.Len())); zerr == nil {
			for _, f := range zr.File {
				t.Logf("sent: %s", f.Name)
			}
		}
		t.Fatalf("the zip went on to its end (%d bytes), with 1.02 restricted to the lead inspector while 1.01 was sent", w.n)
	}
	if _, ok := portal.AsError(err); !ok {
		t.Fatalf("the zip stopped with %v, want the refusal", err)
	}
	if bytes.Contains(out.Bytes(), []byte("1.02/")) || bytes.Contains(out.Bytes(), []byte("small")) {
		t.Errorf("a restricted file's name or bytes were sent")
	}
	acc.ArchiveCut(ctx, a, w.n, err)
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Actions: []string{"archive.download"}})
	if err != nil || len(recs) != 1 || recs[0].Outcome != "refused" {
		t.Fatalf("the cut zip's records: %+v (%v), want one, refused", recs, err)
	}
}

// TestZipDecidesFilesPastTheRound: a round decides a bounded part of the
// zip ahead of the file being sent; a file past it is decided as it
// begins, with the part after it, so a restriction reaches it however far
// down the zip it is.
func TestZipDecidesFilesPastTheRound(t *testing.T) {
	defer portal.SetRoundAhead(1)()
	d, _, _ := revokedMidDownload(t)
	ctx := context.Background()
	uploader := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	for _, name := range []string{"1.01 a.txt", "1.01 b.txt", "1.01 c.txt", "1.02 small.txt"} {
		d.later(time.Second)
		if _, err := uploader.Upload(ctx, portal.NewFile{Name: name, Size: int64(len(name))}, strings.NewReader(name)); err != nil {
			t.Fatal(err)
		}
	}
	_, w, out, err := zipRestrictedWhileSent(t, d, d.mustAccess(d.person("ofsted", "hmi@ofsted.example"), policy.FileDownload))
	if _, ok := portal.AsError(err); !ok {
		t.Fatalf("the zip ended with %v (%d bytes), want the refusal of the file restricted while 1.01 was sent", err, w.n)
	}
	if bytes.Contains(out.Bytes(), []byte("1.02/")) {
		t.Error("the restricted file's name was sent")
	}
	if !bytes.Contains(out.Bytes(), []byte("1.01/1.01 c.txt")) {
		t.Error("the zip stopped before the files it may send")
	}
}

// TestZipDecidesInRounds: a zip that outlasts its decision decides again
// in rounds, the file being sent and the next files of the zip together,
// not once per file: a zip of 16 files costs the statements one of 4
// does, when the decision falls due as the second begins.
func TestZipDecidesInRounds(t *testing.T) {
	d := startDomainOn(t, nil, nil)
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	d.at(tl.Notification)
	ctx := context.Background()
	uploader := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	var ids []string
	for i := range 16 {
		d.later(time.Second)
		f, err := uploader.Upload(ctx, portal.NewFile{Name: fmt.Sprintf("1.01 note %d.txt", i), Size: 4}, strings.NewReader("note"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, f.ID)
	}
	hmi := d.person("ofsted", "hmi@ofsted.example")
	zipOf := func(ids []string) []string {
		t.Helper()
		// Counted from the end of the preparation (its records, one a
		// file): the zip's decisions are taken in the request's context.
		cctx, counter := store.WithCounter(ctx)
		a, err := d.mustAccess(hmi, policy.FileDownload).PrepareArchive(cctx, ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		prepared := len(counter.Statements())
		w := &changingWriter{change: func() { d.later(3 * time.Second) }}
		if err := a.WriteTo(cctx, w); err != nil {
			t.Fatal(err)
		}
		return counter.Statements()[prepared:]
	}
	four, sixteen := zipOf(ids[:4]), zipOf(ids)
	if len(four) != len(sixteen) {
		t.Errorf("a zip whose decision fell due: %d statements with 4 files, %d with 16:\n   %q\n   %q", len(four), len(sixteen), four, sixteen)
	}
}

// TestRemovedMembersUploadsDoNotComeBack: an unfinished resumable upload
// of a member removed from the visit is abandoned by the janitor's next
// round (recorded, its objects removed), not left for a day: it no longer
// holds its file name against the members who remain, and re-adding the
// person does not bring it back to be finished.
func TestRemovedMembersUploadsDoNotComeBack(t *testing.T) {
	d := startDomainOn(t, nil, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := d.demo()
	body := bytes.Repeat([]byte("evidence"), 3<<17) // 3 MiB
	_, r := firstSegmentStored(t, d, v, "1.01 report.pdf", body)
	removeMember(t, d, "uploader@cafcass.example")
	d.svc.Sweep(ctx)

	if got := uploadTrail(t, d, v.ID, r.FileID); got != "upload.started:started: upload.failed:failure:member removed" {
		t.Errorf("the removed member's upload's records: %s", got)
	}
	if left, err := d.svc.Blobs().Versions(ctx, v.Bucket, r.FileID+"/"); err != nil || len(left) != 0 {
		t.Errorf("objects of the removed member's upload left: %d (%v)", len(left), err)
	}
	coordinator := d.person("cafcass", "coordinator@cafcass.example")
	f, err := d.mustAccess(coordinator, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.01 report.pdf", Size: 5}, strings.NewReader("other"))
	if err != nil || f.Name != "1.01 report.pdf" {
		t.Errorf("the name the removed member's upload held: the coordinator's upload of it gives %q (%v)", f.Name, err)
	}

	admin := d.person("ofsted", "admin@ofsted.example")
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "uploader@cafcass.example", Role: policy.RoleProviderUploader}); err != nil {
		t.Fatal(err)
	}
	again := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	if got, err := again.Resumable(ctx, r.ID); kindOf(err) != portal.KindNotFound {
		t.Errorf("re-added, the member finds her old upload at %d bytes (%v), want not found", got.Offset(), err)
	}
}

// TestDestroyedWhileDownloadingIsNotCorruption: a visit destroyed under
// the retention schedule while its lead inspector downloads a large file
// stops the download, and the cut is recorded as the refusal it is (the
// visit gone), not as damage in the stored file, although the bucket went
// before the decision was next due.
func TestDestroyedWhileDownloadingIsNotCorruption(t *testing.T) {
	d, v, fileID := revokedMidDownload(t)
	ctx := context.Background()
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	day := d.publish(lead, v)
	d.at(day.AddDate(0, 0, d.Config.RetentionDays))
	d.svc.RunRetention(ctx) // gives the notice
	if _, err := d.mustAccess(admin, policy.DestructionApprove).ApproveDestruction(ctx); err != nil {
		t.Fatal(err)
	}
	acc, err := d.access(lead, policy.FileDownload, fileID)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := acc.OpenDownload(ctx, 0, 8<<20, false)
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	first, err := io.CopyN(io.Discard, dl, 2<<20)
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("destruction: %v %v", ids, err)
	}
	rest, err := io.Copy(io.Discard, dl)
	if err == nil {
		t.Fatalf("the download went on to its end (%d bytes) after the visit was destroyed", first+rest)
	}
	acc.DownloadCut(ctx, dl, first+rest, err)
	recs, rerr := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "file.download", ActorEmail: "lead@ofsted.example"})
	if rerr != nil || len(recs) != 2 || recs[1].Outcome != "refused" {
		var got []string
		for _, r := range recs {
			got = append(got, r.Outcome)
		}
		t.Fatalf("the download cut by the destruction (%v) is recorded %v (%v), want success then refused", err, got, rerr)
	}
}

// TestDestroyedWhileZippingIsNotCorruption: the same for a zip, whose cut
// is recorded against the archive as refused, and against no file as
// corrupt.
func TestDestroyedWhileZippingIsNotCorruption(t *testing.T) {
	d, v, _ := revokedMidDownload(t)
	ctx := context.Background()
	lead := d.person("ofsted", "lead@ofsted.example")
	admin := d.person("ofsted", "admin@ofsted.example")
	day := d.publish(lead, v)
	d.at(day.AddDate(0, 0, d.Config.RetentionDays))
	d.svc.RunRetention(ctx) // gives the notice
	if _, err := d.mustAccess(admin, policy.DestructionApprove).ApproveDestruction(ctx); err != nil {
		t.Fatal(err)
	}
	acc := d.mustAccess(lead, policy.FileDownload)
	a, err := acc.PrepareArchive(ctx, nil, []string{"1.01"})
	if err != nil {
		t.Fatal(err)
	}
	w := &changingWriter{after: 2 << 20, change: func() {
		if ids, err := d.svc.RunRetention(ctx); err != nil || len(ids) != 1 {
			t.Errorf("destruction: %v %v", ids, err)
		}
	}}
	err = a.WriteTo(ctx, w)
	if err == nil {
		t.Fatalf("the zip went on to its end (%d bytes) after the visit was destroyed", w.n)
	}
	acc.ArchiveCut(ctx, a, w.n, err)
	recs, rerr := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Actions: []string{"archive.download", "file.download"}, ActorEmail: "lead@ofsted.example"})
	var got []string
	for _, r := range recs {
		got = append(got, r.Action+":"+r.Outcome)
	}
	if want := "file.download:success archive.download:refused file.download:refused"; rerr != nil || strings.Join(got, " ") != want {
		t.Fatalf("the zip cut by the destruction (%v) is recorded %q (%v), want %q", err, strings.Join(got, " "), rerr, want)
	}
}

// TestRemovedMembersUploadsDoNotComeBackAtOnce: a member removed and added
// again before the janitor's next round (a minute) does not find the
// unfinished upload of her former membership, and the janitor still
// gives it up: an upload belongs to the membership it was begun under.
// Before, added again in time she could finish it, and the janitor,
// seeing her a member, left it.
func TestRemovedMembersUploadsDoNotComeBackAtOnce(t *testing.T) {
	d := startDomainOn(t, nil, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := d.demo()
	body := bytes.Repeat([]byte("evidence"), 3<<17) // 3 MiB
	_, r := firstSegmentStored(t, d, v, "1.01 report.pdf", body)
	removeMember(t, d, "uploader@cafcass.example")
	d.later(time.Second)
	admin := d.person("ofsted", "admin@ofsted.example")
	if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "uploader@cafcass.example", Role: policy.RoleProviderUploader}); err != nil {
		t.Fatal(err)
	}
	again := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	if got, err := again.Resumable(ctx, r.ID); kindOf(err) != portal.KindNotFound {
		t.Errorf("added again before the janitor's round, the member finds her old upload at %d bytes (%v), want not found", got.Offset(), err)
	}
	d.svc.Sweep(ctx)
	if got := uploadTrail(t, d, v.ID, r.FileID); got != "upload.started:started: upload.failed:failure:member removed" {
		t.Errorf("the upload of the former membership: %s, want it given up", got)
	}
	if left, err := d.svc.Blobs().Versions(ctx, v.Bucket, r.FileID+"/"); err != nil || len(left) != 0 {
		t.Errorf("objects of the former membership's upload left: %d (%v)", len(left), err)
	}
}

// TestRemovedMembersPatchStopsAtTheNextSegment: a member removed and
// added again while a request streams her resumable upload has a new
// membership; the upload, her former membership's, stores no more
// segments and never becomes a file, although the recheck before each
// segment finds that she may upload: the segment's commit reads the
// membership the upload was begun under (migration 47).
func TestRemovedMembersPatchStopsAtTheNextSegment(t *testing.T) {
	d := startDomainOn(t, nil, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := d.demo()
	body := bytes.Repeat([]byte("evidence"), 3<<17) // 3 MiB
	up, r := firstSegmentStored(t, d, v, "1.01 report.pdf", body)
	admin := d.person("ofsted", "admin@ofsted.example")
	commits := 0
	_, f, err := up.Append(ctx, r, bytes.NewReader(body[d.svc.SegmentSize():]), func() error {
		if commits++; commits == 1 {
			removeMember(t, d, "uploader@cafcass.example")
			if _, _, err := d.mustAccess(admin, policy.MemberManage).PutMember(ctx, portal.MemberRequest{Email: "uploader@cafcass.example", Role: policy.RoleProviderUploader}); err != nil {
				t.Fatal(err)
			}
			d.later(3 * time.Second)
		}
		return nil
	})
	if err == nil || f != nil {
		t.Fatalf("the former membership's upload, sent on across a removal and a new membership: file %v, %v; want it stopped", f != nil, err)
	}
	if fs, err := d.svc.Store().Files(ctx, v.ID); err != nil || len(fs) != 0 {
		t.Fatalf("files stored: %d (%v), want none", len(fs), err)
	}
}
