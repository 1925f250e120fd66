package web_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestResumableBodyPastLength checks that a PATCH whose body goes on past
// the declared length is refused even when no Content-Length announced it
// (a chunked body): the upload is not completed with the first bytes and
// the rest silently dropped, and the file is not stored.
func TestResumableBodyPastLength(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-TUS-PAST")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")

	loc := uploader.tusCreate(v.ID, "2.01 Notes.pdf", 10)
	// io.MultiReader hides the length: the client sends it chunked.
	body := io.MultiReader(bytes.NewReader([]byte("0123456789")), bytes.NewReader([]byte("and more")))
	resp := uploader.tus("PATCH", loc, body, -1, map[string]string{"Upload-Offset": "0"})
	b := readAll(t, resp)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked PATCH past the length: %d %v %s, want 413", resp.StatusCode, resp.Header, b)
	}
	if got := uploader.tusOffset(loc); got != 0 {
		t.Errorf("offset after a refused PATCH: %d, want 0", got)
	}
	if ids := listFileIDs(t, uploader, v.ID); len(ids) != 0 {
		t.Errorf("files after a refused PATCH: %v", ids)
	}
	// The same upload then completes with the right bytes.
	resp = uploader.tus("PATCH", loc, bytes.NewReader([]byte("0123456789")), 10, map[string]string{"Upload-Offset": "0"})
	readAll(t, resp)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Evidence-File-Id") == "" {
		t.Fatalf("PATCH of the declared bytes: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestResumableLengthCannotChange checks that a PATCH declaring another
// Upload-Length than the upload's is refused and moves nothing (tus: the
// length is set at creation): the client is sending another file.
func TestResumableLengthCannotChange(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-TUS-LEN")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")

	loc := uploader.tusCreate(v.ID, "2.02 Plan.pdf", 10)
	resp := uploader.tus("PATCH", loc, bytes.NewReader([]byte("0123456789")), 10, map[string]string{"Upload-Offset": "0", "Upload-Length": "12"})
	b := readAll(t, resp)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("PATCH with another Upload-Length: %d %s, want 400", resp.StatusCode, b)
	}
	if got := uploader.tusOffset(loc); got != 0 {
		t.Errorf("offset after a PATCH with another length: %d, want 0", got)
	}
	if ids := listFileIDs(t, uploader, v.ID); len(ids) != 0 {
		t.Errorf("files after a refused PATCH: %v", ids)
	}
}

// TestResumableMetadataKeysOnce checks that Upload-Metadata naming a key
// twice is refused (tus: keys are unique) rather than taken as the last
// value: a proxy or script that appends its own filename must not decide
// under which name the evidence is kept.
func TestResumableMetadataKeysOnce(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-TUS-META")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	base := "/api/v1/visits/" + v.ID + "/uploads"
	for _, c := range []struct {
		name, meta string
	}{
		{"filename twice", tusMeta("filename", "2.01 Plan.pdf", "filename", "2.01 Other.pdf")},
		{"item twice", tusMeta("filename", "Plan.pdf", "item", "2.01", "item", "2.02")},
		{"filename and name differ", tusMeta("filename", "2.01 Plan.pdf", "name", "2.01 Other.pdf")},
	} {
		resp := uploader.tus("POST", base, nil, 0, map[string]string{"Upload-Length": "10", "Upload-Metadata": c.meta})
		b := readAll(t, resp)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", c.name, resp.StatusCode, b)
		}
	}
	if n := countRows(t, ts, "resumable_uploads"); n != 0 {
		t.Fatalf("refused creations left %d uploads", n)
	}
}

