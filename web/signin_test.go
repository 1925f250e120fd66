package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

type meResp struct {
	ID            string `json:"id"`
	Issuer        string `json:"issuer"`
	Subject       string `json:"subject"`
	Email         string `json:"email"`
	Administrator bool   `json:"administrator"`
	Visits        []struct {
		Reference string `json:"reference"`
		Role      string `json:"role"`
	} `json:"visits"`
}

func TestSignInEachDemoAccount(t *testing.T) {
	ts := startStack(t)
	for _, tc := range []struct {
		idp, user, role string
		admin           bool
	}{
		{"ofsted", "admin@ofsted.example", "", true},
		{"ofsted", "lead@ofsted.example", "lead_inspector", false},
		{"ofsted", "hmi@ofsted.example", "inspector", false},
		{"ofsted", "qam@ofsted.example", "qa_manager", false},
		{"ofsted", "sao@ofsted.example", "analyst", false},
		{"ofsted", "outsider@ofsted.example", "", false},
		{"cafcass", "coordinator@cafcass.example", "provider_coordinator", false},
		{"cafcass", "uploader@cafcass.example", "provider_uploader", false},
	} {
		t.Run(tc.user, func(t *testing.T) {
			b := ts.signIn(t, tc.idp, tc.user)
			me := decode[meResp](t, b.get("/api/v1/me"), http.StatusOK)
			if me.Email != tc.user || me.Administrator != tc.admin || me.Issuer != ts.IdPURL+"/"+tc.idp {
				t.Fatalf("me = %+v", me)
			}
			if me.Subject == "" || me.Subject == tc.user {
				t.Fatalf("users must be keyed by an opaque subject, got %q", me.Subject)
			}
			var roles []string
			for _, v := range me.Visits {
				roles = append(roles, v.Reference+":"+v.Role)
			}
			want := ""
			if tc.role != "" {
				want = "FV-DEMO:" + tc.role
			}
			if strings.Join(roles, ",") != want {
				t.Fatalf("visits %v, want %q", roles, want)
			}
			// Sign out ends the session here and at the provider.
			resp := b.get("/")
			resp.Body.Close()
			req, _ := http.NewRequest("POST", b.base+"/auth/logout", nil)
			resp = b.do(req)
			resp.Body.Close()
			if resp.Request.URL.Path != "/" || !strings.HasPrefix(resp.Request.URL.String(), ts.PortalURL) {
				t.Fatalf("after sign-out ended at %s", resp.Request.URL)
			}
			if r := b.get("/api/v1/me"); r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("after sign-out /me answered %d", r.StatusCode)
			}
		})
	}
}

