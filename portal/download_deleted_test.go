package portal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"slices"
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

// answeringStore starts the domain on a MinIO of its own, behind a proxy
// that hands each of the store's answers, read whole, to answered (when
// set) before the portal gets it: what the test does there happens
// between the store's answer and the portal's use of it.
func answeringStore(t *testing.T, answered *atomic.Pointer[func(*http.Request)], env map[string]string) *domain {
	t.Helper()
	s3, _ := minioBehind(t, "answering", func(rp *httputil.ReverseProxy) http.Handler {
		rp.ModifyResponse = func(resp *http.Response) error {
			f := answered.Load()
			if f == nil {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			(*f)(resp.Request)
			return nil
		}
		return rp
	})
	return startDomainOn(t, s3, env)
}

// TestDownloadDuringDeletion: a file deleted while it is downloaded is
// not served after its deletion, and its objects found gone are not taken
// for damage. Deleted just after the download was allowed (before its
// bytes were read), the download is refused as for a file that does not
// exist; deleted while its first part was read, the same (before, the
// file was sent whole although its uploader had been told it was deleted
// for good, no one of the team having downloaded it); deleted while it
// streams, the connection is cut and the trail says "refused", not
// "corrupt".
func TestDownloadDuringDeletion(t *testing.T) {
	var answered atomic.Pointer[func(*http.Request)]
	d := answeringStore(t, &answered, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := d.demo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	upload := func(name string, n int) portal.FileView {
		t.Helper()
		fv, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: name, Size: int64(n)}, bytes.NewReader(bytes.Repeat([]byte("x"), n)))
		if err != nil {
			t.Fatalf("upload %s: %v", name, err)
		}
		return fv
	}
	deleteFile := func(id string) {
		t.Helper()
		acc, err := d.access(uploader, policy.FileDelete, id)
		if err != nil {
			t.Fatal(err)
		}
		if withdrawn, err := acc.DeleteFile(ctx); err != nil || withdrawn {
			t.Fatalf("delete: withdrawn %v, %v", withdrawn, err)
		}
	}
	outcomes := func(id string) []string {
		t.Helper()
		return downloadOutcomes(t, d, v.ID, id)
	}
	gone := func(what string, err error) {
		t.Helper()
		if k := kindOf(err); k != portal.KindNotFound && k != portal.KindGone || errors.Is(err, evidence.ErrCorrupt) {
			t.Errorf("%s: %v (kind %v), want the file not found", what, err, k)
		}
	}

	// Deleted once the download is allowed, before its bytes are read.
	f := upload("1.01 Deleted before.pdf", 1000)
	acc, err := d.access(lead, policy.FileDownload, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	deleteFile(f.ID)
	if dl, err := acc.OpenDownload(ctx, 0, f.Size, false); err == nil {
		got, _ := io.ReadAll(dl)
		dl.Close()
		t.Errorf("deleted before its bytes were read: %d bytes served", len(got))
	} else {
		gone("deleted before its bytes were read", err)
	}
	if got := outcomes(f.ID); slices.Contains(got, "success") || slices.Contains(got, "corrupt") {
		t.Errorf("deleted before its bytes were read: the trail says %v", got)
	}

	// Deleted as its first part is read: between the store's answer and
	// the download's record.
	f = upload("1.02 Deleted while read.pdf", 1000)
	acc, err = d.access(lead, policy.FileDownload, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	hook := func(r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/"+f.ID+"/0") {
			once.Do(func() { deleteFile(f.ID) })
		}
	}
	answered.Store(&hook)
	dl, err := acc.OpenDownload(ctx, 0, f.Size, false)
	answered.Store(nil)
	if err == nil {
		got, _ := io.ReadAll(dl)
		dl.Close()
		t.Errorf("deleted as its first part was read: %d bytes served after its uploader was told no one of the team had it", len(got))
	} else {
		gone("deleted as its first part was read", err)
	}
	if got := outcomes(f.ID); slices.Contains(got, "success") || slices.Contains(got, "corrupt") {
		t.Errorf("deleted as its first part was read: the trail says %v", got)
	}

	// The same in a zip: its first file is read before its records.
	f = upload("1.04 Deleted while zipped.pdf", 1000)
	acc, err = d.access(lead, policy.FileDownload, "")
	if err != nil {
		t.Fatal(err)
	}
	once = sync.Once{}
	answered.Store(&hook)
	a, err := acc.PrepareArchive(ctx, []string{f.ID}, nil)
	answered.Store(nil)
	if err == nil {
		var zb bytes.Buffer
		werr := a.WriteTo(ctx, &zb)
		t.Errorf("a zip of a file deleted as its first part was read: %d bytes written (%v)", zb.Len(), werr)
	} else {
		gone("a zip of a file deleted as its first part was read", err)
	}
	if got := outcomes(f.ID); slices.Contains(got, "success") || slices.Contains(got, "corrupt") {
		t.Errorf("a zip of a file deleted as its first part was read: the trail says %v", got)
	}

	// Deleted while it streams (the uploader's own download: the team's
	// would make the deletion a withdrawal): cut, and recorded refused.
	const n = 12 << 20
	f = upload("1.03 Deleted while sent.pdf", n)
	acc, err = d.access(uploader, policy.FileDownload, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	dl, err = acc.OpenDownload(ctx, 0, n, false)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1)
	if _, err := io.ReadFull(dl, first); err != nil {
		t.Fatal(err)
	}
	deleteFile(f.ID)
	sent, err := io.Copy(io.Discard, dl)
	dl.Close()
	if err == nil || sent+1 >= n {
		t.Fatalf("deleted while sent: %d of %d bytes, %v: want it cut", sent+1, n, err)
	}
	acc.DownloadCut(ctx, dl, sent+1, err)
	gone("deleted while sent", err)
	if got, want := outcomes(f.ID), []string{"success", "refused"}; !slices.Equal(got, want) {
		t.Errorf("deleted while sent: the trail says %v, want %v", got, want)
	}
}

// TestPurgedWhileZippedIsNotCorruption: a file purged while a zip holding
// it is written, before the zip reaches it, cuts the zip as a refusal: its
// objects found gone are not damage. Before, the archive and the file were
// recorded "corrupt" (and the portal's log said so), as for a file spoiled
// in the bucket.
func TestPurgedWhileZippedIsNotCorruption(t *testing.T) {
	z := zipOfTwo(t, bytes.Repeat([]byte("1"), 2<<20))
	d, v, acc, a, second, ctx := z.d, z.v, z.acc, z.a, z.second, context.Background()
	w := &changingWriter{after: 1 << 20, change: func() {
		if err := z.purgeSecond(); err != nil {
			t.Errorf("purge: %v", err)
		}
	}}
	err := a.WriteTo(ctx, w)
	if err == nil {
		t.Fatalf("the zip went on to its end (%d bytes) after one of its files was purged", w.n)
	}
	acc.ArchiveCut(ctx, a, w.n, err)
	recs, rerr := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Actions: []string{"archive.download", "file.download"}, ActorEmail: "lead@ofsted.example"})
	var got []string
	for _, r := range recs {
		got = append(got, r.Action+":"+r.Outcome)
	}
	// The file purged was the one being written when the zip stopped:
	// its trail says it was refused, not only that it began.
	if rerr == nil && len(recs) > 0 && recs[len(recs)-1].Object != second.ID {
		t.Errorf("the zip's cut is recorded against %s, want the file purged (%s)", recs[len(recs)-1].Object, second.ID)
	}
	if want := "file.download:success file.download:success archive.download:refused file.download:refused"; rerr != nil || strings.Join(got, " ") != want || errors.Is(err, evidence.ErrCorrupt) {
		t.Fatalf("the zip cut by the purge (%v) is recorded %q (%v), want %q", err, strings.Join(got, " "), rerr, want)
	}
}

