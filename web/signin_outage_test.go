package web_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestProviderDownAtTheCallback: a provider that the browser reached but the
// portal cannot (its token or userinfo endpoint down or failing, the
// portal's way to it cut, or its discovery document unreadable by a portal
// restarted meanwhile), or that sends the browser back saying it failed,
// turns the sign-in away as the provider being unavailable (503, the page
// that says to try later), not as the person's failed sign-in: it does not
// count against the client address's failure limit, so once the provider is
// back everyone behind that address signs in at once. The trail records
// the attempt, saying why.
func TestProviderDownAtTheCallback(t *testing.T) {
	portalAddr, idpAddr := freeAddr(t), freeAddr(t)
	type outage struct{ endpoint, how string } // how: "cut" hangs up, "503" fails
	var down atomic.Pointer[outage]
	account := func(name string) []devidp.Account {
		return []devidp.Account{{Username: name + "@cafcass.example", Password: devidp.DemoPassword, Subject: name + "-1", Email: name + "@cafcass.example"}}
	}
	h, err := devidp.New(devidp.Config{BaseURL: "http://" + idpAddr, Issuers: []devidp.Issuer{
		{Name: "flaky", Clients: portalClient(portalAddr, "flaky"), Accounts: account("flaky")},
		{Name: "quiet", Clients: portalClient(portalAddr, "quiet", func(c *devidp.Client) { c.ClaimsOnlyFromUserinfo = true }), Accounts: account("quiet")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", idpAddr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := down.Load(); o != nil && strings.HasSuffix(r.URL.Path, o.endpoint) {
			if o.how == "hang" {
				<-r.Context().Done()
				return
			}
			if o.how == "cut" {
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					conn.Close()
				}
				return
			}
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	// One failed sign-in is enough to stop the address signing in.
	env := map[string]string{"PORTAL_IDPS": "cafcass,ofsted", "PORTAL_SIGNIN_FAILURE_RATE": "1/1h"}
	idpEnv(env, "flaky", "http://"+idpAddr+"/flaky", portal.OrgProvider)
	idpEnv(env, "quiet", "http://"+idpAddr+"/quiet", portal.OrgProvider)
	ts := startStackSetup(t, func(o *devstack.Options) { o.PortalAddr, o.Env = portalAddr, env })
	ctx := context.Background()

	for _, tc := range []struct {
		name, idp string
		outage    outage
		reason    string
	}{
		{"token endpoint cut off", "flaky", outage{"/oauth/token", "cut"}, "identity provider unavailable (token)"},
		{"token endpoint 503", "flaky", outage{"/oauth/token", "503"}, "identity provider unavailable (token)"},
		{"userinfo 503", "quiet", outage{"/userinfo", "503"}, "identity provider unavailable (userinfo)"},
		{"the provider says so", "flaky", outage{}, "provider returned error temporarily_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, _, _ := ts.Portal.Store().AuditHead(ctx)
			var resp *http.Response
			var body string
			if tc.outage.endpoint != "" {
				down.Store(&tc.outage)
				_, resp, body = ts.signInAt(t, tc.idp, tc.idp+"@cafcass.example")
				down.Store(nil)
			} else {
				// The provider sends the browser back with an error.
				b := ts.newBrowser(t)
				b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
				r := b.get("/auth/" + tc.idp + "/login")
				r.Body.Close()
				loc, _ := url.Parse(r.Header.Get("Location"))
				q := url.Values{"state": {loc.Query().Get("state")}, "error": {"temporarily_unavailable"}, "error_description": {"down for maintenance"}}
				resp = b.get("/auth/" + tc.idp + "/callback?" + q.Encode())
				body = readAll(t, resp)
			}
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "is not available at the moment") {
				t.Fatalf("callback while the provider is down: %d %s", resp.StatusCode, body)
			}
			if strings.Contains(body, "down for maintenance") {
				t.Fatal("the provider's own words are shown")
			}
			recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Action: "signin"})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].Outcome != "failure" || !strings.Contains(recs[0].Detail, tc.reason) {
				t.Fatalf("the trail: %+v, want one failure for %q", recs, tc.reason)
			}

			_, resp, body = ts.signInAt(t, tc.idp, tc.idp+"@cafcass.example")
			if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits" {
				t.Fatalf("sign-in once the provider is back ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
			}
		})
	}
	// What the provider answered goes to the log as its status and
	// error code only: a provider's page can hold anything, what the
	// portal sent it among it.
	if strings.Contains(ts.log.String(), "down for maintenance") {
		t.Errorf("the provider's answer is in the portal's log")
	}

	t.Run("not discovered since a restart", func(t *testing.T) {
		// The person is at the provider when the portal restarts, and the
		// restarted portal cannot read the provider's discovery document.
		b := ts.newBrowser(t)
		b.c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), ts.PortalURL+"/auth/") && strings.Contains(req.URL.Path, "/callback") {
				return http.ErrUseLastResponse
			}
			return nil
		}
		resp := b.get("/auth/flaky/login")
		page := readAll(t, resp)
		resp = b.submitLogin(resp.Request.URL, page, "flaky@cafcass.example", devidp.DemoPassword)
		resp.Body.Close()
		back := resp.Header.Get("Location")
		if !strings.Contains(back, "/auth/flaky/callback?") {
			t.Fatalf("the provider did not send the browser back: %d %q", resp.StatusCode, back)
		}
		down.Store(&outage{"/.well-known/openid-configuration", "503"})
		if err := ts.RestartPortal(ctx, false); err != nil {
			t.Fatal(err)
		}
		start, _, _ := ts.Portal.Store().AuditHead(ctx)
		req, _ := http.NewRequest(http.MethodGet, back, nil)
		resp = b.do(req)
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "is not available at the moment") {
			t.Fatalf("callback while the provider cannot be discovered: %d %s", resp.StatusCode, body)
		}
		recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Action: "signin"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || !strings.Contains(recs[0].Detail, "identity provider unavailable (discovery)") {
			t.Fatalf("the trail: %+v", recs)
		}

		down.Store(nil)
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, resp, body := ts.signInAt(t, "flaky", "flaky@cafcass.example")
			if resp.StatusCode == http.StatusOK && resp.Request.URL.Path == "/visits" {
				break
			}
			if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("sign-in once the provider is back ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})

	t.Run("keys unreadable since a restart", func(t *testing.T) {
		// The restarted portal has no signing keys yet: it fetches them
		// at the first sign-in, and the keys endpoint is down.
		if err := ts.RestartPortal(ctx, false); err != nil {
			t.Fatal(err)
		}
		start, _, _ := ts.Portal.Store().AuditHead(ctx)
		logFrom := len(ts.log.String())
		down.Store(&outage{"/keys", "503"})
		_, resp, body := ts.signInAt(t, "flaky", "flaky@cafcass.example")
		down.Store(nil)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "is not available at the moment") {
			t.Fatalf("callback while the provider's keys cannot be read: %d %s", resp.StatusCode, body)
		}
		recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Action: "signin"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || !strings.Contains(recs[0].Detail, "identity provider unavailable (keys)") {
			t.Fatalf("the trail: %+v", recs)
		}
		_, resp, body = ts.signInAt(t, "flaky", "flaky@cafcass.example")
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits" {
			t.Fatalf("sign-in once the keys are back ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
		}
		if log := ts.log.String()[logFrom:]; strings.Contains(log, "down for maintenance") || !strings.Contains(log, `"endpoint":"keys","status":503`) {
			t.Errorf("the keys endpoint's failure is logged as:\n%s", log)
		}
	})

	t.Run("the browser leaves while the provider is slow", func(t *testing.T) {
		// The provider did not fail: the browser went. It is a failed
		// sign-in (as a browser gone during the database's part is), not
		// an outage to raise an alarm for. (Last: it counts against the
		// address.)
		logFrom := len(ts.log.String())
		start, _, _ := ts.Portal.Store().AuditHead(ctx)
		b := ts.newBrowser(t)
		b.c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), ts.PortalURL+"/auth/") && strings.Contains(req.URL.Path, "/callback") {
				return http.ErrUseLastResponse
			}
			return nil
		}
		resp := b.get("/auth/flaky/login")
		page := readAll(t, resp)
		resp = b.submitLogin(resp.Request.URL, page, "flaky@cafcass.example", devidp.DemoPassword)
		resp.Body.Close()
		down.Store(&outage{"/oauth/token", "hang"})
		defer down.Store(nil)
		impatient := &http.Client{Jar: b.c.Jar, Timeout: 500 * time.Millisecond}
		if resp, err := impatient.Get(resp.Header.Get("Location")); err == nil {
			resp.Body.Close()
			t.Fatalf("the callback answered %d while the token endpoint hung", resp.StatusCode)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(ts.log.String()[logFrom:], `"route":"/auth/:idp/callback"`) {
			if time.Now().After(deadline) {
				t.Fatal("the abandoned callback did not end")
			}
			time.Sleep(100 * time.Millisecond)
		}
		log := ts.log.String()[logFrom:]
		if !strings.Contains(log, `"reason":"abandoned by the browser (token)"`) || strings.Contains(log, "identity provider unavailable") {
			t.Fatalf("a browser that left is logged as:\n%s", log)
		}
		// Counted against the address, so recorded in the trail too: a
		// failed sign-in its browser left is a security event all the
		// same, and leaving must not be a way to keep one out of it.
		recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Action: "signin"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Outcome != "failure" || !strings.Contains(recs[0].Detail, "abandoned by the browser (token)") {
			t.Fatalf("the trail after a sign-in its browser left: %+v, want its failure", recs)
		}
	})
}

