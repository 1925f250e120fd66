package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tus sends one tus request with the protocol header.
func (b *browser) tus(method, path string, body io.Reader, size int64, h map[string]string) *http.Response {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.base+path, body)
	req.Header.Set("Tus-Resumable", "1.0.0")
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	for k, v := range h {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return b.do(req)
}

func tusMeta(kv ...string) string {
	var parts []string
	for i := 0; i < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

func (b *browser) tusCreate(visitID, name string, length int64) string {
	b.t.Helper()
	resp := b.tus("POST", "/api/v1/visits/"+visitID+"/uploads", nil, 0, map[string]string{
		"Upload-Length": strconv.FormatInt(length, 10), "Upload-Metadata": tusMeta("filename", name)})
	body := readAll(b.t, resp)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") == "" || resp.Header.Get("Tus-Resumable") != "1.0.0" {
		b.t.Fatalf("create: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if _, err := http.ParseTime(resp.Header.Get("Upload-Expires")); err != nil {
		b.t.Fatalf("Upload-Expires %q: %v", resp.Header.Get("Upload-Expires"), err)
	}
	return resp.Header.Get("Location")
}

func (b *browser) tusOffset(loc string) int64 {
	b.t.Helper()
	resp := b.tus("HEAD", loc, nil, 0, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		b.t.Fatalf("HEAD %s: %d %v", loc, resp.StatusCode, resp.Header)
	}
	n, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		b.t.Fatalf("Upload-Offset: %v", err)
	}
	return n
}

