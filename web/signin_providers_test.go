package web_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Sign-in with providers configured as real ones are: claims in userinfo
// only, discovery that fails or mismatches, sign-out without a post-logout
// address, multi-factor requirements. The extra providers are dev identity
// providers (real OpenID Providers over HTTP) on their own loopback ports.

func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// serveIdP runs a dev identity provider with these issuers on addr until
// the test ends.
func serveIdP(t *testing.T, addr string, issuers ...devidp.Issuer) {
	t.Helper()
	h, err := devidp.New(devidp.Config{BaseURL: "http://" + addr, Issuers: issuers})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// idpEnv configures one more provider of the portal.
func idpEnv(env map[string]string, name, issuer, org string) {
	p := "PORTAL_IDP_" + strings.ToUpper(name) + "_"
	env[p+"ISSUER"], env[p+"CLIENT_ID"], env[p+"CLIENT_SECRET"], env[p+"ORGANISATION"] = issuer, "portal", "dev-portal-secret", org
	env["PORTAL_IDPS"] += "," + name
}

func portalClient(portalAddr, issuer string, opts ...func(*devidp.Client)) []devidp.Client {
	c := devidp.Client{ID: "portal", Secret: "dev-portal-secret",
		RedirectURIs: []string{"http://" + portalAddr + "/auth/" + issuer + "/callback"}, PostLogoutRedirectURIs: []string{"http://" + portalAddr + "/"}}
	for _, o := range opts {
		o(&c)
	}
	return []devidp.Client{c}
}

// signInAt signs in at a provider through its login form and returns the
// browser and the final response.
func (ts *testStack) signInAt(t *testing.T, idp, username string) (*browser, *http.Response, string) {
	t.Helper()
	b := ts.newBrowser(t)
	resp := b.get("/auth/" + idp + "/login")
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		return b, resp, page
	}
	resp = b.submitLogin(resp.Request.URL, page, username, devidp.DemoPassword)
	return b, resp, readAll(t, resp)
}

// TestSignInUserinfoClaims: a provider that puts email and name in userinfo
// only still binds the person to the membership granted to their email.
func TestSignInUserinfoClaims(t *testing.T) {
	portalAddr, idpAddr := freeAddr(t), freeAddr(t)
	serveIdP(t, idpAddr, devidp.Issuer{Name: "quiet",
		Clients:  portalClient(portalAddr, "quiet", func(c *devidp.Client) { c.ClaimsOnlyFromUserinfo = true }),
		Accounts: []devidp.Account{{Username: "quiet.person@cafcass.example", Password: devidp.DemoPassword, Subject: "q-1", Email: "quiet.person@cafcass.example", Name: "Quiet Person"}},
	})
	env := map[string]string{"PORTAL_IDPS": "cafcass,ofsted"}
	idpEnv(env, "quiet", "http://"+idpAddr+"/quiet", portal.OrgProvider)
	ts := startStackSetup(t, func(o *devstack.Options) { o.PortalAddr, o.Env = portalAddr, env })
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	if code := admin.status("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"email": "quiet.person@cafcass.example", "issuer": "http://" + idpAddr + "/quiet", "role": policy.RoleProviderUploader}); code != http.StatusCreated {
		t.Fatalf("add member: %d", code)
	}
	b, resp, body := ts.signInAt(t, "quiet", "quiet.person@cafcass.example")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits" {
		t.Fatalf("sign-in ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
	}
	me := decode[meResp](t, b.get("/api/v1/me"), http.StatusOK)
	if me.Email != "quiet.person@cafcass.example" || len(me.Visits) != 1 || me.Visits[0].Role != policy.RoleProviderUploader {
		t.Fatalf("a person whose email is in userinfo only: %+v", me)
	}
	if !strings.Contains(body, "quiet.person@cafcass.example") {
		t.Fatal("the page does not show who is signed in")
	}
}