// TestSignInRefusals: each bad callback is refused with a page that says so,
// and leaves no session behind.
func TestSignInRefusals(t *testing.T) {
	ts := startStack(t)
	sessions := func() int {
		var n int
		if err := ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// startLogin goes as far as the provider's login form, returning the
	// browser (not following the final redirect back to the portal).
	var lastState string
	startLogin := func(t *testing.T, mutate func(*url.URL)) (*browser, *url.URL, string) {
		b := ts.newBrowser(t)
		b.c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), ts.PortalURL+"/auth/") && strings.Contains(req.URL.Path, "/callback") {
				return http.ErrUseLastResponse
			}
			if strings.HasPrefix(req.URL.String(), ts.IdPURL) && req.URL.Query().Get("nonce") != "" {
				lastState = req.URL.Query().Get("state")
				if mutate != nil {
					mutate(req.URL)
				}
			}
			return nil
		}
		resp := b.get("/auth/ofsted/login")
		page := readAll(t, resp)
		return b, resp.Request.URL, page
	}
	// finishAtIdP posts the credentials and returns the callback URL the
	// provider sends the browser to.
	finishAtIdP := func(t *testing.T, b *browser, pageURL *url.URL, page string) string {
		resp := b.submitLogin(pageURL, page, "lead@ofsted.example", "demo-password")
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if !strings.Contains(loc, "/callback?") {
			t.Fatalf("provider did not redirect to the callback: %d %q", resp.StatusCode, loc)
		}
		return loc
	}
	callback := func(t *testing.T, b *browser, u string) *http.Response {
		req, _ := http.NewRequest("GET", u, nil)
		return b.do(req)
	}
	expectRefused := func(t *testing.T, resp *http.Response) {
		t.Helper()
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "could not sign you in") {
			t.Fatalf("status %d, body %q", resp.StatusCode, body)
		}
	}

	t.Run("wrong state", func(t *testing.T) {
		before := sessions()
		b, pu, page := startLogin(t, nil)
		cb := finishAtIdP(t, b, pu, page)
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("state", "forged-state")
		u.RawQuery = q.Encode()
		expectRefused(t, callback(t, b, u.String()))
		if n := sessions(); n != before {
			t.Fatalf("sessions %d -> %d", before, n)
		}
	})

	t.Run("replayed code", func(t *testing.T) {
		b, pu, page := startLogin(t, nil)
		cb := finishAtIdP(t, b, pu, page)
		resp := callback(t, b, cb)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits" {
			t.Fatalf("first use of the code ended at %s with %d", resp.Request.URL, resp.StatusCode)
		}
		before := sessions()
		// The same callback again, from the signed-in browser and from a
		// fresh one: both refused. Neither ends a sign-in this browser
		// started, so the session the replay arrived with is left alone (a
		// link from another site must not sign anyone out).
		expectRefused(t, callback(t, b, cb))
		other := ts.newBrowser(t)
		other.c.CheckRedirect = b.c.CheckRedirect
		expectRefused(t, callback(t, other, cb))
		if n := sessions(); n != before {
			t.Fatalf("sessions %d -> %d: a refused replay must neither make nor end a session", before, n)
		}
		if r := b.get("/api/v1/me"); r.StatusCode != http.StatusOK {
			t.Fatalf("after a refused replay the signed-in browser's /me answered %d", r.StatusCode)
		}
		// A new sign-in's own state with the old code: the provider refuses
		// the code.
		b2, _, _ := startLogin(t, nil)
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("state", lastState)
		u.RawQuery = q.Encode()
		expectRefused(t, callback(t, b2, u.String()))
		if !strings.Contains(ts.log.String(), "code exchange refused") {
			t.Fatal("replayed code not refused by the provider")
		}
	})

	t.Run("a code from the other provider", func(t *testing.T) {
		// Mix-up: a code Cafcass's provider issued, brought back with the
		// state of a sign-in at Ofsted's, is Ofsted's to refuse.
		b := ts.newBrowser(t)
		b.c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), ts.PortalURL+"/auth/") && strings.Contains(req.URL.Path, "/callback") {
				return http.ErrUseLastResponse
			}
			return nil
		}
		resp := b.get("/auth/cafcass/login")
		page := readAll(t, resp)
		resp = b.submitLogin(resp.Request.URL, page, "uploader@cafcass.example", "demo-password")
		resp.Body.Close()
		cafcass, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || cafcass.Query().Get("code") == "" {
			t.Fatalf("no code from Cafcass's provider: %q", resp.Header.Get("Location"))
		}
		before := sessions()
		b2, _, _ := startLogin(t, nil)
		q := url.Values{"code": {cafcass.Query().Get("code")}, "state": {lastState}}
		expectRefused(t, callback(t, b2, ts.PortalURL+"/auth/ofsted/callback?"+q.Encode()))
		if n := sessions(); n != before {
			t.Fatalf("sessions %d -> %d", before, n)
		}
	})

	// RFC 9207: a provider may name itself in its authorization response
	// (iss). One that names another issuer is a response meant for
	// another sign-in (a mix-up), and refused before its code is used;
	// one that names the provider this sign-in went to is accepted.
	withIss := func(cb, iss string) string {
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set("iss", iss)
		u.RawQuery = q.Encode()
		return u.String()
	}
	t.Run("a response naming another issuer", func(t *testing.T) {
		before := sessions()
		b, pu, page := startLogin(t, nil)
		cb := finishAtIdP(t, b, pu, page)
		expectRefused(t, callback(t, b, withIss(cb, ts.IdPURL+"/cafcass")))
		if n := sessions(); n != before {
			t.Fatalf("sessions %d -> %d", before, n)
		}
		if !strings.Contains(ts.log.String(), "authorization response from another issuer") {
			t.Fatal("refusal not logged as a response from another issuer")
		}
	})
	t.Run("a response naming its own issuer", func(t *testing.T) {
		b, pu, page := startLogin(t, nil)
		cb := finishAtIdP(t, b, pu, page)
		resp := callback(t, b, withIss(cb, ts.IdPURL+"/ofsted"))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits" {
			t.Fatalf("a response naming the provider the sign-in went to ended at %s with %d", resp.Request.URL, resp.StatusCode)
		}
	})

	t.Run("wrong nonce", func(t *testing.T) {
		before := sessions()
		b, pu, page := startLogin(t, func(u *url.URL) {
			q := u.Query()
			q.Set("nonce", "attacker-nonce")
			u.RawQuery = q.Encode()
		})
		cb := finishAtIdP(t, b, pu, page)
		expectRefused(t, callback(t, b, cb))
		if n := sessions(); n != before {
			t.Fatalf("sessions %d -> %d", before, n)
		}
		if !strings.Contains(ts.log.String(), "nonce mismatch") {
			t.Fatal("refusal not logged as a nonce mismatch")
		}
	})

	t.Run("expired token", func(t *testing.T) {
		// The portal's clock is an hour ahead of the provider's tokens.
		ts.offset.Store(int64(time.Hour))
		defer ts.offset.Store(0)
		before := sessions()
		b, pu, page := startLogin(t, nil)
		cb := finishAtIdP(t, b, pu, page)
		expectRefused(t, callback(t, b, cb))
		if n := sessions(); n != before {
			t.Fatalf("sessions %d -> %d", before, n)
		}
		if !strings.Contains(ts.log.String(), "id_token expired") {
			t.Fatal("refusal not logged as an expired token")
		}
	})

	t.Run("session id changes at sign-in", func(t *testing.T) {
		// A session token planted in the browser before sign-in (session
		// fixation) is never the one the signed-in session gets.
		before := sessions()
		portalURL, _ := url.Parse(ts.PortalURL)
		b := ts.newBrowser(t)
		planted := &http.Cookie{Name: "portal_session", Value: "planted-by-an-attacker-0123456789abcdefghijk", Path: "/"}
		b.c.Jar.SetCookies(portalURL, []*http.Cookie{planted})
		b.c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), ts.PortalURL+"/auth/") && strings.Contains(req.URL.Path, "/callback") {
				return http.ErrUseLastResponse
			}
			return nil
		}
		resp := b.get("/auth/ofsted/login")
		page := readAll(t, resp)
		if n := sessions(); n != before {
			t.Fatalf("starting a sign-in made a session: %d -> %d", before, n)
		}
		cb := finishAtIdP(t, b, resp.Request.URL, page)
		resp = callback(t, b, cb)
		resp.Body.Close()
		var session *http.Cookie
		for _, c := range b.c.Jar.Cookies(portalURL) {
			if c.Name == "portal_session" {
				session = c
			}
		}
		if session == nil || session.Value == planted.Value {
			t.Fatalf("session cookie after sign-in %v: must be a new token", session)
		}
		if n := sessions(); n != before+1 {
			t.Fatalf("sessions %d -> %d after one sign-in", before, n)
		}
		var sc string
		for _, v := range resp.Header.Values("Set-Cookie") {
			if strings.HasPrefix(v, "portal_session=") {
				sc = v
			}
		}
		if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") {
			t.Fatalf("session cookie attributes: %v", resp.Header.Values("Set-Cookie"))
		}
	})
}

