package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestIfRange: a client resuming a download sends the validator of what it
// has in If-Range; unless that is this file's ETag, exactly (a weak one
// never is, nor a date: no Last-Modified is sent), the Range is ignored
// and the whole file comes back (RFC 9110 section 13.1.5), so no client
// splices bytes of one representation onto another's.
func TestIfRange(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	up := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	f := decode[fileResp](t, up.upload(v.ID, "Resumed.pdf", strings.NewReader("0123456789"), 10), http.StatusCreated)
	etag := `"` + f.SHA256 + `"`
	for _, tc := range []struct {
		ifRange string
		status  int
		body    string
	}{
		{etag, http.StatusPartialContent, "23"},
		{`"` + strings.Repeat("0", 64) + `"`, http.StatusOK, "0123456789"},
		{"W/" + etag, http.StatusOK, "0123456789"},
		{"Thu, 03 Dec 2026 10:00:00 GMT", http.StatusOK, "0123456789"},
	} {
		req, _ := http.NewRequest("GET", lead.base+"/api/v1/visits/"+v.ID+"/files/"+f.ID+"/content", nil)
		req.Header.Set("Range", "bytes=2-3")
		req.Header.Set("If-Range", tc.ifRange)
		resp := lead.do(req)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(body) != tc.body {
			t.Errorf("If-Range %s: %d %q, want %d %q", tc.ifRange, resp.StatusCode, body, tc.status, tc.body)
		}
	}
}
