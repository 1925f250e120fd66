package web_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/portal"
)

// formAction is the form-action directive's sources in a response's
// Content-Security-Policy.
func formAction(h http.Header) []string {
	for _, d := range strings.Split(h.Get("Content-Security-Policy"), ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "form-action" {
			return f[1:]
		}
	}
	return nil
}

// TestSignOutFormActionFollowsDiscovery: a provider whose end-session
// endpoint is on another origin than its issuer (a stub discovery
// document) has that origin in form-action, so the browser follows the
// sign-out's redirect there; when a refresh of discovery moves the
// endpoint, the policy follows it. An endpoint that is no single origin
// (a wildcard, a value that would add a directive, another scheme) is
// never allowed: form-action holds only 'self' and exact origins.
func TestSignOutFormActionFollowsDiscovery(t *testing.T) {
	first := httptest.NewServer(http.NotFoundHandler())
	defer first.Close()
	moved := httptest.NewServer(http.NotFoundHandler())
	defer moved.Close()
	var endSession atomic.Value
	endSession.Store(first.URL + "/oidc/logout")
	var idp *httptest.Server
	idp = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": idp.URL, "authorization_endpoint": idp.URL + "/authorize", "token_endpoint": idp.URL + "/token",
			"jwks_uri": idp.URL + "/jwks", "end_session_endpoint": endSession.Load(),
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	}))
	defer idp.Close()
	env := map[string]string{"PORTAL_IDPS": "cafcass,ofsted", "PORTAL_IDP_DISCOVERY_INTERVAL": "1s"}
	idpEnv(env, "split", idp.URL, portal.OrgProvider)
	ts := startStackWith(t, env)
	anon := ts.newBrowser(t)
	sources := func() []string {
		resp := anon.get("/")
		resp.Body.Close()
		return formAction(resp.Header)
	}
	origin := regexp.MustCompile(`^https?://[a-z0-9.-]+(:[0-9]+)?$`)
	wellFormed := func(got []string) {
		t.Helper()
		if len(got) == 0 || got[0] != "'self'" {
			t.Fatalf("form-action %q does not begin with 'self'", got)
		}
		for _, s := range got[1:] {
			if !origin.MatchString(s) {
				t.Fatalf("form-action %q allows %q, which is not one origin", got, s)
			}
		}
	}
	// until waits for the policy to allow (or no longer allow) o.
	until := func(o string, allowed bool) []string {
		t.Helper()
		var got []string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			got = sources()
			if allows(got, o) == allowed {
				wellFormed(got)
				return got
			}
		}
		t.Fatalf("form-action %q: allows %s is not %v after discovery", got, o, allowed)
		return nil
	}
	got := until(first.URL, true)
	if !allows(got, idp.URL) {
		t.Errorf("form-action %q lacks the issuer's origin %s", got, idp.URL)
	}
	endSession.Store(moved.URL + "/oidc/logout")
	until(moved.URL, true)
	until(first.URL, false)
	for _, bad := range []string{"http://*.example/logout", "*", "http://idp.example;script-src/", "javascript:alert(1)", "http://user@" + strings.TrimPrefix(first.URL, "http://") + "/logout"} {
		endSession.Store(bad)
		until(moved.URL, false)
		got := sources()
		for _, s := range got {
			if strings.Contains(s, "*") || strings.Contains(s, "script") || s == first.URL {
				t.Errorf("end-session %q: form-action %q", bad, got)
			}
		}
		if resp := anon.get("/"); resp.Body.Close() == nil && strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src") {
			t.Errorf("end-session %q added a directive", bad)
		}
		endSession.Store(moved.URL + "/oidc/logout")
		until(moved.URL, true)
	}
}

func allows(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestSignOutAtAnotherOrigin: a real provider (the dev identity provider)
// whose discovery document puts its end-session endpoint on another
// origin (the same provider, listening there too). The page that holds
// the sign-out form allows, in its form-action, the origin the sign-out
// then redirects to, so a browser follows it: the sign-out reaches the
// provider and comes back to the portal.
func TestSignOutAtAnotherOrigin(t *testing.T) {
	portalAddr, idpAddr, endAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	h, err := devidp.New(devidp.Config{BaseURL: "http://" + idpAddr, Issuers: []devidp.Issuer{{Name: "split",
		Clients:  portalClient(portalAddr, "split"),
		Accounts: []devidp.Account{{Username: "split.person@cafcass.example", Password: devidp.DemoPassword, Subject: "s-1", Email: "split.person@cafcass.example", Name: "Split Person"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	// The discovery document, as the provider wrote it, with the
	// end-session endpoint moved to endAddr.
	moveEndSession := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var doc map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		end, _ := doc["end_session_endpoint"].(string)
		doc["end_session_endpoint"] = strings.Replace(end, "http://"+idpAddr, "http://"+endAddr, 1)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	})
	for _, addr := range []string{idpAddr, endAddr} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: moveEndSession, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}
	env := map[string]string{"PORTAL_IDPS": "cafcass,ofsted"}
	idpEnv(env, "split", "http://"+idpAddr+"/split", portal.OrgProvider)
	ts := startStackSetup(t, func(o *devstack.Options) { o.PortalAddr, o.Env = portalAddr, env })
	b, resp, body := ts.signInAt(t, "split", "split.person@cafcass.example")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits" {
		t.Fatalf("sign-in ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
	}
	if !strings.Contains(body, `action="/auth/logout"`) {
		t.Fatalf("the page has no sign-out form:\n%s", body)
	}
	// What a browser checks: the sign-out form's page's form-action must
	// allow every address the form's submission is redirected to.
	allowed := formAction(resp.Header)
	var hops []string
	b.c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		hops = append(hops, req.URL.String())
		return nil
	}
	out := b.signOut()
	readAll(t, out)
	if out.StatusCode != http.StatusOK || out.Request.URL.String() != ts.PortalURL+"/" {
		t.Fatalf("sign-out ended at %s with %d (through %q)", out.Request.URL, out.StatusCode, hops)
	}
	if len(hops) == 0 || !strings.HasPrefix(hops[0], "http://"+endAddr+"/split/") {
		t.Fatalf("sign-out went through %q, not the provider's end-session at %s", hops, endAddr)
	}
	for _, hop := range hops {
		u, _ := url.Parse(hop)
		if o := u.Scheme + "://" + u.Host; o != ts.PortalURL && !allows(allowed, o) {
			t.Errorf("the sign-out redirected to %s, which the page's form-action %q does not allow: a browser stops there", o, allowed)
		}
	}
	if r := b.get("/api/v1/me"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after sign-out /me answered %d", r.StatusCode)
	}
}
