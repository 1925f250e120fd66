package portal_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/deploy/s3test"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestTamperedObjectsOnEveryServer: an object of a file changed in the
// bucket (cut short, made longer, emptied, removed, or replaced by an
// object of another file of the visit or of the file's earlier version)
// is reported corrupt, and recorded so, by a whole download and by a range
// of any part of it, on every S3 server: never served, and never taken
// for a failure of the store.
func TestTamperedObjectsOnEveryServer(t *testing.T) {
	s3test.Each(t, func(t *testing.T, srv *s3test.Server) {
		d := startDomainOn(t, &devstack.S3Endpoint{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Region: srv.Region, Secure: srv.Secure},
			map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB", "PORTAL_BUCKET_PREFIX": "tp-" + srv.Name + "-"})
		mc, err := srv.Client()
		if err != nil {
			t.Fatal(err)
		}
		tamperedObjects(t, d, mc)
	})
}

// tamperedObjects is TestTamperedObjectsOnEveryServer on the domain d
// (segments of 1 MiB), whose store mc reaches without the portal.
func tamperedObjects(t *testing.T, d *domain, mc *minio.Client) {
	ctx := context.Background()
	v := d.demo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	const n = 2<<20 + 12345 // three segments, the last short
	upload := func(name string, fill byte) portal.FileView {
		t.Helper()
		body := bytes.Repeat([]byte{fill}, n)
		fv, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: name, Size: n}, bytes.NewReader(body))
		if err != nil {
			t.Fatalf("upload %s: %v", name, err)
		}
		return fv
	}
	a := upload("1.01 A.pdf", 'a')
	b := upload("1.02 B.pdf", 'b')
	rep, err := d.access(uploader, policy.FileReplace, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := rep.ReplaceFile(ctx, n, bytes.NewReader(bytes.Repeat([]byte{'A'}, n)))
	if err != nil {
		t.Fatal(err)
	}
	read := func(key string) []byte {
		t.Helper()
		o, err := mc.GetObject(ctx, v.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		data, err := io.ReadAll(o)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	put := func(key string, data []byte) {
		t.Helper()
		if _, err := mc.PutObject(ctx, v.Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{DisableMultipart: true}); err != nil {
			t.Fatal(err)
		}
	}
	outcomes := func(fileID string) []string {
		t.Helper()
		return downloadOutcomes(t, d, v.ID, fileID)
	}
	// download reads [off, off+length) of f as the lead: what came, and
	// the error that stopped it.
	download := func(f portal.FileView, off, length int64, partial bool) ([]byte, error) {
		acc, err := d.access(lead, policy.FileDownload, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		dl, err := acc.OpenDownload(ctx, off, length, partial)
		if err != nil {
			return nil, err
		}
		defer dl.Close()
		got, err := io.ReadAll(dl)
		if err != nil {
			acc.DownloadCut(ctx, dl, int64(len(got)), err)
		}
		return got, err
	}
	seg1 := int64(1 << 20)
	ranges := []struct {
		name        string
		off, length int64
	}{
		{"whole", 0, n},
		{"a range in the segment's first half", seg1 + 10, 1000},
		{"a range in the segment's second half", seg1 + 900_000, 1000},
		{"a range of the segment's last byte", 2*seg1 - 1, 1},
		{"a range from the segment's first byte", seg1, 1},
	}
	for _, tc := range []struct {
		name   string
		file   portal.FileView
		key    string
		tamper func(orig []byte) []byte // nil: removed
	}{
		{"cut to half", a2, a2.ID + "/1", func(o []byte) []byte { return o[:len(o)/2] }},
		{"cut by one byte", a2, a2.ID + "/1", func(o []byte) []byte { return o[:len(o)-1] }},
		{"emptied", a2, a2.ID + "/1", func(o []byte) []byte { return nil }},
		{"made longer", a2, a2.ID + "/1", func(o []byte) []byte { return append(slices.Clone(o), bytes.Repeat([]byte{0}, 100)...) }},
		{"another file's", a2, a2.ID + "/1", func([]byte) []byte { return read(b.ID + "/1") }},
		{"the earlier version's", a2, a2.ID + "/1", func([]byte) []byte { return read(a.ID + "/1") }},
		{"removed", a2, a2.ID + "/1", nil},
	} {
		orig := read(tc.key)
		if tc.tamper == nil {
			if err := mc.RemoveObject(ctx, v.Bucket, tc.key, minio.RemoveObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		} else {
			put(tc.key, tc.tamper(orig))
		}
		for _, r := range ranges {
			before := len(outcomes(tc.file.ID))
			got, err := download(tc.file, r.off, r.length, r.name != "whole")
			recorded := outcomes(tc.file.ID)[before:]
			if !errors.Is(err, evidence.ErrCorrupt) || !slices.Contains(recorded, "corrupt") {
				t.Errorf("%s: segment %s: %d bytes, %v; recorded %v: want corrupt", tc.name, r.name, len(got), err, recorded)
			}
			if bytes.ContainsAny(got, "ab") {
				t.Errorf("%s: segment %s: another file's bytes served", tc.name, r.name)
			}
		}
		put(tc.key, orig)
	}
}

// TestSubstitutedNameIsRecorded: a file whose sealed name does not open
// (damaged, or another file's copied over it in the database: a name is
// sealed to its file) is refused as corrupt, downloaded alone or in a zip,
// and the trail says so, as it does for damage in the file's objects.
// Before, the refusal was only in the portal's log.
func TestSubstitutedNameIsRecorded(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	var ids []string
	for _, name := range []string{"1.01 Mine.pdf", "1.01 Theirs.pdf"} {
		fv, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: name, Size: 4}, bytes.NewReader([]byte("body")))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, fv.ID)
	}
	db := d.svc.Store().DB()
	if _, err := db.Exec(`UPDATE files SET name_sealed = (SELECT name_sealed FROM files WHERE id = ?) WHERE id = ?`, ids[1], ids[0]); err != nil {
		t.Fatal(err)
	}
	outcomes := func() []string {
		t.Helper()
		recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{VisitID: v.ID, Action: "file.download"})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			if r.Object == ids[0] {
				out = append(out, r.Outcome)
			}
		}
		return out
	}
	acc, err := d.access(lead, policy.FileDownload, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if dl, err := acc.OpenDownload(ctx, 0, 4, false); err == nil {
		dl.Close()
		t.Fatal("a file under another's name was downloaded")
	} else if kindOf(err) != portal.KindCorrupt {
		t.Fatalf("a file under another's name: %v, want corrupt", err)
	}
	if got := outcomes(); !slices.Equal(got, []string{"corrupt"}) {
		t.Errorf("a file under another's name, downloaded: the trail says %v, want [corrupt]", got)
	}
	if _, err := d.mustAccess(lead, policy.FileDownload).PrepareArchive(ctx, ids, nil); kindOf(err) != portal.KindCorrupt {
		t.Fatalf("a zip with a file under another's name: %v, want corrupt", err)
	}
	if got := outcomes(); !slices.Equal(got, []string{"corrupt", "corrupt"}) {
		t.Errorf("a file under another's name, zipped: the trail says %v, want [corrupt corrupt]", got)
	}
}