// TestZipCountsWholeOnlyWhatWasSent: a zip cut before its second file
// (purged as the first was written) counts the first file whole only once
// its bytes have left the archive's buffers for the connection: the
// writer has them. Before, a small first file sat in the zip's buffer,
// was counted whole, and was never sent when the zip stopped.
func TestZipCountsWholeOnlyWhatWasSent(t *testing.T) {
	z := zipOfTwo(t, bytes.Repeat([]byte("F"), 1000))
	d, v, acc, a, ctx := z.d, z.v, z.acc, z.a, context.Background()
	if err := z.purgeSecond(); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	err := a.WriteTo(ctx, &got)
	if err == nil {
		t.Fatal("the zip went on to its end after one of its files was purged")
	}
	acc.ArchiveCut(ctx, a, int64(got.Len()), err)
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "archive.download"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d records of the cut archive (%v)", len(recs), err)
	}
	var detail struct {
		Whole int `json:"files_whole"`
	}
	if err := json.Unmarshal([]byte(recs[0].Detail), &detail); err != nil {
		t.Fatal(err)
	}
	if sent := bytes.Count(got.Bytes(), []byte("F")); detail.Whole != 1 || sent < 1000 {
		t.Errorf("the zip cut before its second file: %d file(s) counted whole, %d of the first file's 1000 bytes written out", detail.Whole, sent)
	}
}