// TestIdPDiscovery: discovery runs at start-up and on a schedule. An issuer
// that does not match its discovery document exactly is a configuration
// error, logged naming the provider and shown on /readyz as degraded (200);
// a provider that is down does not stop the portal or the other providers,
// and is picked up once it answers; a provider that hangs never makes other
// sign-ins wait.
func TestIdPDiscovery(t *testing.T) {
	idpAddr, lateAddr := freeAddr(t), freeAddr(t)
	// A provider that accepts connections and never answers.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		hang.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	env := map[string]string{"PORTAL_IDPS": "cafcass,ofsted", "PORTAL_IDP_DISCOVERY_INTERVAL": "1s"}
	idpEnv(env, "slash", "http://"+idpAddr+"/ofsted/", portal.OrgInspectorate)
	idpEnv(env, "late", "http://"+lateAddr+"/late", portal.OrgProvider)
	idpEnv(env, "hang", "http://"+hang.Addr().String()+"/hang", portal.OrgProvider)
	began := time.Now()
	ts := startStackSetup(t, func(o *devstack.Options) { o.IdPAddr, o.Env = idpAddr, env })
	if d := time.Since(began); d > 20*time.Second {
		t.Fatalf("the portal took %s to start with providers down", d)
	}

	ready := func() (int, map[string]string) {
		resp := ts.newBrowser(t).get("/readyz")
		var r struct {
			Degraded map[string]string `json:"degraded"`
		}
		json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		return resp.StatusCode, r.Degraded
	}
	waitFor := func(what string, ok func(map[string]string) bool) map[string]string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second) // the hanging provider takes discoveryTimeout (10 s)
		for {
			code, d := ready()
			if code != http.StatusOK {
				t.Fatalf("/readyz answered %d: an identity provider must not make the portal unready", code)
			}
			if ok(d) {
				return d
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: degraded %v", what, d)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Until its first discovery ends, every provider is degraded as
	// pending: wait for the outcomes, not for the placeholder.
	d := waitFor("the mismatched and the unreachable providers are degraded", func(d map[string]string) bool {
		for _, p := range d {
			if strings.Contains(p, "has not completed yet") {
				return false
			}
		}
		return d["idp:slash"] != "" && d["idp:late"] != "" && d["idp:hang"] != ""
	})
	if !strings.Contains(d["idp:slash"], "http://"+idpAddr+"/ofsted/") || !strings.Contains(d["idp:slash"], `"http://`+idpAddr+`/ofsted"`) {
		t.Errorf("the issuer mismatch does not name both issuers: %q", d["idp:slash"])
	}
	if d["idp:ofsted"] != "" || d["idp:cafcass"] != "" {
		t.Errorf("working providers reported degraded: %v", d)
	}
	log := ts.log.String()
	if !strings.Contains(log, `"idp":"slash"`) || !strings.Contains(log, "issuer") {
		t.Error("the issuer mismatch was not logged naming the provider")
	}

	// The mismatched provider's page says its settings are wrong.
	resp := ts.newBrowser(t).get("/auth/slash/login")
	if body := readAll(t, resp); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "settings for it are wrong") {
		t.Fatalf("sign-in at a misconfigured provider: %d %s", resp.StatusCode, body)
	}
	// The mismatched provider's sign-in says it is not available, at once;
	// the hanging one too, even while a discovery of it is in flight; the
	// others sign in meanwhile.
	quick := &http.Client{Timeout: 3 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var wg sync.WaitGroup
	for _, idp := range []string{"slash", "hang", "hang", "hang"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := quick.Get(ts.PortalURL + "/auth/" + idp + "/login")
			if err != nil {
				t.Errorf("sign-in at %s waited: %v", idp, err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("sign-in at %s: %d, want 503", idp, resp.StatusCode)
			}
		}()
	}
	ts.signIn(t, "ofsted", "lead@ofsted.example")
	wg.Wait()

	// The provider that was down at start-up is discovered once it answers.
	serveIdP(t, lateAddr, devidp.Issuer{Name: "late", Clients: portalClient(strings.TrimPrefix(ts.PortalURL, "http://"), "late"),
		Accounts: []devidp.Account{{Username: "late@cafcass.example", Password: devidp.DemoPassword, Subject: "late-1", Email: "late@cafcass.example"}}})
	waitFor("the provider that came up is no longer degraded", func(d map[string]string) bool { return d["idp:late"] == "" })
	if _, resp, body := ts.signInAt(t, "late", "late@cafcass.example"); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits" {
		t.Fatalf("sign-in at the late provider ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
	}
}

// TestSignOutModes: a provider where no post-logout address can be
// registered is sent no post_logout_redirect_uri; with local sign-out the
// portal ends its own session only, and says so.
func TestSignOutModes(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_IDP_CAFCASS_LOGOUT": "local", "PORTAL_IDP_OFSTED_LOGOUT": "no-redirect"})
	noFollow := func(b *browser) {
		b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}

	b := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	noFollow(b)
	resp := b.signOut()
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "/?signed_out=cafcass" {
		t.Fatalf("local sign-out went to %q", loc)
	}
	page := readAll(t, b.get("/?signed_out=cafcass"))
	if !strings.Contains(page, "You have signed out of the portal") || !strings.Contains(page, "still signed in to your Cafcass account") {
		t.Fatalf("the signed-out page does not say the provider's session goes on:\n%s", page)
	}
	if r := b.get("/api/v1/me"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after local sign-out /me answered %d", r.StatusCode)
	}

	b = ts.signIn(t, "ofsted", "lead@ofsted.example")
	noFollow(b)
	resp = b.signOut()
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), ts.IdPURL+"/ofsted/") || loc.Query().Get("id_token_hint") == "" ||
		loc.Query().Get("client_id") != "portal" || loc.Query().Has("post_logout_redirect_uri") {
		t.Fatalf("no-redirect sign-out went to %q", resp.Header.Get("Location"))
	}
	if r := b.get("/api/v1/me"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after sign-out /me answered %d", r.StatusCode)
	}
}

