package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