// TestInfectedWhileDeletedIsKept: a file the scanner finds infected while
// its uploader deletes it (the decision to let them was taken on the file
// as it was, still being scanned) is kept: infected files are evidence
// for the administrators (policy infected-kept). Before, the deletion
// went through, row and objects.
func TestInfectedWhileDeletedIsKept(t *testing.T) {
	d, v, _, uploader, _ := oneFileUploaded(t)
	ctx := context.Background()
	f, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.02 Flowchart.txt", Size: 5}, strings.NewReader("virus"))
	if err != nil {
		t.Fatal(err)
	}
	// Still being scanned as the uploader asks to delete it.
	if _, err := d.svc.Store().DB().Exec(`UPDATE files SET scan_status = 'scanning' WHERE id = ?`, f.ID); err != nil {
		t.Fatal(err)
	}
	del, err := d.access(uploader, policy.FileDelete, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.svc.Store().SetScanResult(ctx, v.ID, f.ID, store.ScanInfected, "Eicar-Test-Signature", d.svc.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := del.DeleteFile(ctx); kindOf(err) != portal.KindForbidden {
		t.Errorf("deleting a file found infected since the decision: %v, want it refused", err)
	}
	if got, err := d.svc.Store().File(ctx, v.ID, f.ID); err != nil || got.Scan != store.ScanInfected || !got.Live() {
		t.Errorf("the infected file after the deletion: %+v %v, want it kept as it was", got, err)
	}
}

// twoFileZip is a zip prepared for the lead inspector after fieldwork of
// two files of a visit: a first one, then a small second one.
type twoFileZip struct {
	d      *domain
	v      store.Visit
	acc    *portal.Access
	a      *portal.Archive
	second portal.FileView
}

// zipOfTwo prepares a twoFileZip whose first file holds first.
func zipOfTwo(t *testing.T, first []byte) *twoFileZip {
	t.Helper()
	d, v, tl, uploader, _ := oneFileUploaded(t)
	ctx := context.Background()
	one, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.02 first.bin", Size: int64(len(first))}, bytes.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	two, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.02 second.pdf", Size: 6}, strings.NewReader("second"))
	if err != nil {
		t.Fatal(err)
	}
	d.at(tl.FieldworkEnd.AddDate(0, 0, 1))
	acc := d.mustAccess(d.person("ofsted", "lead@ofsted.example"), policy.FileDownload)
	a, err := acc.PrepareArchive(ctx, []string{one.ID, two.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &twoFileZip{d: d, v: v, acc: acc, a: a, second: two}
}

// purgeSecond purges the zip's second file, as an administrator with no
// part in the visit.
func (z *twoFileZip) purgeSecond() error {
	pur, err := z.d.access(z.d.person("ofsted", "admin@ofsted.example"), policy.FilePurge, z.second.ID)
	if err != nil {
		return err
	}
	return pur.Purge(context.Background(), "Uploaded to the wrong visit")
}

// TestRangeDownloadDuringDeletion: a download of a range (a resumed
// download, a download manager's part) reads the segments it covers in
// part by ranges of their objects; a file deleted before or while such a
// range is read is a refusal, as for a whole download, not damage. Before,
// the objects found gone were taken for corruption: the trail said
// "corrupt", and the inspector was told to ask for the file again.
func TestRangeDownloadDuringDeletion(t *testing.T) {
	var answered atomic.Pointer[func(*http.Request)]
	d := answeringStore(t, &answered, map[string]string{"PORTAL_SEGMENT_SIZE": "32MiB"})
	ctx := context.Background()
	v := d.demo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	const n = 40 << 20 // its first segment read in part, beyond what is read ahead
	for _, c := range []struct {
		name   string
		before bool
		want   []string
	}{
		{"1.01 Deleted before its range.pdf", true, nil},
		{"1.02 Deleted while its range is sent.pdf", false, []string{"success", "refused"}},
	} {
		f, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: c.name, Size: n}, bytes.NewReader(bytes.Repeat([]byte("x"), n)))
		if err != nil {
			t.Fatal(err)
		}
		acc, err := d.access(uploader, policy.FileDownload, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		del := func() {
			t.Helper()
			acc, err := d.access(uploader, policy.FileDelete, f.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := acc.DeleteFile(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if c.before {
			del()
		}
		dl, err := acc.OpenDownload(ctx, 1, n-1, true)
		if err == nil {
			first := make([]byte, 1)
			if _, err = io.ReadFull(dl, first); err != nil {
				t.Fatal(err)
			}
			del()
			var sent int64
			sent, err = io.Copy(io.Discard, dl)
			dl.Close()
			if err == nil {
				t.Fatalf("%s: %d bytes sent after its deletion, and no error", c.name, sent)
			}
			acc.DownloadCut(ctx, dl, sent+1, err)
		}
		if k := kindOf(err); k != portal.KindNotFound && k != portal.KindGone || errors.Is(err, evidence.ErrCorrupt) && !errors.Is(err, evidence.ErrMissing) {
			t.Errorf("%s: %v (kind %v), want the file not found", c.name, err, k)
		}
		recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "file.download", Object: f.ID})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Outcome)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: the trail says %v, want %v", c.name, got, c.want)
		}
	}
}

