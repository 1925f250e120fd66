package web_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestDownloadsOnlyFromThePortal: a download records a file.download in the
// downloader's name, and the first by the inspection team turns the
// uploader's delete into a withdrawal. A GET passes CrossOriginProtection,
// and the session cookie (SameSite=Lax) goes with a top-level navigation
// from any site and with an <img> on a sibling subdomain: neither may
// download in someone's name. The portal's own links (same-origin), a
// typed or bookmarked address (none) and clients without fetch metadata
// (curl, scripts) still download.
func TestDownloadsOnlyFromThePortal(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	up := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	lead.c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		// A browser sends the chain's fetch metadata on each hop.
		req.Header = via[0].Header.Clone()
		return nil
	}
	f := decode[fileResp](t, up.upload(v.ID, "Safeguarding log.xlsx", strings.NewReader("evidence"), 8), http.StatusCreated)
	content := "/api/v1/visits/" + v.ID + "/files/" + f.ID + "/content"
	paths := []string{content, content + "?disposition=inline", "/api/v1/visits/" + v.ID + "/archive?file=" + f.ID,
		"/visits/" + v.ID + "/download?" + url.Values{"file": {f.ID}}.Encode()}
	get := func(path string, h map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", lead.base+path, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp := lead.do(req)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, path := range paths {
		for name, h := range map[string]map[string]string{
			"image on a sibling subdomain": {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
			"navigation from another site": {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-User": "?1"},
		} {
			if status, body := get(path, h); status != http.StatusForbidden || !strings.Contains(body, "another site") {
				t.Errorf("%s: GET %s answered %d, want 403: %.80q", name, path, status, body)
			}
		}
	}
	// Signing in again on the way to a download ends here too (the
	// provider's redirect is another site's): the page leads back.
	if _, body := get(paths[3], map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}); !strings.Contains(body, `href="/visits/`+v.ID+`"`) {
		t.Errorf("the refusal of a download does not lead back to the visit: %.300q", body)
	}
	if n := auditCount(t, ts, v.ID, "file.download", f.ID); n != 0 {
		t.Fatalf("%d downloads recorded from other sites", n)
	}
	// Nothing was downloaded: the uploader still deletes it outright.
	g := decode[fileResp](t, up.upload(v.ID, "Second log.xlsx", strings.NewReader("evidence"), 8), http.StatusCreated)
	for name, h := range map[string]map[string]string{
		"the portal's own link": {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
		"a typed address":       {"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
		"curl":                  nil,
	} {
		if status, _ := get("/api/v1/visits/"+v.ID+"/files/"+g.ID+"/content", h); status != http.StatusOK {
			t.Errorf("%s: download answered %d, want 200", name, status)
		}
	}
	resp := up.sendJSON("DELETE", content[:strings.LastIndex(content, "/")], nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("the uploader's delete answered %d (%s), want 204: a download from another site counted as the team's", resp.StatusCode, readAll(t, resp))
	}
	resp.Body.Close()
}

// TestSignInStartsOnlyByNavigation: the sign-in limit is per client
// address, which everyone behind an office's NAT shares. Images or frames
// on another site's page, loaded by one browser there, must not spend it
// and lock the office out of signing in: a sign-in starts only when a
// browser goes to it as a page (a link, a redirect), from anywhere.
func TestSignInStartsOnlyByNavigation(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SIGNIN_RATE": "3/1h"})
	attacked := ts.newBrowser(t)
	attacked.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	start := func(h map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", attacked.base+"/auth/ofsted/login", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp := attacked.do(req)
		resp.Body.Close()
		return resp.StatusCode
	}
	embedded := map[string]int{}
	for i := 0; i < 10; i++ {
		for name, h := range map[string]map[string]string{
			"image":        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
			"hidden frame": {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"},
			"script":       {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"},
		} {
			if status := start(h); status != http.StatusForbidden {
				embedded[fmt.Sprintf("%s %d", name, status)]++
			}
		}
	}
	if len(embedded) > 0 {
		t.Errorf("another site's page started sign-ins (want 403 for each): %v", embedded)
	}
	for name, h := range map[string]map[string]string{
		"the start page's button": {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
		"a link on the intranet":  {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
		"curl":                    nil,
	} {
		if status := start(h); status != http.StatusSeeOther {
			t.Errorf("%s: sign-in start answered %d, want 303 to the provider", name, status)
		}
	}
}

// TestEveryUnsafeRouteRefusesOtherSites walks the route table: every
// route but GET, HEAD and OPTIONS, public or not, refuses a request another
// site's page makes (a form, a fetch) before anything else happens, and
// so does an Origin of null (a sandboxed frame, a data: URL) when the
// browser sends no Sec-Fetch-Site. A new route appears here by itself.
func TestEveryUnsafeRouteRefusesOtherSites(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	lead.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	fill := strings.NewReplacer(":id", v.ID, ":file", "00000000000000000000000000000000", ":member", "00000000000000000000000000000000",
		":upload", "00000000000000000000000000000000", ":item", "1.01", ":question", "00000000000000000000000000000000",
		":receipt", "00000000000000000000000000000000", ":idp", "ofsted")
	unsafe := 0
	for route := range ts.Web.Routes() {
		method, path, _ := strings.Cut(route, " ")
		if method == "GET" || method == "HEAD" || method == "OPTIONS" {
			continue
		}
		unsafe++
		for name, h := range map[string]map[string]string{
			"another site":   {"Sec-Fetch-Site": "cross-site", "Origin": "https://elsewhere.example"},
			"a sibling site": {"Sec-Fetch-Site": "same-site", "Origin": "http://other.localhost"},
			"null origin":    {"Origin": "null"},
		} {
			req, _ := http.NewRequest(method, lead.base+fill.Replace(path), strings.NewReader("item=1.01"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp := lead.do(req)
			body := readAll(t, resp)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "came from another site") {
				t.Errorf("%s: %s answered %d: %.120s", name, route, resp.StatusCode, body)
			}
		}
	}
	if unsafe < 30 {
		t.Fatalf("only %d unsafe routes", unsafe)
	}
}

// TestAuditExportOnlyFromThePortal: an export of the trail is recorded in
// the reader's name (audit.exported) and reads the visit's whole trail:
// like a download, it is taken only from the portal's own pages, a typed
// address or a client without fetch metadata, never from another site's
// link or a sibling subdomain's <img>. A HEAD of the export answers its
// headers and exports nothing.
func TestAuditExportOnlyFromThePortal(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	export := "/api/v1/visits/" + v.ID + "/audit?format=csv"
	exports := func() int {
		t.Helper()
		var n int
		if err := ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM audit WHERE visit_id = ? AND action = 'audit.exported'`, v.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	send := func(method string, h map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, lead.base+export, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp := lead.do(req)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for name, h := range map[string]map[string]string{
		"image on a sibling subdomain": {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"},
		"navigation from another site": {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Sec-Fetch-User": "?1"},
	} {
		if status, body := send("GET", h); status != http.StatusForbidden || !strings.Contains(body, "another site") {
			t.Errorf("%s: GET %s answered %d, want 403: %.80q", name, export, status, body)
		}
	}
	if n := exports(); n != 0 {
		t.Fatalf("%d exports recorded from other sites", n)
	}
	if status, _ := send("HEAD", nil); status != http.StatusOK {
		t.Errorf("HEAD of the export answered %d", status)
	}
	if n := exports(); n != 0 {
		t.Fatalf("a HEAD of the export recorded %d exports", n)
	}
	for name, h := range map[string]map[string]string{
		"the portal's own link": {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
		"curl":                  nil,
	} {
		if status, body := send("GET", h); status != http.StatusOK || !strings.HasPrefix(body, "seq,") {
			t.Errorf("%s: export answered %d: %.80q", name, status, body)
		}
	}
	if n := exports(); n != 2 {
		t.Errorf("%d exports recorded, want the 2 from the portal's link and curl", n)
	}
}