// TestSignInReturnTo: after sign-in the person goes back where they were
// going on the portal, and nowhere else, whatever return_to says.
func TestSignInReturnTo(t *testing.T) {
	ts := startStack(t)
	v := ts.demoVisit(t)
	for raw, want := range map[string]string{
		"/visits/" + v.ID:        "/visits/" + v.ID,
		"/\t/evil.example/":      "/visits",
		"/\\evil.example":        "/visits",
		"//evil.example/":        "/visits",
		"https://evil.example/x": "/visits",
	} {
		b := ts.newBrowser(t)
		b.c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if !strings.HasPrefix(req.URL.String(), ts.PortalURL) && !strings.HasPrefix(req.URL.String(), ts.IdPURL) {
				return http.ErrUseLastResponse
			}
			return nil
		}
		resp := b.get("/auth/ofsted/login?return_to=" + url.QueryEscape(raw))
		page := readAll(t, resp)
		resp, err := b.c.PostForm(loginAction(t, resp.Request.URL, page), loginFields(t, page, "lead@ofsted.example"))
		if err != nil {
			t.Fatalf("return_to %q: %v", raw, err)
		}
		resp.Body.Close()
		if resp.Request.URL.String() != ts.PortalURL+want || resp.StatusCode != http.StatusOK {
			t.Errorf("return_to %q: ended at %s (%d), want %s", raw, resp.Request.URL, resp.StatusCode, want)
		}
	}
}

