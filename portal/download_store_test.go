package portal_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/store"
)

// How the store in front of the portal answers a GET (answeredAs).
const (
	asMinIO        = iota
	ignoringRanges // a range is answered 200 with the whole object
	withoutLengths // every body is sent chunked, without Content-Length
	ignoringBoth   // both
	answerShapes   // how many of the shapes above there are
	// cutAndUnsized: as withoutLengths, with every body cut to half in
	// transit (the chunked stream ended cleanly there).
	cutAndUnsized = answerShapes
	// otherRanges: a range is answered from the byte after the one asked
	// for, and says so.
	otherRanges = answerShapes + 1
)

// minioBehind starts a MinIO of its own for t, named for its keys, with in
// front of it the handler front makes of a proxy to it. It returns the
// front's S3 endpoint and a client of the MinIO itself (past the front).
func minioBehind(t *testing.T, name string, front func(*httputil.ReverseProxy) http.Handler) (*devstack.S3Endpoint, *minio.Client) {
	t.Helper()
	bin, err := devstack.FindMinIO()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatal(err)
		}
		t.Skipf("skipping: %v", err)
	}
	m, err := devstack.StartMinIO(context.Background(), devstack.MinIOOptions{Binary: bin, DataDir: t.TempDir(), AccessKey: name, SecretKey: name + "-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop() })
	proxy := httptest.NewServer(front(httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: m.Endpoint})))
	t.Cleanup(proxy.Close)
	mc, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(name, name+"-secret", ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return &devstack.S3Endpoint{Endpoint: strings.TrimPrefix(proxy.URL, "http://"), AccessKey: name, SecretKey: name + "-secret", Region: "us-east-1"}, mc
}

// answeredAs starts the domain on a MinIO of its own, behind a proxy that
// answers the portal's GETs in the shape shape holds: as an S3 server
// that ignores Range (RFC 9110 lets it), or sends its bodies without a
// length, would. The client reaches the MinIO without the proxy.
func answeredAs(t *testing.T, shape *atomic.Int32, env map[string]string) (*domain, *minio.Client) {
	t.Helper()
	s3, mc := minioBehind(t, "shaped", func(rp *httputil.ReverseProxy) http.Handler {
		rp.ModifyResponse = func(resp *http.Response) error { return reshape(resp, shape.Load()) }
		return rp
	})
	return startDomainOn(t, s3, env), mc
}

// reshape gives resp, a GET's answer from MinIO, the shape s.
func reshape(resp *http.Response, s int32) error {
	if resp.Request.Method != http.MethodGet || s == asMinIO {
		return nil
	}
	if cr := resp.Header.Get("Content-Range"); (s == ignoringRanges || s == ignoringBoth) && resp.StatusCode == http.StatusPartialContent && cr != "" {
		// The whole object: the range MinIO sent, with the bytes
		// around it (zeros: a reader that keeps them fails).
		var a, b, total int64
		if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &a, &b, &total); err != nil {
			return err
		}
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(io.LimitReader(zeros{}, a), resp.Body, io.LimitReader(zeros{}, total-b-1)), resp.Body}
		resp.StatusCode, resp.Status = http.StatusOK, "200 OK"
		resp.Header.Del("Content-Range")
		resp.Header.Set("Content-Length", fmt.Sprint(total))
		resp.ContentLength = total
	}
	if cr := resp.Header.Get("Content-Range"); s == otherRanges && resp.StatusCode == http.StatusPartialContent && cr != "" {
		var a, b, total int64
		if _, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &a, &b, &total); err != nil {
			return err
		}
		if _, err := io.CopyN(io.Discard, resp.Body, 1); err != nil {
			return err
		}
		resp.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", a+1, b, total))
		resp.Header.Set("Content-Length", fmt.Sprint(b-a))
		resp.ContentLength = b - a
	}
	if s == cutAndUnsized && resp.ContentLength > 0 {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, resp.ContentLength/2), resp.Body}
	}
	if s == withoutLengths || s == ignoringBoth || s == cutAndUnsized {
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
	}
	return nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// downloadOutcomes are the outcomes of the download records of file id.
