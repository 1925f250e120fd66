package web_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
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

// TestPagesKnowWhenTheSessionEnds: a page says how long the session has
// left as the server will judge it (the deadline it holds, which an
// unchanged session moves only now and then), so the page's warning
// and its own sign-out come strictly before the server ends the session,
// while the sign-out can still end the provider's session too. So does
// "Stay signed in".
func TestPagesKnowWhenTheSessionEnds(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SESSION_IDLE_TIMEOUT": "5s"})
	b := ts.signIn(t, "ofsted", "lead@ofsted.example")
	stored := func() time.Time {
		var expiry float64
		if err := ts.Portal.Store().DB().QueryRow(`SELECT expiry FROM sessions`).Scan(&expiry); err != nil {
			t.Fatal(err)
		}
		return time.Unix(0, int64(expiry*1e9))
	}
	check := func(what string, sent time.Time, left string) {
		t.Helper()
		ms, err := strconv.Atoi(left)
		if err != nil {
			t.Fatalf("%s does not say how long the session has left (%q): the page counts a whole idle timeout from when it loads, and the server ends the session %.1fs after the request",
				what, left, stored().Sub(sent).Seconds())
		}
		ends, held := sent.Add(time.Duration(ms)*time.Millisecond), stored()
		if !ends.Before(held) || ends.Before(held.Add(-time.Second)) {
			t.Errorf("%s: the page's deadline is %s from the server's", what, ends.Sub(held))
		}
	}
	// A page 1.5s after sign-in: the server does not write the deadline
	// the request moved (less than a minute), so it still holds the one
	// sign-in wrote.
	time.Sleep(1500 * time.Millisecond)
	sent := time.Now()
	page := readAll(t, b.get("/visits"))
	m := regexp.MustCompile(`data-session-left="([^"]*)"`).FindStringSubmatch(page)
	m = append(m, "", "")
	check("a page", sent, m[1])

	time.Sleep(1500 * time.Millisecond)
	req, _ := http.NewRequest("POST", b.base+"/session/extend", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	sent = time.Now()
	var out struct {
		Left *int `json:"session_left_ms"`
	}
	if err := json.Unmarshal([]byte(readAll(t, b.do(req))), &out); err != nil {
		t.Fatal(err)
	}
	left := ""
	if out.Left != nil {
		left = strconv.Itoa(*out.Left)
	}
	check("Stay signed in", sent, left)
}

// TestStaySignedInAfterTheSessionEnded: "Stay signed in" for a session
// that has ended (signed out in another tab, timed out while the computer
// slept) is answered as the page's script reads it, in JSON: 401 with the
// not_signed_in code, not the HTML page a form gets; so is a refusal from
// another site.
func TestStaySignedInAfterTheSessionEnded(t *testing.T) {
	ts := startStack(t)
	b := ts.signIn(t, "ofsted", "lead@ofsted.example")
	readAll(t, b.signOut())
	for _, c := range []struct {
		site string
		want int
		code string
	}{{"same-origin", http.StatusUnauthorized, "not_signed_in"}, {"cross-site", http.StatusForbidden, ""}} {
		req, _ := http.NewRequest("POST", b.base+"/session/extend", nil)
		req.Header.Set("Sec-Fetch-Site", c.site)
		req.Header.Set("Accept", "application/json")
		resp := b.do(req)
		body := readAll(t, resp)
		var out apiError
		if resp.StatusCode != c.want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || json.Unmarshal([]byte(body), &out) != nil || out.Error == "" || c.code != "" && out.Code != c.code {
			t.Errorf("extending a session that has ended (%s): %d %s %s; want %d in JSON", c.site, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.want)
		}
	}
}

// TestBrowserStaySignedInAfterTheSessionEnded runs web/tests/ended.mjs in
// Chromium: "Stay signed in" on a page whose session ended in another tab
// takes the person to the start page, which says so, and signing in again
// leads back to the page. Before, the 401 was an HTML page the script
// could not read, and the page reloaded to the start page saying nothing.
func TestBrowserStaySignedInAfterTheSessionEnded(t *testing.T) {
	onceAcrossDatabases(t)
	// The page signs itself out about nine tenths of the timeout after it
	// loads: the other tab's sign-out, and the click on "Stay signed in"
	// once the warning shows, must come before that on a busy machine.
	ts := startStackWith(t, map[string]string{"PORTAL_SESSION_IDLE_TIMEOUT": "20s"})
	out, err := runBrowserScript(t, ts, "ended.mjs", "browser-ended", 2*time.Minute, "VISIT_ID="+ts.demoVisit(t).ID)
	t.Logf("output:\n%s", out)
	if err != nil {
		t.Fatalf("browser test of staying signed in after the session ended failed: %v", err)
	}
}

// TestBrowserSignOutForgetsUnfinishedUploads runs web/tests/signout.mjs in
// Chromium: the unfinished uploads tus-js-client keeps in localStorage
// (with the files' names) are forgotten when the person signs out, and
// when the page signs them out at the idle timeout. Before, they stayed
// until the upload page was next opened.
func TestBrowserSignOutForgetsUnfinishedUploads(t *testing.T) {
	onceAcrossDatabases(t)
	ts := startStackWith(t, map[string]string{"PORTAL_SESSION_IDLE_TIMEOUT": "12s"})
	out, err := runBrowserScript(t, ts, "signout.mjs", "browser-signout", 2*time.Minute, "VISIT_ID="+ts.demoVisit(t).ID)
	t.Logf("output:\n%s", out)
	if err != nil {
		t.Fatalf("browser test of sign-out forgetting unfinished uploads failed: %v", err)
	}
}

// TestBrowserSignOutAfterSleep runs web/tests/suspend.mjs in Chromium: a
// page whose computer slept past the session's end signs out within
// seconds of waking, by the wall clock. Before, its timers (which sleep
// stops) fired as late as the computer had slept.
func TestBrowserSignOutAfterSleep(t *testing.T) {
	onceAcrossDatabases(t)
	ts := startStackWith(t, map[string]string{"PORTAL_SESSION_IDLE_TIMEOUT": "30m"})
	out, err := runBrowserScript(t, ts, "suspend.mjs", "browser-suspend", 2*time.Minute)
	t.Logf("output:\n%s", out)
	if err != nil {
		t.Fatalf("browser test of the sign-out after sleep failed: %v", err)
	}
}