// TestSecondFactor: a provider can be required to give an acr value (asked
// for with acr_values) and an amr value; a token without them is refused
// with a page that says to use a second factor.
func TestSecondFactor(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_IDP_OFSTED_REQUIRE_AMR": "mfa", "PORTAL_IDP_CAFCASS_REQUIRE_ACR": "urn:portal:test:loa2 urn:portal:test:loa3"})
	ctx := context.Background()
	start, _, _ := ts.Portal.Store().AuditHead(ctx)

	// Ofsted's demo accounts sign in with mfa; the password-only one is
	// refused.
	ts.signIn(t, "ofsted", "lead@ofsted.example")
	b, resp, body := ts.signInAt(t, "ofsted", devidp.PasswordOnlyUser)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "second factor") {
		t.Fatalf("a sign-in without mfa: %d\n%s", resp.StatusCode, body)
	}
	if r := b.get("/api/v1/me"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after a refused sign-in /me answered %d", r.StatusCode)
	}

	// Cafcass must give an acr of loa2 or loa3, and is asked for them.
	b = ts.newBrowser(t)
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r := b.get("/auth/cafcass/login")
	r.Body.Close()
	authURL, _ := url.Parse(r.Header.Get("Location"))
	if authURL == nil || authURL.Query().Get("acr_values") != "urn:portal:test:loa2 urn:portal:test:loa3" {
		t.Fatalf("the authorization request does not ask for the acr values: %s", r.Header.Get("Location"))
	}
	_, resp, body = ts.signInAt(t, "cafcass", "uploader@cafcass.example")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "second factor") {
		t.Fatalf("a sign-in without the acr: %d\n%s", resp.StatusCode, body)
	}

	// Each refusal is in the trail, with its reason.
	recs, _ := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start})
	var reasons []string
	for _, rec := range recs {
		if rec.Action == "signin" && rec.Outcome == "failure" {
			reasons = append(reasons, rec.Detail)
		}
	}
	if len(reasons) != 2 || !strings.Contains(reasons[0], "amr") || !strings.Contains(reasons[1], "acr") {
		t.Fatalf("refusals recorded: %v", reasons)
	}
}