// TestTruncatedFileIsNotServedWhole: a file's row cut short in the
// database (its size, and with it how many segments it has) names only
// authentic segments, each a whole sealed age file: the segments beyond
// are still in the store. It is reported corrupt, never served as the
// complete file. Before, the download answered with the first segments,
// as the whole file, and recorded success.
func TestTruncatedFileIsNotServedWhole(t *testing.T) {
	d := startDomainOn(t, nil, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	d.demo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	const seg = 1 << 20
	body := bytes.Repeat([]byte("evidence"), (2*seg+5)/8+1)[:2*seg+5]
	fv, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.01 Long.pdf", Size: int64(len(body))}, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Store().DB().Exec(`UPDATE files SET size = ?, segments = 2 WHERE id = ?`, 2*seg, fv.ID); err != nil {
		t.Fatal(err)
	}
	acc, err := d.access(lead, policy.FileDownload, fv.ID)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := acc.OpenDownload(ctx, 0, 2*seg, false)
	if err == nil {
		n, rerr := io.Copy(io.Discard, dl)
		dl.Close()
		if rerr == nil {
			t.Fatalf("a file cut short in the database was served whole: %d bytes", n)
		}
	} else if kindOf(err) != portal.KindCorrupt && !errors.Is(err, evidence.ErrCorrupt) {
		t.Fatalf("a file cut short in the database: %v, want corrupt", err)
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{Action: "file.download", Object: fv.ID})
	if err != nil || len(recs) != 1 || recs[0].Outcome != "corrupt" {
		t.Fatalf("the download's record: %+v %v, want one, corrupt", recs, err)
	}
}

