package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// sessionCookie is the browser's session cookie for the portal.
func (b *browser) sessionCookie() *http.Cookie {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if strings.HasSuffix(c.Name, "portal_session") {
			return c
		}
	}
	return nil
}

func (b *browser) signOut() *http.Response {
	req, _ := http.NewRequest(http.MethodPost, b.base+"/auth/logout", nil)
	return b.do(req)
}

// TestSignOutIsFinal: a request that started before sign-out (an upload
// still running) cannot sign the person in again when it ends, on the API
// and on the pages.
func TestSignOutIsFinal(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	for _, route := range []string{"api", "form"} {
		t.Run(route, func(t *testing.T) {
			b := ts.signIn(t, "cafcass", "uploader@cafcass.example")
			pr, pw := io.Pipe()
			var req *http.Request
			const size = 1 << 20
			if route == "api" {
				req, _ = http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/visits/%s/files?name=late-%s.pdf", b.base, v.ID, route), pr)
				req.ContentLength = size
				req.Header.Set("Content-Type", "application/octet-stream")
			} else {
				req, _ = http.NewRequest(http.MethodPost, fmt.Sprintf("%s/visits/%s/files", b.base, v.ID), pr)
				req.Header.Set("Origin", b.base)
			}
			mw := multipart.NewWriter(pw)
			if route == "form" {
				req.Header.Set("Content-Type", mw.FormDataContentType())
			}
			done := make(chan *http.Response, 1)
			go func() {
				resp, err := http.DefaultTransport.RoundTrip(withCookies(b, req))
				if err != nil {
					t.Error(err)
				}
				done <- resp
			}()
			// Half the body, then sign out while the upload waits.
			var body io.Writer = pw
			if route == "form" {
				body, _ = mw.CreateFormFile("file", "late-form.pdf")
			}
			body.Write(bytes.Repeat([]byte("x"), size/2))
			time.Sleep(200 * time.Millisecond)
			if resp := b.signOut(); resp.Request.URL.Path != "/" {
				t.Fatalf("sign-out ended at %s", resp.Request.URL)
			}
			if r := b.get("/api/v1/me"); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("just after sign-out /me answered %d", r.StatusCode)
			}
			body.Write(bytes.Repeat([]byte("x"), size/2))
			if route == "form" {
				mw.Close()
			}
			pw.Close()
			resp := <-done
			if resp == nil {
				return
			}
			resp.Body.Close()
			u, _ := url.Parse(b.base)
			b.c.Jar.SetCookies(u, resp.Cookies())
			for _, c := range resp.Cookies() {
				if strings.HasSuffix(c.Name, "portal_session") && c.MaxAge >= 0 {
					t.Errorf("the late response sets the session cookie again: %v", c)
				}
			}
			if r := b.get("/api/v1/me"); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("after the late %s upload ended, /me answered %d: the session was re-created", route, r.StatusCode)
			}
			var n int
			ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM sessions`).Scan(&n)
			if n != 0 {
				t.Fatalf("%d sessions in the database after sign-out", n)
			}
		})
	}
}

// withCookies adds the jar's cookies to a request sent below the client.
func withCookies(b *browser, req *http.Request) *http.Request {
	for _, c := range b.c.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	return req
}

// TestSessionSaveFailureKeepsResponse: when the session cannot be saved,
// the response is still the page or the JSON, whole, never an "Internal
// Server Error" glued to it.
func TestSessionSaveFailureKeepsResponse(t *testing.T) {
	ts := startStack(t)
	b := ts.signIn(t, "ofsted", "lead@ofsted.example")
	// The stored idle deadline is two minutes behind, so the next request
	// saves the session (its idle deadline moves by more than a minute).
	db := ts.Portal.Store().DB()
	if _, err := db.Exec(`UPDATE sessions SET expiry = expiry - 120`); err != nil {
		t.Fatal(err)
	}
	freeze := []string{`CREATE TRIGGER sessions_frozen BEFORE UPDATE ON sessions BEGIN SELECT RAISE(ABORT, 'sessions frozen by the test'); END`}
	if db.Postgres() {
		freeze = []string{
			`CREATE FUNCTION sessions_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'sessions frozen by the test'; END $$`,
			`CREATE TRIGGER sessions_frozen BEFORE UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION sessions_frozen()`,
		}
	}
	for _, q := range freeze {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	page := b.get("/visits")
	body := readAll(t, page)
	if page.StatusCode != http.StatusOK || strings.Contains(body, "Internal Server Error") || !strings.HasSuffix(strings.TrimSpace(body), "</html>") {
		t.Fatalf("page with an unsaveable session: %d\n%s", page.StatusCode, body)
	}
	me := decode[meResp](t, b.get("/api/v1/me"), http.StatusOK)
	if me.Email != "lead@ofsted.example" {
		t.Fatalf("me: %+v", me)
	}
	if !strings.Contains(ts.log.String(), "sessions frozen by the test") {
		t.Fatal("the failed save was not logged")
	}
}

// TestSessionsAtRest: the database holds a hash of the session token, never
// the token, and the ID token kept for sign-out only sealed.
func TestSessionsAtRest(t *testing.T) {
	ts := startStack(t)
	b := ts.signIn(t, "ofsted", "lead@ofsted.example")
	c := b.sessionCookie()
	if c == nil {
		t.Fatal("no session cookie")
	}
	db := ts.Portal.Store().DB()
	var n int
	db.QueryRow(`SELECT COUNT(*) FROM sessions WHERE token = ?`, c.Value).Scan(&n)
	if n != 0 {
		t.Fatal("the session token is stored as it is")
	}
	sum := sha256.Sum256([]byte(c.Value))
	var data []byte
	if err := db.QueryRow(`SELECT data FROM sessions WHERE token = ?`, base64.RawURLEncoding.EncodeToString(sum[:])).Scan(&data); err != nil {
		t.Fatalf("no session stored under the token's hash: %v", err)
	}
	// A JWT's header starts with eyJ ({"...) in base64url.
	if bytes.Contains(data, []byte("eyJ")) {
		t.Fatal("the session data holds a token in the clear")
	}
	// Sign-out still gives the provider the ID token as id_token_hint.
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp := b.signOut()
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || !strings.HasPrefix(loc.Query().Get("id_token_hint"), "eyJ") || loc.Query().Get("post_logout_redirect_uri") != ts.PortalURL+"/" {
		t.Fatalf("sign-out went to %q", resp.Header.Get("Location"))
	}
}

// tableRows counts the rows of every table.
func tableRows(t *testing.T, ts *testStack) map[string]int {
	t.Helper()
	db := ts.Portal.Store().DB()
	names, err := db.Tables()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, name := range names {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM "` + name + `"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	return out
}

// settledRows counts the rows of every table once the portal's background
// work has done what it does at start, on its own schedule (the first
// audit checkpoint, with how far access ended is noted outside the
// database, the first retention sweep and its lease), so that a
// count before and after some requests compares the requests alone. On a
// loaded machine that work may still be running when the stack is up.
func settledRows(t *testing.T, ts *testStack) map[string]int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rows := tableRows(t, ts)
		if rows["audit_checkpoints"] > 0 && rows["noted_outside"] > 0 && rows["leases"] == 0 || time.Now().After(deadline) {
			return rows
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAnonymousSignInStartsCostNothing: starting a sign-in writes nothing
// to the database; what it needs rides in a short-lived cookie.
func TestAnonymousSignInStartsCostNothing(t *testing.T) {
	ts := startStack(t)
	before := settledRows(t, ts)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := range 1000 {
		idp := []string{"ofsted", "cafcass"}[i%2]
		resp, err := noFollow.Get(ts.PortalURL + "/auth/" + idp + "/login?return_to=/visits")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), ts.IdPURL) {
			t.Fatalf("start %d: %d %s", i, resp.StatusCode, resp.Header.Get("Location"))
		}
		if i == 0 {
			var found bool
			for _, c := range resp.Cookies() {
				found = found || c.Name == "portal_signin" && c.HttpOnly && c.MaxAge > 0 && c.MaxAge <= 600 && c.SameSite == http.SameSiteLaxMode
				if strings.HasSuffix(c.Name, "portal_session") {
					t.Fatalf("a sign-in start set a session cookie: %v", c)
				}
			}
			if !found {
				t.Fatalf("no short-lived sign-in cookie: %v", resp.Header.Values("Set-Cookie"))
			}
		}
	}
	after := tableRows(t, ts)
	for k, n := range after {
		if before[k] != n {
			t.Errorf("table %s: %d rows before, %d after 1,000 sign-in starts", k, before[k], n)
		}
	}
	// And a sign-in still works.
	ts.signIn(t, "ofsted", "lead@ofsted.example")
}

// TestSignInRateLimits: sign-in starts and failed sign-ins are limited per
// client address, with a page that says what happened and when to retry.
func TestSignInRateLimits(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SIGNIN_RATE": "5/1m", "PORTAL_SIGNIN_FAILURE_RATE": "3/10m"})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		resp, err := noFollow.Get(ts.PortalURL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	expect429 := func(resp *http.Response, body string) {
		t.Helper()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many sign-in attempts") {
			t.Fatalf("want a 429 page with Retry-After, got %d %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	for i := range 5 {
		if resp, _ := get("/auth/ofsted/login"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("start %d: %d", i, resp.StatusCode)
		}
	}
	expect429(get("/auth/ofsted/login"))

	// Failures (sign-ins this browser started, that then failed): a limit
	// of their own, which then also stops new starts.
	ts2 := startStackWith(t, map[string]string{"PORTAL_SIGNIN_RATE": "100/1m", "PORTAL_SIGNIN_FAILURE_RATE": "3/10m"})
	// Four sign-ins started in four browsers behind one address.
	type started struct {
		c     *http.Client
		state string
	}
	var attempts []started
	for range 4 {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: noFollow.CheckRedirect}
		resp, err := c.Get(ts2.PortalURL + "/auth/ofsted/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		attempts = append(attempts, started{c, loc.Query().Get("state")})
	}
	failedSignIn := func(a started) (*http.Response, string) {
		resp, err := a.c.Get(ts2.PortalURL + "/auth/ofsted/callback?state=" + url.QueryEscape(a.state) + "&code=x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	for i := range 3 {
		if resp, _ := failedSignIn(attempts[i]); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, resp.StatusCode)
		}
	}
	expect429(failedSignIn(attempts[3]))
	resp, err := noFollow.Get(ts2.PortalURL + "/auth/cafcass/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	expect429(resp, string(b))
}

// TestSignOutEndsSessionWhenAuditFails: a person who signs out is signed
// out even when the record of it cannot be written; the failure is logged.
func TestSignOutEndsSessionWhenAuditFails(t *testing.T) {
	ts := startStack(t)
	b := ts.signIn(t, "ofsted", "lead@ofsted.example")
	refuseRecords(t, ts, "signout", "sign-out records refused by the test")
	resp := b.signOut()
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Errorf("sign-out without its record ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	if r := b.get("/api/v1/me"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after signing out without its record /me answered %d: the session was not ended", r.StatusCode)
	}
	if !strings.Contains(ts.log.String(), "sign-out records refused by the test") {
		t.Fatal("the failed sign-out record was not logged")
	}
}

// TestCallbackWithoutSignIn: a callback that ends no sign-in this browser
// started (another site's link or image, a stale or replayed link) is
// nobody's failed sign-in: it does not count against the address's limit
// (which would lock out everyone behind it), does not end the session the
// browser has, and writes nothing to the trail.
func TestCallbackWithoutSignIn(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SIGNIN_FAILURE_RATE": "3/15m"})
	ctx := context.Background()
	start, _, _ := ts.Portal.Store().AuditHead(ctx)
	// A colleague behind the same address is signing in.
	colleague := ts.newBrowser(t)
	resp := colleague.get("/auth/ofsted/login")
	page := readAll(t, resp)
	loginURL := resp.Request.URL
	signedIn := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	noFollow := &http.Client{Jar: signedIn.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := range 10 {
		for _, c := range []*http.Client{http.DefaultClient, noFollow} {
			req, _ := http.NewRequest(http.MethodGet, ts.PortalURL+"/auth/ofsted/callback?state=forged&code=x", nil)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("callback %d from another site: %d", i, resp.StatusCode)
			}
		}
	}
	resp = colleague.submitLogin(loginURL, page, "lead@ofsted.example", "demo-password")
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits" {
		t.Errorf("after callbacks from another site, a sign-in from the same address ended at %s with %d: %.200s", resp.Request.URL.Path, resp.StatusCode, body)
	}
	if r := signedIn.get("/api/v1/me"); r.StatusCode != http.StatusOK {
		t.Errorf("a callback from another site ended the session: /me answered %d", r.StatusCode)
	}
	recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Action: "signin"})
	if err != nil {
		t.Fatal(err)
	}
	var failures int
	for _, r := range recs {
		if r.Outcome == "failure" {
			failures++
		}
	}
	if failures != 0 {
		t.Errorf("callbacks from another site wrote %d sign-in failures to the trail", failures)
	}
}

// TestSignOutAfterTheSessionEnded: a sign-out that arrives just after the
// idle timeout ended the session (the page's own sign-out, a little late)
// still ends the provider's session, and is recorded, while the ended
// session is held.
func TestSignOutAfterTheSessionEnded(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SESSION_IDLE_TIMEOUT": "2s"})
	ctx := context.Background()
	start, _, _ := ts.Portal.Store().AuditHead(ctx)
	b := ts.signIn(t, "ofsted", "lead@ofsted.example")
	time.Sleep(2500 * time.Millisecond)
	if r := b.get("/api/v1/me"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after the idle timeout /me answered %d", r.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+"/auth/logout", nil)
	req.Header.Set("Origin", b.base)
	c := &http.Client{Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc.String(), ts.IdPURL+"/ofsted/") || loc.Query().Get("id_token_hint") == "" {
		t.Errorf("a sign-out just after the session ended went to %q, not to the provider's end-session", loc)
	}
	recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range recs {
		if r.Action == "signout" || r.Action == "session.expired" {
			actions = append(actions, r.Action+" "+r.ActorEmail)
		}
	}
	if strings.Join(actions, ",") != "signout lead@ofsted.example" {
		t.Errorf("records of the sign-out: %q, want one signout", actions)
	}
	if n := tableRows(t, ts)["sessions"]; n != 0 {
		t.Errorf("%d sessions held after the sign-out", n)
	}
	// Once the session has gone, a sign-out has nothing to end.
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Location") != "/" {
		t.Errorf("a second sign-out went to %q", resp.Header.Get("Location"))
	}
}

// TestSignOutAfterTheSessionEndedWithThePersonUnread: the same sign-out
// when the person cannot be read for its record (the database failing)
// still sends the browser to end the provider's session; the ended
// session is left for the janitor, which records its expiry.
func TestSignOutAfterTheSessionEndedWithThePersonUnread(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SESSION_IDLE_TIMEOUT": "2s"})
	if ts.Portal.Store().Postgres() {
		t.Skip("the serving role may not rename the table")
	}
	b := ts.signIn(t, "ofsted", "lead@ofsted.example")
	time.Sleep(2500 * time.Millisecond)
	db := ts.Portal.Store().DB()
	if _, err := db.Exec(`ALTER TABLE users RENAME TO users_away`); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+"/auth/logout", nil)
	req.Header.Set("Origin", b.base)
	c := &http.Client{Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if _, rerr := db.Exec(`ALTER TABLE users_away RENAME TO users`); rerr != nil {
		t.Fatal(rerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc.String(), ts.IdPURL+"/ofsted/") {
		t.Errorf("a sign-out just after the session ended, its person unread, went to %q, not to the provider's end-session", loc)
	}
	if n := tableRows(t, ts)["sessions"]; n != 1 {
		t.Errorf("%d sessions held after the sign-out, want the ended one left for the janitor", n)
	}
}

// refuseRecords makes the trail refuse records of action from now on,
// with message as the database's error.
func refuseRecords(t *testing.T, ts *testStack, action, message string) {
	t.Helper()
	db := ts.Portal.Store().DB()
	refuse := []string{`CREATE TRIGGER refused BEFORE INSERT ON audit WHEN NEW.action = '` + action + `' BEGIN SELECT RAISE(ABORT, '` + message + `'); END`}
	if db.Postgres() {
		refuse = []string{
			`CREATE FUNCTION refused() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '` + message + `'; END $$`,
			`CREATE TRIGGER refused BEFORE INSERT ON audit FOR EACH ROW WHEN (NEW.action = '` + action + `') EXECUTE FUNCTION refused()`,
		}
	}
	for _, q := range refuse {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSignOutCutsAnUpload: an upload still running when its person signs
// out (on a shared computer, say) is not stored: the session it was sent
// under has ended, as for a back-channel logout by the identity provider
// (TestBackChannelLogoutBySessionCutsAnUpload). The same upload, its
// session held, is stored.
func TestSignOutCutsAnUpload(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	v := ts.demoVisit(t)
	for _, signOut := range []bool{false, true} {
		b := ts.signIn(t, "cafcass", "uploader@cafcass.example")
		before, err := ts.Portal.Store().Files(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		pw, data, done := uploadBegun(t, ts, b, v.ID, fmt.Sprintf("1.01 Left behind %v.pdf", signOut), 4<<20)
		if signOut {
			if resp := b.signOut(); resp.Request.URL.Path != "/" {
				t.Fatalf("sign-out ended at %s", resp.Request.URL)
			}
		}
		time.Sleep(3 * time.Second) // the decision the upload began with is old now
		if _, err := pw.Write(data[1<<20:]); err == nil {
			pw.Close()
		}
		code := <-done
		after, err := ts.Portal.Store().Files(ctx, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case signOut && (code == http.StatusCreated || len(after) != len(before)):
			t.Errorf("an upload sent on after its person signed out: %d, and the visit holds %d files, want %d", code, len(after), len(before))
		case !signOut && (code != http.StatusCreated || len(after) != len(before)+1):
			t.Errorf("an upload whose session is held: %d, and the visit holds %d files, want %d", code, len(after), len(before)+1)
		}
	}
}

// TestTransferOutlastsTheIdleTimeout: an upload that keeps going for
// longer than the idle timeout (a large file on a slow line) is stored,
// and its person is still signed in after it: a transfer under way is the
// person's activity, and moves the session's idle deadline on at each
// re-check, as any request would.
func TestTransferOutlastsTheIdleTimeout(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SESSION_IDLE_TIMEOUT": "6s", "PORTAL_SEGMENT_SIZE": "1MiB"})
	v := ts.demoVisit(t)
	b := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	const size = 10 << 20
	pw, data, done := uploadBegun(t, ts, b, v.ID, "1.01 Slow line.pdf", size)
	// A megabyte (a segment) every 1.2 s: 11 s in all, past the idle timeout.
	for off := 1 << 20; off < size; off += 1 << 20 {
		time.Sleep(1200 * time.Millisecond)
		if _, err := pw.Write(data[off : off+1<<20]); err != nil {
			t.Fatalf("the upload was cut after %d bytes: %v", off, err)
		}
	}
	pw.Close()
	if code := <-done; code != http.StatusCreated {
		t.Errorf("an upload that went on past the idle timeout answered %d, want 201", code)
	}
	if r := b.get("/api/v1/me"); r.StatusCode != http.StatusOK {
		t.Errorf("after the upload, /me answered %d: its session was not held", r.StatusCode)
	}
}

// uploadBegun sends b's upload of size bytes (data) as name to the visit
// through the API, its first megabyte at once, and returns once the
// portal has begun it (upload.started): the rest is for the caller to
// write to pw, and done gives the answer's status (0 for none).
func uploadBegun(t *testing.T, ts *testStack, b *browser, visitID, name string, size int64) (pw *io.PipeWriter, data []byte, done chan int) {
	t.Helper()
	ctx := context.Background()
	began, _, _ := ts.Portal.Store().AuditHead(ctx)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/visits/%s/files?%s", b.base, visitID, url.Values{"name": {name}}.Encode()), pr)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	done = make(chan int, 1)
	go func() {
		resp, err := http.DefaultTransport.RoundTrip(withCookies(b, req))
		if err != nil {
			done <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	data = evidenceBytes(7, size)
	if _, err := pw.Write(data[:1<<20]); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: began, Action: "upload.started"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the upload never began at the portal")
		}
	}
	return pw, data, done
}