// TestResumableHeadTellsTheScan checks that a HEAD of a completed upload
// carries the malware scanner's verdict as the last PATCH's answer did:
// when that answer is lost (the connection dropped as the upload
// completed), tus clients learn of the completion from a HEAD, and the
// upload page would say "Uploaded" of a file found infected or still
// being checked.
func TestResumableHeadTellsTheScan(t *testing.T) {
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-TUS-HEAD")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")

	loc := uploader.tusCreate(v.ID, "2.01 Notes.pdf", 10)
	resp := uploader.tus("PATCH", loc, bytes.NewReader([]byte("0123456789")), 10, map[string]string{"Upload-Offset": "0"})
	readAll(t, resp)
	scan := resp.Header.Get("Evidence-Scan")
	if resp.StatusCode != http.StatusNoContent || scan == "" {
		t.Fatalf("PATCH: %d %v", resp.StatusCode, resp.Header)
	}
	resp = uploader.tus("HEAD", loc, nil, 0, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Upload-Offset") != "10" || resp.Header.Get("Evidence-File-Id") == "" {
		t.Fatalf("HEAD: %d %v", resp.StatusCode, resp.Header)
	}
	if got := resp.Header.Get("Evidence-Scan"); got != scan {
		t.Fatalf("HEAD of the completed upload: Evidence-Scan %q, the PATCH said %q", got, scan)
	}
	// The file unreadable (the database failing), the HEAD does not say
	// the upload completed without the verdict: a client would tell its
	// person "uploaded" with no word of malware.
	if ts.Portal.Store().Postgres() {
		return // the serving role may not rename the table
	}
	db := ts.Portal.Store().DB()
	if _, err := db.Exec(`ALTER TABLE files RENAME TO files_away`); err != nil {
		t.Fatal(err)
	}
	resp = uploader.tus("HEAD", loc, nil, 0, nil)
	resp.Body.Close()
	if _, err := db.Exec(`ALTER TABLE files_away RENAME TO files`); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK && resp.Header.Get("Evidence-Scan") == "" {
		t.Fatalf("HEAD of a completed upload whose file could not be read: %d, no Evidence-Scan; want a failure, not a completion without the verdict", resp.StatusCode)
	}
}

// TestCutPatchSaysWhatIsKept: a resumable upload's PATCH whose body ends
// before its Content-Length is told that what the upload had committed is
// kept, and from where to go on; a plain upload cut the same way is still
// told nothing was kept. Before, the PATCH was told "Nothing was kept:
// upload it again", though its earlier segments were kept and a client
// trusting it would send them all again.
func TestCutPatchSaysWhatIsKept(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	const seg = 1 << 20
	loc := uploader.tusCreate(v.ID, "2.01 Notes.pdf", seg+1000)
	resp := uploader.tus("PATCH", loc, bytes.NewReader(make([]byte, seg)), seg, map[string]string{"Upload-Offset": "0"})
	readAll(t, resp)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("the first segment: %d", resp.StatusCode)
	}
	resp, body := uploader.rawRequest(t, fmt.Sprintf("PATCH %s HTTP/1.1\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: %d\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 1000", loc, seg),
		bytes.Repeat([]byte("x"), 500), true, 10*time.Second)
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Upload-Offset") != strconv.Itoa(seg) {
		t.Fatalf("a PATCH cut short: %d, Upload-Offset %q: %s", resp.StatusCode, resp.Header.Get("Upload-Offset"), body)
	}
	if strings.Contains(body, "Nothing was kept") || !strings.Contains(body, strconv.Itoa(seg)+" bytes") {
		t.Errorf("a PATCH cut after a committed segment is told %s; want what is kept (%d bytes) and no \"Nothing was kept\"", body, seg)
	}
	resp, body = uploader.rawRequest(t, fmt.Sprintf("POST /api/v1/visits/%s/files?name=short.pdf HTTP/1.1\r\nContent-Length: 1000", v.ID),
		bytes.Repeat([]byte("x"), 500), true, 10*time.Second)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Nothing was kept") {
		t.Errorf("a plain upload cut short: %d %s; want 400 saying nothing was kept", resp.StatusCode, body)
	}
}
