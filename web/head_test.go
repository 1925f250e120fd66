package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestHeadAnswersAsGet: HEAD is answered as GET without the body (RFC
// 9110 section 9.1: every general-purpose server supports GET and HEAD),
// so monitors, curl -I and link checkers see what a GET would, under the
// same headers and the same authorization. Routes with an effect do not
// take it: a download records one, a sign-in step spends the sign-in
// limit or the sign-in in flight.
func TestHeadAnswersAsGet(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	lead.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	anon := ts.newBrowser(t)
	anon.c.CheckRedirect = lead.c.CheckRedirect
	send := func(b *browser, method, path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, b.base+path, nil)
		resp := b.do(req)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	for _, tc := range []struct {
		who  *browser
		path string
	}{
		{anon, "/healthz"}, {anon, "/readyz"}, {anon, "/"}, {anon, "/help"}, {anon, "/static/portal.css"},
		{anon, "/visits/" + v.ID}, {anon, "/api/v1/me"},
		{lead, "/visits"}, {lead, "/visits/" + v.ID}, {lead, "/api/v1/me"}, {lead, "/api/v1/visits/" + v.ID + "/files"},
	} {
		get, _ := send(tc.who, "GET", tc.path)
		head, body := send(tc.who, "HEAD", tc.path)
		if head.StatusCode != get.StatusCode || len(body) != 0 {
			t.Errorf("HEAD %s: %d with %d bytes; GET answers %d", tc.path, head.StatusCode, len(body), get.StatusCode)
			continue
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "Content-Security-Policy", "X-Content-Type-Options", "Location"} {
			if head.Header.Get(h) != get.Header.Get(h) {
				t.Errorf("HEAD %s: %s %q, GET %q", tc.path, h, head.Header.Get(h), get.Header.Get(h))
			}
		}
	}
	up := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	f := decode[fileResp](t, up.upload(v.ID, "Head count.xlsx", strings.NewReader("evidence"), 8), http.StatusCreated)
	for _, path := range []string{"/api/v1/visits/" + v.ID + "/files/" + f.ID + "/content", "/api/v1/visits/" + v.ID + "/archive?file=" + f.ID,
		"/visits/" + v.ID + "/download?file=" + f.ID} {
		if resp, _ := send(lead, "HEAD", path); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
			t.Errorf("HEAD %s: %d, Allow %q; want 405, GET", path, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	if n := auditCount(t, ts, v.ID, "file.download", f.ID); n != 0 {
		t.Errorf("HEAD recorded %d downloads", n)
	}
	for _, path := range []string{"/auth/ofsted/login", "/auth/ofsted/callback"} {
		if resp, _ := send(anon, "HEAD", path); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("HEAD %s: %d, want 405", path, resp.StatusCode)
		}
	}
}
