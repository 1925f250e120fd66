package web_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
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
}