func downloadOutcomes(t *testing.T, d *domain, visitID, id string) []string {
	t.Helper()
	recs, err := d.svc.Store().AuditRecords(context.Background(), store.AuditFilter{VisitID: visitID, Action: "file.download"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if r.Object == id {
			out = append(out, r.Outcome)
		}
	}
	return out
}

// TestDownloadFromStoresThatAnswerOtherwise: a store that answers a range
// with the whole object, or sends a body without its length, serves the
// same bytes as MinIO does, and is never taken for damage, nor is a body
// sent without its length and cut short in transit. Before, a range's
// window was read from the object's first byte (its authentication
// failed), and a segment sent without a length did not match its
// recorded size: both were reported "corrupt", and the file was not
// served.
func TestDownloadFromStoresThatAnswerOtherwise(t *testing.T) {
	var shape atomic.Int32
	d, _ := answeredAs(t, &shape, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := d.demo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	content := make([]byte, 3<<20+12345)
	rand.Read(content)
	fv, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.01 Shapes.pdf", Size: int64(len(content))}, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"MinIO", "a store that ignores ranges", "a store that sends no lengths", "a store that does both"}
	for s := range answerShapes {
		shape.Store(int32(s))
		// The whole file (each segment streamed), and a range across a
		// segment's end (the two segments read in part, at random).
		for _, r := range [][2]int64{{0, int64(len(content))}, {1<<20 - 100, 300}, {2<<20 + 7, 1<<20 + 1}} {
			acc, err := d.access(lead, policy.FileDownload, fv.ID)
			if err != nil {
				t.Fatal(err)
			}
			dl, err := acc.OpenDownload(ctx, r[0], r[1], r[1] != int64(len(content)))
			if err != nil {
				t.Errorf("%s, bytes %d+%d: %v (kind %v)", names[s], r[0], r[1], err, kindOf(err))
				continue
			}
			got, err := io.ReadAll(dl)
			dl.Close()
			if err != nil || !bytes.Equal(got, content[r[0]:r[0]+r[1]]) {
				t.Errorf("%s, bytes %d+%d: %d bytes (%v), not the file's", names[s], r[0], r[1], len(got), err)
			}
		}
	}
	// storeFails: under shape s, each range fails as the store's failure,
	// not as damage.
	storeFails := func(what string, s int32, ranges ...[2]int64) {
		t.Helper()
		shape.Store(s)
		for _, r := range ranges {
			acc, err := d.access(lead, policy.FileDownload, fv.ID)
			if err != nil {
				t.Fatal(err)
			}
			if dl, err := acc.OpenDownload(ctx, r[0], r[1], r[1] != int64(len(content))); err == nil {
				n, _ := io.Copy(io.Discard, dl)
				dl.Close()
				t.Errorf("%s, bytes %d+%d: %d bytes served", what, r[0], r[1], n)
			} else if errors.Is(err, evidence.ErrCorrupt) {
				t.Errorf("%s, bytes %d+%d: %v, want a failure of the store, not damage", what, r[0], r[1], err)
			}
		}
	}
	// Cut in transit, without a length, a whole segment or a part of one.
	storeFails("bodies cut to half in transit, without a length", cutAndUnsized, [2]int64{0, int64(len(content))}, [2]int64{1<<20 - 100, 300}, [2]int64{2<<20 + 7, 1<<20 + 1})
	// Another range than the one asked for.
	storeFails("ranges answered from the next byte", otherRanges, [2]int64{1<<20 - 100, 300}, [2]int64{2<<20 + 7, 1<<20 + 1})
	shape.Store(asMinIO)
	if got := downloadOutcomes(t, d, v.ID, fv.ID); slices.Contains(got, "corrupt") {
		t.Errorf("the trail takes the stores' answers for damage: %v", got)
	}
}

// TestTamperedObjectsBehindStoresThatAnswerOtherwise: damage is still
// reported as damage by a store that ignores ranges or sends its bodies
// without a length (TestTamperedObjectsOnEveryServer behind each).
func TestTamperedObjectsBehindStoresThatAnswerOtherwise(t *testing.T) {
	for _, c := range []struct {
		name  string
		shape int32
	}{{"ignoring ranges", ignoringRanges}, {"without lengths", withoutLengths}, {"both", ignoringBoth}} {
		t.Run(c.name, func(t *testing.T) {
			var shape atomic.Int32
			shape.Store(c.shape)
			d, mc := answeredAs(t, &shape, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
			tamperedObjects(t, d, mc)
		})
	}
}

// TestSegmentMACsOfAnotherLength: a file whose row names more or fewer
// segment MACs than it has segments (the database changed under the
// portal) is reported as damaged before any byte of it is sent. Before,
// one with too few was sent until its first segment without a MAC (past
// the part checked before the response starts, so the response broke off
// after its headers), and one with too many was sent whole.
func TestSegmentMACsOfAnotherLength(t *testing.T) {
	d := startDomainOn(t, nil, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := d.demo()
	uploader := d.person("cafcass", "uploader@cafcass.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	content := make([]byte, 6<<20+1) // seven segments, past the part checked first
	rand.Read(content)
	fv, err := d.mustAccess(uploader, policy.FileUpload).Upload(ctx, portal.NewFile{Name: "1.01 Seven segments.pdf", Size: int64(len(content))}, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	db := d.svc.Store().DB()
	var macs []byte
	if err := db.QueryRow(`SELECT segment_macs FROM files WHERE id = ?`, fv.ID).Scan(&macs); err != nil || len(macs) != 7*32 {
		t.Fatalf("segment MACs: %d bytes (%v), want 7", len(macs), err)
	}
	for _, c := range []struct {
		name string
		macs []byte
	}{
		{"one MAC short", macs[:6*32]},
		{"one MAC over", append(slices.Clone(macs), macs[:32]...)},
	} {
		if _, err := db.Exec(`UPDATE files SET segment_macs = ? WHERE id = ?`, c.macs, fv.ID); err != nil {
			t.Fatal(err)
		}
		before := len(downloadOutcomes(t, d, v.ID, fv.ID))
		acc, err := d.access(lead, policy.FileDownload, fv.ID)
		if err != nil {
			t.Fatal(err)
		}
		dl, err := acc.OpenDownload(ctx, 0, fv.Size, false)
		if err == nil {
			n, rerr := io.Copy(io.Discard, dl)
			dl.Close()
			t.Errorf("%s: the download began (%d bytes sent, then %v), want it refused as damaged before its first byte", c.name, n, rerr)
		} else if !errors.Is(err, evidence.ErrCorrupt) {
			t.Errorf("%s: %v, want the file reported damaged", c.name, err)
		}
		if got := downloadOutcomes(t, d, v.ID, fv.ID)[before:]; !slices.Equal(got, []string{"corrupt"}) {
			t.Errorf("%s: the trail says %v, want [corrupt]", c.name, got)
		}
	}
	if _, err := db.Exec(`UPDATE files SET segment_macs = ? WHERE id = ?`, macs, fv.ID); err != nil {
		t.Fatal(err)
	}
	acc, err := d.access(lead, policy.FileDownload, fv.ID)
	if err != nil {
		t.Fatal(err)
	}
	dl, err := acc.OpenDownload(ctx, 0, fv.Size, false)
	if err != nil {
		t.Fatalf("with its own MACs: %v", err)
	}
	got, err := io.ReadAll(dl)
	dl.Close()
	if err != nil || !bytes.Equal(got, content) {
		t.Errorf("with its own MACs: %d bytes (%v), not the file's", len(got), err)
	}
}