// TestDamageFoundAsAccessEndsIsRecordedAsDamage: a segment of another
// file found in a download just after the reader's access ended (removed
// from the visit within the moment the decision is held for) is damage,
// recorded and reported as such. Only a segment found missing (the visit
// destroyed, the file purged meanwhile) is taken as the end of access.
// Before, any damage found then was recorded as the reader's refusal, and
// the substitution went unreported.
func TestDamageFoundAsAccessEndsIsRecordedAsDamage(t *testing.T) {
	d := startDomainOn(t, nil, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := d.demo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	const n = 6 << 20
	up := d.mustAccess(uploader, policy.FileUpload)
	f, err := up.Upload(ctx, portal.NewFile{Name: "1.01 Long.pdf", Size: n}, bytes.NewReader(bytes.Repeat([]byte("a"), n)))
	if err != nil {
		t.Fatal(err)
	}
	other, err := up.Upload(ctx, portal.NewFile{Name: "1.02 Other.pdf", Size: n}, bytes.NewReader(bytes.Repeat([]byte("b"), n)))
	if err != nil {
		t.Fatal(err)
	}
	mc := d.svc.Blobs().Client()
	if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: v.Bucket, Object: f.ID + "/5"}, minio.CopySrcOptions{Bucket: v.Bucket, Object: other.ID + "/5"}); err != nil {
		t.Fatal(err)
	}
	acc, err := d.access(lead, policy.FileDownload, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := acc.OpenDownload(ctx, 0, n, false)
	if err != nil {
		t.Fatal(err)
	}
	removeMember(t, d, "lead@ofsted.example")
	sent, err := io.Copy(io.Discard, dl)
	dl.Close()
	acc.DownloadCut(ctx, dl, sent, err)
	if !errors.Is(err, evidence.ErrCorrupt) {
		t.Errorf("a substituted segment found as the reader's access ended: %v, want it reported as damage", err)
	}
	recs, err := d.svc.Store().AuditRecords(ctx, store.AuditFilter{Action: "file.download", Object: f.ID})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, r := range recs {
		outcomes = append(outcomes, r.Outcome)
	}
	if !slices.Contains(outcomes, "corrupt") {
		t.Errorf("the download's records say %v, want the damage recorded (corrupt)", outcomes)
	}

	// The same found as the download opens: a file stored before segment
	// MACs, checked whole before its first byte, a segment of it another
	// file's.
	g, err := up.Upload(ctx, portal.NewFile{Name: "1.03 Legacy.pdf", Size: n}, bytes.NewReader(bytes.Repeat([]byte("c"), n)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Store().DB().Exec(`UPDATE files SET segment_macs = NULL WHERE id = ?`, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: v.Bucket, Object: g.ID + "/1"}, minio.CopySrcOptions{Bucket: v.Bucket, Object: other.ID + "/1"}); err != nil {
		t.Fatal(err)
	}
	qam := d.person("ofsted", "qam@ofsted.example")
	acc, err = d.access(qam, policy.FileDownload, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	removeMember(t, d, "qam@ofsted.example")
	if _, err := acc.OpenDownload(ctx, 0, n, false); !errors.Is(err, evidence.ErrCorrupt) {
		t.Errorf("a file without MACs, a segment of it another's, opened as the reader's access ended: %v, want it reported as damage", err)
	}
	recs, err = d.svc.Store().AuditRecords(ctx, store.AuditFilter{Action: "file.download", Object: g.ID})
	if err != nil || len(recs) != 1 || recs[0].Outcome != "corrupt" {
		t.Errorf("the download's records: %+v %v, want one, corrupt", recs, err)
	}
}

// TestTruncatedFileIsNotZipped: a file whose row was cut short in the
// database is refused in a zip before any byte of it is sent, as a single
// download refuses it: as the zip's first file with the error page (no
// zip at all), after another with the zip cut before its entry. Before,
// the zip sent every authentic segment the row still named and found the
// damage only at the entry's end, from its SHA-256.
func TestTruncatedFileIsNotZipped(t *testing.T) {
	d := startDomainOn(t, nil, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	d.openDemo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	const seg = 1 << 20
	body := bytes.Repeat([]byte("evidence"), (2*seg+5)/8+1)[:2*seg+5]
	up := d.mustAccess(uploader, policy.FileUpload)
	small, err := up.Upload(ctx, portal.NewFile{Name: "1.01 Small.pdf", Size: 5}, strings.NewReader("small"))
	if err != nil {
		t.Fatal(err)
	}
	long, err := up.Upload(ctx, portal.NewFile{Name: "1.02 Long.pdf", Size: int64(len(body))}, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.svc.Store().DB().Exec(`UPDATE files SET size = ?, segments = 2 WHERE id = ?`, 2*seg, long.ID); err != nil {
		t.Fatal(err)
	}
	acc := d.mustAccess(lead, policy.FileDownload)
	if _, err := acc.PrepareArchive(ctx, []string{long.ID}, nil); kindOf(err) != portal.KindCorrupt && !errors.Is(err, evidence.ErrCorrupt) {
		t.Errorf("a zip of a file cut short in the database: %v, want it refused as corrupt before it starts", err)
	}
	a, err := acc.PrepareArchive(ctx, []string{small.ID, long.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := a.WriteTo(ctx, &got); err == nil {
		t.Fatal("a zip with a file cut short in the database went on to its end")
	}
	if n := bytes.Count(got.Bytes(), []byte("evidence")); n > 0 {
		t.Errorf("a zip sent %d bytes of a file cut short in the database before it stopped", 8*n)
	}
}