// TestSignInStartsAtAProviderDown: starting a sign-in at a provider that
// cannot be used is answered that it is not available, and does not spend
// the client address's limit of sign-ins started: an office whose people
// keep trying through an outage can sign in as soon as the provider is
// back, not a limit's wait later.
func TestSignInStartsAtAProviderDown(t *testing.T) {
	lateAddr := freeAddr(t)
	env := map[string]string{"PORTAL_IDPS": "cafcass,ofsted", "PORTAL_IDP_DISCOVERY_INTERVAL": "1s", "PORTAL_SIGNIN_RATE": "1/1h"}
	idpEnv(env, "late", "http://"+lateAddr+"/late", portal.OrgProvider)
	ts := startStackWith(t, env)
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := func() *http.Response {
		t.Helper()
		resp, err := noFollow.Get(ts.PortalURL + "/auth/late/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for range 3 {
		if resp := start(); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("a sign-in started at a provider that is down: %d, want 503", resp.StatusCode)
		}
	}
	serveIdP(t, lateAddr, devidp.Issuer{Name: "late", Clients: portalClient(strings.TrimPrefix(ts.PortalURL, "http://"), "late"),
		Accounts: []devidp.Account{{Username: "late@cafcass.example", Password: devidp.DemoPassword, Subject: "late-1", Email: "late@cafcass.example"}}})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp := start()
		if resp.StatusCode == http.StatusSeeOther {
			break
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("a sign-in started once the provider is back: %d, want 303 to the provider", resp.StatusCode)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestUserinfoRefusalKeepsTheProviderOutOfTheLog: a userinfo endpoint
// that refuses the access token (401) turns the sign-in away, and the log
// says so by its status alone: go-oidc puts the provider's answer in its
// error, and a provider's page can hold anything (the token it was sent,
// the person's details).
func TestUserinfoRefusalKeepsTheProviderOutOfTheLog(t *testing.T) {
	portalAddr, idpAddr := freeAddr(t), freeAddr(t)
	h, err := devidp.New(devidp.Config{BaseURL: "http://" + idpAddr, Issuers: []devidp.Issuer{
		{Name: "quiet", Clients: portalClient(portalAddr, "quiet", func(c *devidp.Client) { c.ClaimsOnlyFromUserinfo = true }),
			Accounts: []devidp.Account{{Username: "quiet@cafcass.example", Password: devidp.DemoPassword, Subject: "quiet-1", Email: "quiet@cafcass.example"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", idpAddr)
	if err != nil {
		t.Fatal(err)
	}
	const marker = "token-echoed-back-d41d8cd9"
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/userinfo") {
			http.Error(w, "invalid token "+marker+" for quiet@cafcass.example", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	env := map[string]string{"PORTAL_IDPS": "cafcass,ofsted"}
	idpEnv(env, "quiet", "http://"+idpAddr+"/quiet", portal.OrgProvider)
	ts := startStackSetup(t, func(o *devstack.Options) { o.PortalAddr, o.Env = portalAddr, env })
	if _, resp, _ := ts.signInAt(t, "quiet", "quiet@cafcass.example"); resp.Request.URL.Path == "/visits" {
		t.Fatal("signed in though userinfo refused the access token")
	}
	log := ts.log.String()
	if !strings.Contains(log, "userinfo failed") {
		t.Fatalf("the refusal is not in the log:\n%s", log)
	}
	if strings.Contains(log, marker) {
		t.Errorf("the provider's answer is in the portal's log")
	}
}