// TestDownloadRecheckCountsFromTheDecision: a download goes on from the
// request's decision for at most recheckAfter (2 s), counted from when the
// decision was taken, not from when the file was opened: a member removed
// 2.5 s after the decision (1 s after the open) reads no more. Before, the
// count began at the open, so a download went on up to 4 s on a decision.
func TestDownloadRecheckCountsFromTheDecision(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	const n = 12 << 20
	f, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.01 Long.pdf", Size: n}, bytes.NewReader(bytes.Repeat([]byte("x"), n)))
	if err != nil {
		t.Fatal(err)
	}
	var member string
	if err := d.svc.Store().DB().QueryRow(`SELECT id FROM members WHERE visit_id = ? AND role = ?`, v.ID, policy.RoleLeadInspector).Scan(&member); err != nil {
		t.Fatal(err)
	}
	acc, err := d.access(lead, policy.FileDownload, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	d.later(1500 * time.Millisecond) // the request's body, its range, the header check
	dl, err := acc.OpenDownload(ctx, 0, n, false)
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	first := make([]byte, 1)
	if _, err := io.ReadFull(dl, first); err != nil {
		t.Fatal(err)
	}
	if err := d.mustAccess(d.person("ofsted", "admin@ofsted.example"), policy.MemberManage).RemoveMember(ctx, member); err != nil {
		t.Fatal(err)
	}
	d.later(time.Second)
	if sent, err := io.Copy(io.Discard, dl); err == nil || kindOf(err) != portal.KindNotFound && kindOf(err) != portal.KindForbidden {
		t.Errorf("a member removed 2.5 s after the decision read %d more bytes (%v), want the download cut as refused", sent, err)
	}
}
