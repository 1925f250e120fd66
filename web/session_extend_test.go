package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStaySignedIn: pages of a signed-in person carry the idle timeout for
// the warning before it ends; POST /session/extend ("Stay signed in")
// moves the idle deadline on, so a session that would have ended is still
// open; without it the session ends; a cross-site request cannot extend a
// session, and a signed-out one cannot either.
func TestStaySignedIn(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SESSION_IDLE_TIMEOUT": "4s"})
	b := ts.signIn(t, "ofsted", "lead@ofsted.example")
	if body := readAll(t, b.get("/visits")); !strings.Contains(body, `data-idle-timeout="4"`) {
		t.Fatal("the page does not carry the idle timeout")
	}
	if body := readAll(t, ts.newBrowser(t).get("/")); strings.Contains(body, "data-idle-timeout") {
		t.Fatal("the start page of a signed-out person carries an idle timeout")
	}
	extend := func(b *browser, site string) *http.Response {
		req, _ := http.NewRequest("POST", b.base+"/session/extend", nil)
		req.Header.Set("Sec-Fetch-Site", site)
		return b.do(req)
	}
	for range 3 {
		time.Sleep(2500 * time.Millisecond)
		resp := extend(b, "same-origin")
		var out struct {
			IdleTimeout int `json:"idle_timeout"`
		}
		if err := json.Unmarshal([]byte(readAll(t, resp)), &out); err != nil || resp.StatusCode != http.StatusOK || out.IdleTimeout != 4 {
			t.Fatalf("extend: %d %+v %v", resp.StatusCode, out, err)
		}
	}
	// 7.5 s after sign-in, past the 4 s idle timeout: still signed in.
	if s := b.status("GET", "/api/v1/me", nil); s != http.StatusOK {
		t.Fatalf("after staying signed in: %d", s)
	}
	if resp := extend(b, "cross-site"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a cross-site extension: %d", resp.StatusCode)
	}
	time.Sleep(4500 * time.Millisecond)
	if s := b.status("GET", "/api/v1/me", nil); s != http.StatusUnauthorized {
		t.Fatalf("idle past the timeout: %d", s)
	}
	if resp := extend(b, "same-origin"); resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("extending an ended session: %d", resp.StatusCode)
	}
}