// cutReader yields n bytes of r and then fails, as a dropped connection does.
type cutReader struct {
	r io.Reader
	n int64
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errors.New("connection dropped")
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// TestResumableUpload checks the tus protocol surface and that an upload
// survives a dropped connection and a restart of the portal, resuming from
// the last committed segment.
func TestResumableUpload(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-TUS-1")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	base := "/api/v1/visits/" + v.ID + "/uploads"
	const seg = 32 << 20

	t.Run("protocol", func(t *testing.T) {
		resp := uploader.tus("OPTIONS", base, nil, 0, map[string]string{"Tus-Resumable": ""})
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Tus-Version") != "1.0.0" ||
			!strings.Contains(resp.Header.Get("Tus-Extension"), "creation") || !strings.Contains(resp.Header.Get("Tus-Extension"), "termination") ||
			!strings.Contains(resp.Header.Get("Tus-Extension"), "checksum") || !strings.Contains(resp.Header.Get("Tus-Checksum-Algorithm"), "sha256") ||
			resp.Header.Get("Tus-Max-Size") == "" || resp.Header.Get("Evidence-Segment-Size") != strconv.Itoa(seg) {
			t.Fatalf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
		}
		for _, c := range []struct {
			name string
			h    map[string]string
			want int
		}{
			{"no protocol version", map[string]string{"Tus-Resumable": "", "Upload-Length": "10", "Upload-Metadata": tusMeta("filename", "a.pdf")}, http.StatusPreconditionFailed},
			{"other protocol version", map[string]string{"Tus-Resumable": "0.2.2", "Upload-Length": "10", "Upload-Metadata": tusMeta("filename", "a.pdf")}, http.StatusPreconditionFailed},
			{"no length", map[string]string{"Upload-Metadata": tusMeta("filename", "a.pdf")}, http.StatusBadRequest},
			{"deferred length", map[string]string{"Upload-Defer-Length": "1", "Upload-Metadata": tusMeta("filename", "a.pdf")}, http.StatusBadRequest},
			{"too large", map[string]string{"Upload-Length": strconv.FormatInt(21<<30, 10), "Upload-Metadata": tusMeta("filename", "a.pdf")}, http.StatusRequestEntityTooLarge},
			{"bad name", map[string]string{"Upload-Length": "10", "Upload-Metadata": tusMeta("filename", "../etc/passwd")}, http.StatusBadRequest},
			{"no name", map[string]string{"Upload-Length": "10"}, http.StatusBadRequest},
		} {
			resp := uploader.tus("POST", base, nil, 0, c.h)
			body := readAll(t, resp)
			if resp.StatusCode != c.want || resp.Header.Get("Tus-Resumable") != "1.0.0" {
				t.Errorf("%s: %d, want %d: %s", c.name, resp.StatusCode, c.want, body)
			}
		}
		if c := countRows(t, ts, "resumable_uploads"); c != 0 {
			t.Fatalf("refused creations left %d rows", c)
		}

		// An empty file is complete on creation (clients send no PATCH).
		empty := uploader.tusCreate(v.ID, "2.00 Empty.txt", 0)
		if got := uploader.tusOffset(empty); got != 0 {
			t.Fatalf("empty upload offset %d", got)
		}
		found := false
		for _, f := range decode[struct {
			Files []fileResp `json:"files"`
		}](t, uploader.get("/api/v1/visits/"+v.ID+"/files"), http.StatusOK).Files {
			found = found || f.Name == "2.00 Empty.txt" && f.Size == 0 && f.SHA256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
		}
		if !found {
			t.Fatal("an empty resumable upload did not become an empty file")
		}

		loc := uploader.tusCreate(v.ID, "2.01 Notes.pdf", 10)
		data := []byte("0123456789")
		for _, c := range []struct {
			name string
			body []byte
			h    map[string]string
			want int
		}{
			{"wrong content type", data, map[string]string{"Upload-Offset": "0", "Content-Type": "application/octet-stream"}, http.StatusUnsupportedMediaType},
			{"no offset", data, map[string]string{"Upload-Offset": ""}, http.StatusBadRequest},
			{"wrong offset", data[5:], map[string]string{"Upload-Offset": "5"}, http.StatusConflict},
			{"past the length", append(data, 'x'), map[string]string{"Upload-Offset": "0"}, http.StatusRequestEntityTooLarge},
			{"short of a segment boundary", data[:4], map[string]string{"Upload-Offset": "0"}, http.StatusBadRequest},
			// No bytes is no change (tus allows it): not a body cut short.
			{"no bytes", []byte{}, map[string]string{"Upload-Offset": "0"}, http.StatusNoContent},
		} {
			resp := uploader.tus("PATCH", loc, bytes.NewReader(c.body), int64(len(c.body)), c.h)
			body := readAll(t, resp)
			if resp.StatusCode != c.want {
				t.Errorf("%s: %d, want %d: %s", c.name, resp.StatusCode, c.want, body)
			}
		}
		if got := uploader.tusOffset(loc); got != 0 {
			t.Fatalf("refused PATCHes moved the offset to %d", got)
		}
		// Only its creator knows the upload.
		for _, b := range []*browser{lead, admin} {
			resp := b.tus("HEAD", loc, nil, 0, nil)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusForbidden {
				t.Errorf("HEAD by another account: %d", resp.StatusCode)
			}
		}
		// Checksum extension: a mismatch stores nothing and moves nothing.
		other := sha256.Sum256([]byte("something else"))
		right := sha256.Sum256(data)
		resp = uploader.tus("PATCH", loc, bytes.NewReader(data), 10, map[string]string{"Upload-Offset": "0", "Upload-Checksum": "sha256 " + base64.StdEncoding.EncodeToString(other[:])})
		if body := readAll(t, resp); resp.StatusCode != 460 {
			t.Fatalf("checksum mismatch: %d %s", resp.StatusCode, body)
		}
		resp = uploader.tus("PATCH", loc, bytes.NewReader(data), 10, map[string]string{"Upload-Offset": "0", "Upload-Checksum": "crc32 AAAA"})
		if body := readAll(t, resp); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("unknown checksum algorithm: %d %s", resp.StatusCode, body)
		}
		if got := uploader.tusOffset(loc); got != 0 {
			t.Fatalf("a refused checksum moved the offset to %d", got)
		}
		resp = uploader.tus("PATCH", loc, bytes.NewReader(data), 10, map[string]string{"Upload-Offset": "0", "Upload-Checksum": "sha256 " + base64.StdEncoding.EncodeToString(right[:])})
		readAll(t, resp)
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != "10" || resp.Header.Get("Evidence-File-Id") == "" {
			t.Fatalf("PATCH: %d %v", resp.StatusCode, resp.Header)
		}
		if got := uploader.tusOffset(loc); got != 10 {
			t.Fatalf("offset after completion %d", got)
		}
		// Termination of an unfinished upload removes what it stored.
		loc2 := uploader.tusCreate(v.ID, "2.02 Big.pdf", seg+5)
		resp = uploader.tus("PATCH", loc2, newEvidence(9, seg), seg, map[string]string{"Upload-Offset": "0"})
		readAll(t, resp)
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(seg) {
			t.Fatalf("first segment: %d %v", resp.StatusCode, resp.Header)
		}
		before := objectCount(t, ts, v.Bucket)
		resp = uploader.tus("DELETE", loc2, nil, 0, nil)
		readAll(t, resp)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE: %d", resp.StatusCode)
		}
		if after := objectCount(t, ts, v.Bucket); after != before-1 {
			t.Fatalf("objects before termination %d, after %d", before, after)
		}
		resp = uploader.tus("HEAD", loc2, nil, 0, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("HEAD after DELETE: %d", resp.StatusCode)
		}
		if pendingUploads(t, ts) != 0 {
			t.Fatal("a pending record is left after termination")
		}
	})

	t.Run("survives a dropped connection and a restart", func(t *testing.T) {
		const size = 3*seg + 7<<20
		const name = "1.02 Allocation policy.pdf"
		all := evidenceBytes(4, size)
		loc := uploader.tusCreate(v.ID, name, size)
		filesBefore := len(listFileIDs(t, lead, v.ID))

		// The connection drops 20 MiB into the second segment: the first is
		// committed, the second is not.
		req, _ := http.NewRequest("PATCH", uploader.base+loc, &cutReader{r: bytes.NewReader(all), n: seg + 20<<20})
		req.ContentLength = size
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		req.Header.Set("Upload-Offset", "0")
		if resp, err := uploader.c.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("a cut request got an answer: %d", resp.StatusCode)
		}
		var off int64
		for deadline := time.Now().Add(10 * time.Second); ; {
			// The server notices the cut when its read fails.
			if off = uploader.tusOffset(loc); off == seg || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if off != seg {
			t.Fatalf("offset after the cut: %d, want %d", off, seg)
		}

		// The portal restarts; the upload goes on from the committed offset.
		if err := ts.RestartPortal(context.Background(), false); err != nil {
			t.Fatal(err)
		}
		if got := uploader.tusOffset(loc); got != seg {
			t.Fatalf("offset after restart: %d, want %d", got, seg)
		}
		resp := uploader.tus("PATCH", loc, bytes.NewReader(all[seg:2*seg]), seg, map[string]string{"Upload-Offset": strconv.Itoa(seg)})
		readAll(t, resp)
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(2*seg) {
			t.Fatalf("after restart: %d %v", resp.StatusCode, resp.Header)
		}
		if len(listFileIDs(t, lead, v.ID)) != filesBefore {
			t.Fatal("an unfinished upload is visible")
		}
		resp = uploader.tus("PATCH", loc, bytes.NewReader(all[2*seg:]), size-2*seg, map[string]string{"Upload-Offset": strconv.Itoa(2 * seg)})
		readAll(t, resp)
		fileID := resp.Header.Get("Evidence-File-Id")
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(size) || fileID == "" || resp.Header.Get("Evidence-Item") != "1.02" {
			t.Fatalf("last PATCH: %d %v", resp.StatusCode, resp.Header)
		}
		want := sha256.Sum256(all)
		var f fileResp
		for _, g := range decode[struct {
			Files []fileResp `json:"files"`
		}](t, lead.get("/api/v1/visits/"+v.ID+"/files"), http.StatusOK).Files {
			if g.ID == fileID {
				f = g
			}
		}
		if f.SHA256 != hex.EncodeToString(want[:]) || f.Size != size || f.Name != name || f.Item != "1.02" {
			t.Fatalf("file %+v", f)
		}
		got := lead.get("/api/v1/visits/" + v.ID + "/files/" + fileID + "/content")
		h := sha256.New()
		io.Copy(h, got.Body)
		got.Body.Close()
		if hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
			t.Fatal("the download does not match the upload")
		}
		if pendingUploads(t, ts) != 0 {
			t.Fatal("a pending record is left after completion")
		}
	})

	t.Run("unfinished uploads expire and leave nothing", func(t *testing.T) {
		before := objectCount(t, ts, v.Bucket)
		loc := uploader.tusCreate(v.ID, "2.03 Plan.pdf", seg+1)
		resp := uploader.tus("PATCH", loc, newEvidence(5, seg), seg, map[string]string{"Upload-Offset": "0"})
		readAll(t, resp)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH: %d", resp.StatusCode)
		}
		ts.sweep(t)
		if got := uploader.tusOffset(loc); got != seg {
			t.Fatalf("a live upload was swept: offset %d", got)
		}
		ts.offset.Add(int64(25 * time.Hour))
		defer ts.offset.Add(-int64(25 * time.Hour))
		ts.sweep(t)
		resp = uploader.tus("HEAD", loc, nil, 0, nil)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("HEAD after expiry: %d", resp.StatusCode)
		}
		if after := objectCount(t, ts, v.Bucket); after != before {
			t.Fatalf("objects before %d, after expiry %d", before, after)
		}
		if pendingUploads(t, ts) != 0 || countRows(t, ts, "resumable_uploads WHERE completed_at IS NULL") != 0 {
			t.Fatal("rows left after expiry")
		}
		var n int
		ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE action = 'upload.failed' AND detail LIKE '%expired%'`).Scan(&n)
		if n != 1 {
			t.Fatalf("%d expiry records", n)
		}
	})
}

func countRows(t *testing.T, ts *testStack, table string) int {
	t.Helper()
	var n int
	if err := ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