// loginAction and loginFields fill in the identity provider's form.
func loginAction(t *testing.T, pageURL *url.URL, page string) string {
	action, _ := parseForm(t, page)
	u, err := pageURL.Parse(action)
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

func loginFields(t *testing.T, page, username string) url.Values {
	_, fields := parseForm(t, page)
	fields.Set("username", username)
	fields.Set("password", "demo-password")
	return fields
}

// TestProviderErrorInTheTrail: the error a provider sends back is recorded
// as its OAuth code when it is one, and otherwise only as a short,
// printable form: a callback cannot write what it likes, at any length,
// into the permanent trail or the log. The provider's description of the
// error is never recorded.
func TestProviderErrorInTheTrail(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	for _, tc := range []struct{ name, error, want string }{
		{"a code", "access_denied", "provider returned error access_denied"},
		{"long", strings.Repeat("A", 200_000), "provider returned an unknown error " + strings.Repeat("A", 40)},
		{"unprintable", "bad\nline\u202e", `provider returned an unknown error bad?line?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, _, _ := ts.Portal.Store().AuditHead(ctx)
			b := ts.newBrowser(t)
			c := &http.Client{Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := c.Get(ts.PortalURL + "/auth/ofsted/login")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, _ := url.Parse(resp.Header.Get("Location"))
			q := url.Values{"state": {loc.Query().Get("state")}, "error": {tc.error}, "error_description": {"described by the provider"}}
			resp, err = c.Get(ts.PortalURL + "/auth/ofsted/callback?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("callback with an error: %d", resp.StatusCode)
			}
			recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Action: "signin"})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].Outcome != "failure" {
				t.Fatalf("records: %+v", recs)
			}
			d := recs[0].Detail
			if len(d) > 200 || !strings.Contains(d, tc.want) || strings.Contains(d, "described") {
				t.Errorf("the trail records the provider's error as %.300q (%d bytes), want %q and nothing more", d, len(d), tc.want)
			}
			if strings.Contains(ts.log.String(), strings.Repeat("A", 100)) {
				t.Error("the provider's error went whole into the log")
			}
		})
	}
}

// TestProviderRefusalPage: a person who cancels at their provider, or whom
// it does not let use the portal, comes back with error=access_denied and
// is told that, not that a link expired; nothing the provider wrote comes
// back in the page.
func TestProviderRefusalPage(t *testing.T) {
	ts := startStack(t)
	b := ts.newBrowser(t)
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp := b.get("/auth/ofsted/login")
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := url.Values{"state": {loc.Query().Get("state")}, "error": {"access_denied"},
		"error_description": {`<script>alert("the provider's words")</script>`}}
	resp = b.get("/auth/ofsted/callback?" + q.Encode())
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Sign-in with Ofsted was cancelled or refused") || strings.Contains(body, "expired") {
		t.Fatalf("access_denied: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(body, "alert") || strings.Contains(body, "words") {
		t.Fatal("the provider's description is in the page")
	}
}

// TestCallbackRecordsTheProviderItStarted: a callback whose address names
// a provider other than the one the sign-in was started with (any text
// at all) is refused, and the trail's record of the failure names the
// provider the portal started it with, never the text of the address:
// the trail is kept for years and nothing a visitor types belongs in it.
func TestCallbackRecordsTheProviderItStarted(t *testing.T) {
	ts := startStack(t)
	b := ts.newBrowser(t)
	noFollow := *b.c
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Get(b.base + "/auth/ofsted/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	state := loc.Query().Get("state")
	junk := strings.Repeat("x", 300) + "-made-up"
	resp, err = noFollow.Get(b.base + "/auth/" + junk + "/callback?code=c&state=" + url.QueryEscape(state))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a callback for a provider never started: %d", resp.StatusCode)
	}
	var detail string
	if err := ts.Portal.Store().DB().QueryRow(`SELECT detail FROM audit WHERE action = 'signin' AND outcome = 'failure' ORDER BY seq DESC LIMIT 1`).Scan(&detail); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(detail, "made-up") || !strings.Contains(detail, `"idp":"ofsted"`) {
		t.Fatalf("the failure recorded %s, want the provider the sign-in was started with", detail)
	}
}
