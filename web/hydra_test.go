package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/deploy/hydra"
	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// startHydra runs Ory Hydra for the test, or skips when bin/hydra is
// missing (fails instead under PORTAL_REQUIRE_INTEGRATION).
func startHydra(t *testing.T) *hydra.Hydra {
	t.Helper()
	bin, err := hydra.Find()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("integration tests need Hydra: %v", err)
		}
		t.Skipf("skipping integration test: %v", err)
	}
	log := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h, err := hydra.Start(ctx, hydra.Options{Binary: bin, Dir: t.TempDir(), Output: log})
	if err != nil {
		t.Fatalf("start hydra: %v\n%s", err, log.String())
	}
	t.Cleanup(func() {
		h.Stop()
		if t.Failed() {
			t.Logf("hydra log:\n%s", log.String())
		}
	})
	return h
}

// TestSignInThroughHydra signs in to the real portal through Ory Hydra, a
// production OpenID Provider, configured as a third provider: its client's
// ID token carries no email (userinfo does), the provider must give amr mfa,
// and its issuer ends in a slash, as Hydra states it. A person whose email
// is in userinfo only is bound to their membership; one with neither email
// nor name is shown as "subject @ issuer"; a refused consent and a sign-in
// without mfa are refused; sign-out goes through Hydra's end-session and
// back.
func TestSignInThroughHydra(t *testing.T) {
	h := startHydra(t)
	ctx := context.Background()
	for _, u := range []hydra.User{
		{Username: "alice", Password: "alice-password", Subject: "hydra-alice", Email: "alice@cafcass.example", Name: "Alice Example", AMR: []string{"pwd", "mfa"}},
		{Username: "bob", Password: "bob-password", Subject: "hydra-bob", Email: "bob@cafcass.example", AMR: []string{"pwd", "mfa"}},
		{Username: "carol", Password: "carol-password", Subject: "hydra-carol", Email: "carol@cafcass.example", AMR: []string{"pwd"}},
		{Username: "dave", Password: "dave-password", Subject: "hydra-dave", AMR: []string{"pwd", "mfa"}},
	} {
		h.AddUser(u)
	}
	h.RefuseConsent("bob")
	ts, portalURL := startStackWithHydra(t, h, hydra.Client{NoEmailInIDToken: true}, map[string]string{"PORTAL_IDP_HYDRA_REQUIRE_AMR": "mfa"})
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	for _, m := range []map[string]string{
		{"email": "alice@cafcass.example", "issuer": h.Issuer(), "role": policy.RoleProviderUploader},
		{"issuer": h.Issuer(), "subject": "hydra-dave", "role": policy.RoleProviderCoordinator},
	} {
		if code := admin.status("PUT", "/api/v1/visits/"+v.ID+"/members", m); code != http.StatusCreated {
			t.Fatalf("add member %v: %d", m, code)
		}
	}
	start, _, _ := ts.Portal.Store().AuditHead(ctx)
	signIn := func(user, password string) (*browser, *http.Response, string) {
		t.Helper()
		b := ts.newBrowser(t)
		resp := b.get("/auth/hydra/login")
		page := readAll(t, resp)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("no Hydra login page: %d %s", resp.StatusCode, page)
		}
		resp = b.submitLogin(resp.Request.URL, page, user, password)
		return b, resp, readAll(t, resp)
	}

	// Alice: her email is in userinfo only, and binds her membership.
	alice, resp, body := signIn("alice", "alice-password")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != portalURL+"/visits" {
		t.Fatalf("Alice's sign-in ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
	}
	me := decode[meResp](t, alice.get("/api/v1/me"), http.StatusOK)
	if me.Email != "alice@cafcass.example" || me.Issuer != h.Issuer() || me.Subject != "hydra-alice" || len(me.Visits) != 1 || me.Visits[0].Role != policy.RoleProviderUploader {
		t.Fatalf("Alice: %+v", me)
	}

	// Bob refuses consent: Hydra sends error=access_denied back.
	_, resp, body = signIn("bob", "bob-password")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Sign-in with Hydra was cancelled or refused") {
		t.Fatalf("refused consent: %d %s", resp.StatusCode, body)
	}

	// Carol signs in without a second factor.
	_, resp, body = signIn("carol", "carol-password")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "second factor") {
		t.Fatalf("sign-in without mfa: %d %s", resp.StatusCode, body)
	}

	// Dave has neither email nor name: bound by subject, shown by it.
	dave, resp, body := signIn("dave", "dave-password")
	if resp.StatusCode != http.StatusOK || !strings.Contains(html.UnescapeString(body), "hydra-dave @ "+h.Issuer()) {
		t.Fatalf("Dave's sign-in: %d %s", resp.StatusCode, body)
	}
	me = decode[meResp](t, dave.get("/api/v1/me"), http.StatusOK)
	if me.Email != "" || len(me.Visits) != 1 || me.Visits[0].Role != policy.RoleProviderCoordinator {
		t.Fatalf("Dave: %+v", me)
	}

	// The refusals are in the trail with their reasons.
	recs, _ := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Action: "signin"})
	var trail bytes.Buffer
	for _, r := range recs {
		trail.WriteString(r.Outcome + " " + r.Detail + "\n")
	}
	for _, want := range []string{"provider returned error access_denied", "lacks mfa"} {
		if !strings.Contains(trail.String(), want) {
			t.Errorf("no refusal %q in the trail:\n%s", want, trail.String())
		}
	}

	// Sign-out goes through Hydra's end-session, and back to the portal.
	resp = alice.signOut()
	resp.Body.Close()
	if resp.Request.URL.String() != portalURL+"/" {
		t.Fatalf("sign-out through Hydra ended at %s", resp.Request.URL)
	}
	if r := alice.get("/api/v1/me"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after sign-out /me answered %d", r.StatusCode)
	}
}

// TestEmailInvitationBindsFromItsIssuer: with two providers for one
// organisation, a membership given by email binds only to a person of the
// issuer it was given for: an account at the other provider with the same
// (verified) email does not take it. Where several providers could claim
// the role, an invitation must say which; and one an earlier version
// stored without an issuer is claimed by nobody until an administrator
// names its issuer.
func TestEmailInvitationBindsFromItsIssuer(t *testing.T) {
	h := startHydra(t)
	h.AddUser(hydra.User{Username: "other", Password: "other-password", Subject: "hydra-other", Email: "coordinator@cafcass.example", AMR: []string{"pwd"}})
	h.AddUser(hydra.User{Username: "early", Password: "early-password", Subject: "hydra-early", Email: "early@cafcass.example", AMR: []string{"pwd"}})
	ts, _ := startStackWithHydra(t, h, hydra.Client{}, nil)
	v := ts.demoVisit(t)
	signIn := func(user, password string) meResp {
		t.Helper()
		b := ts.newBrowser(t)
		resp := b.get("/auth/hydra/login")
		page := readAll(t, resp)
		resp = b.submitLogin(resp.Request.URL, page, user, password)
		readAll(t, resp)
		return decode[meResp](t, b.get("/api/v1/me"), http.StatusOK)
	}
	// The demo's coordinator was invited for Cafcass.
	if me := signIn("other", "other-password"); len(me.Visits) != 0 {
		t.Errorf("an account at %s with the Cafcass coordinator's email took the membership: %+v", h.Issuer(), me.Visits)
	}
	me := decode[meResp](t, ts.signIn(t, "cafcass", "coordinator@cafcass.example").get("/api/v1/me"), http.StatusOK)
	if len(me.Visits) != 1 || me.Visits[0].Role != policy.RoleProviderCoordinator {
		t.Errorf("the Cafcass coordinator's visits: %+v", me.Visits)
	}

	// Two providers serve providers: an invitation by email names one.
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	members := "/api/v1/visits/" + v.ID + "/members"
	if code := admin.status("PUT", members, map[string]string{"email": "early@cafcass.example", "role": policy.RoleProviderUploader}); code != http.StatusUnprocessableEntity && code != http.StatusBadRequest {
		t.Errorf("an invitation by email that could be claimed from two providers: %d", code)
	}
	if code := admin.status("PUT", members, map[string]string{"email": "inspector@ofsted.example", "role": policy.RoleInspector}); code != http.StatusCreated {
		t.Errorf("an invitation by email for the one provider that serves the role: %d", code)
	}
	// An invitation stored without an issuer binds to nobody.
	db := ts.Portal.Store().DB()
	if _, err := db.Exec(`INSERT INTO members (id, visit_id, role, email, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		store.NewID(), v.ID, policy.RoleProviderUploader, "early@cafcass.example", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"); err != nil {
		t.Fatal(err)
	}
	if me := signIn("early", "early-password"); len(me.Visits) != 0 {
		t.Errorf("an invitation without an issuer was claimed from %s: %+v", h.Issuer(), me.Visits)
	}
	// Naming its issuer lets it bind.
	if code := admin.status("PUT", members, map[string]string{"email": "early@cafcass.example", "issuer": h.Issuer(), "role": policy.RoleProviderUploader}); code != http.StatusOK {
		t.Errorf("naming the issuer of a stored invitation: %d", code)
	}
	if me := signIn("early", "early-password"); len(me.Visits) != 1 {
		t.Errorf("the invitation for %s was not bound: %+v", h.Issuer(), me.Visits)
	}
}

// TestLateSignOutEndsHydraSession: Hydra keeps a sign-in session of its
// own. A sign-out that arrives just after the portal's idle timeout ended
// the session still goes through Hydra's end-session, so the next person
// at the browser who presses Sign in is asked for a password, not signed
// in as the last one.
func TestLateSignOutEndsHydraSession(t *testing.T) {
	h := startHydra(t)
	h.AddUser(hydra.User{Username: "alice", Password: "alice-password", Subject: "hydra-alice", Email: "alice@cafcass.example", AMR: []string{"pwd"}})
	ts, portalURL := startStackWithHydra(t, h, hydra.Client{}, map[string]string{"PORTAL_SESSION_IDLE_TIMEOUT": "3s"})
	b := ts.newBrowser(t)
	resp := b.get("/auth/hydra/login")
	page := readAll(t, resp)
	resp = b.submitLogin(resp.Request.URL, page, "alice", "alice-password")
	readAll(t, resp)
	if resp.Request.URL.Path != "/visits" {
		t.Fatalf("sign-in ended at %s", resp.Request.URL)
	}
	time.Sleep(3500 * time.Millisecond)
	req, _ := http.NewRequest(http.MethodPost, b.base+"/auth/logout", nil)
	req.Header.Set("Origin", b.base)
	resp = b.do(req)
	readAll(t, resp)
	if resp.Request.URL.String() != portalURL+"/" {
		t.Fatalf("the late sign-out ended at %s", resp.Request.URL)
	}
	resp = b.get("/auth/hydra/login")
	readAll(t, resp)
	if resp.Request.URL.Path == "/visits" {
		me := decode[meResp](t, b.get("/api/v1/me"), http.StatusOK)
		t.Fatalf("after the late sign-out, the next sign-in was %s without a password", me.Email)
	}
}

// TestHydraKeyRotation: Hydra's signing keys are rotated while the portal
// runs (a new key, the old one deleted): the next sign-in, whose ID token
// names a key the portal has not seen, verifies against Hydra's keys as
// they are now, without a restart or a discovery refresh.
func TestHydraKeyRotation(t *testing.T) {
	h := startHydra(t)
	h.AddUser(hydra.User{Username: "alice", Password: "alice-password", Subject: "hydra-alice", Email: "alice@cafcass.example", AMR: []string{"pwd"}})
	ts, _ := startStackWithHydra(t, h, hydra.Client{}, nil)
	signIn := func() {
		t.Helper()
		b := ts.newBrowser(t)
		resp := b.get("/auth/hydra/login")
		page := readAll(t, resp)
		resp = b.submitLogin(resp.Request.URL, page, "alice", "alice-password")
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits" {
			t.Fatalf("sign-in ended at %s with %d: %s", resp.Request.URL, resp.StatusCode, body)
		}
	}
	signIn()
	for range 2 {
		kid, deleted, err := h.RotateSigningKey(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(deleted) == 0 {
			t.Fatal("no signing key to rotate away")
		}
		resp, err := http.Get(strings.TrimSuffix(h.Issuer(), "/") + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		var jwks struct {
			Keys []struct {
				KID string `json:"kid"`
			} `json:"keys"`
		}
		json.NewDecoder(resp.Body).Decode(&jwks)
		resp.Body.Close()
		var kids []string
		for _, k := range jwks.Keys {
			kids = append(kids, k.KID)
		}
		if !slices.Contains(kids, kid) || slices.ContainsFunc(deleted, func(d string) bool { return slices.Contains(kids, d) }) {
			t.Fatalf("Hydra's keys after the rotation: %v, want %s and none of %v", kids, kid, deleted)
		}
		signIn()
	}
}

// TestBackChannelLogoutFromHydra: Hydra, with the portal registered for
// back-channel logout, ends a person's portal session when the login
// session it was signed in under ends there: ended by the provider's
// operator (the admin API, as when a person is deleted) or by the person
// signing out at Hydra itself. Only the sessions signed in under that
// login session end (the same person in another browser, another person,
// go on), on every instance (PostgreSQL: the browser's next request goes
// to a second instance), each recorded as the person's sign-out by the
// provider.
func TestBackChannelLogoutFromHydra(t *testing.T) {
	h := startHydra(t)
	ctx := context.Background()
	h.AddUser(hydra.User{Username: "alice", Password: "alice-password", Subject: "hydra-alice", Email: "alice@cafcass.example", AMR: []string{"pwd"}})
	h.AddUser(hydra.User{Username: "dave", Password: "dave-password", Subject: "hydra-dave", AMR: []string{"pwd"}})
	ts, _ := startStackWithHydra(t, h, hydra.Client{}, nil)
	signIn := func(user, password string) *browser {
		t.Helper()
		b := ts.newBrowser(t)
		resp := b.get("/auth/hydra/login")
		page := readAll(t, resp)
		resp = b.submitLogin(resp.Request.URL, page, user, password)
		readAll(t, resp)
		if resp.Request.URL.Path != "/visits" {
			t.Fatalf("%s's sign-in ended at %s", user, resp.Request.URL)
		}
		return b
	}
	aliceLaptop := signIn("alice", "alice-password")
	alicePhone := signIn("alice", "alice-password") // another browser: another login session at Hydra
	dave := signIn("dave", "dave-password")
	sids := h.LoginSessions("hydra-alice")
	if len(sids) != 2 {
		t.Fatalf("Alice's login sessions at Hydra: %v, want two", sids)
	}
	if pgserver.TestDatabaseWanted() {
		second, err := ts.StartInstance(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(second.Stop)
		aliceLaptop.base, alicePhone.base = second.URL, second.URL // the same cookies, the other instance
	}
	for _, b := range []*browser{aliceLaptop, alicePhone, dave} {
		if code := b.status("GET", "/api/v1/me", nil); code != http.StatusOK {
			t.Fatalf("before any logout: %d", code)
		}
	}
	start, _, _ := ts.Portal.Store().AuditHead(ctx)
	// Hydra sends its logout tokens in the background: the session ends
	// within a second or two (a minute allows for a loaded machine).
	endsSoon := func(b *browser, what string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			code := b.status("GET", "/api/v1/me", nil)
			if code == http.StatusUnauthorized {
				return
			}
			if code != http.StatusOK || time.Now().After(deadline) {
				t.Fatalf("%s: the portal session still answers %d", what, code)
			}
		}
	}

	// Hydra's operator ends the laptop's login session.
	if err := h.EndLoginSession(ctx, sids[0]); err != nil {
		t.Fatal(err)
	}
	endsSoon(aliceLaptop, "the login session ended at Hydra")
	for name, b := range map[string]*browser{"Alice's phone": alicePhone, "Dave": dave} {
		if code := b.status("GET", "/api/v1/me", nil); code != http.StatusOK {
			t.Errorf("%s after Alice's laptop session ended at Hydra: %d", name, code)
		}
	}

	// Alice signs out at Hydra itself on her phone (a logout Hydra
	// starts, with no portal in it).
	req, _ := http.NewRequest(http.MethodGet, h.Issuer()+"oauth2/sessions/logout", nil)
	readAll(t, alicePhone.do(req))
	endsSoon(alicePhone, "Alice signed out at Hydra")
	if code := dave.status("GET", "/api/v1/me", nil); code != http.StatusOK {
		t.Errorf("Dave after Alice signed out at Hydra: %d", code)
	}

	recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Action: "signout"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d sign-outs recorded, want 2: %+v", len(recs), recs)
	}
	for _, r := range recs {
		if r.ActorSubject != "hydra-alice" || r.ActorIssuer != h.Issuer() || !strings.Contains(r.Detail, "ended by the identity provider (back-channel logout)") {
			t.Errorf("sign-out recorded: %+v", r)
		}
	}
}

// startStackWithHydra starts a stack whose providers include h, as the
// provider organisation's "hydra", with the portal registered as its client
// (client's other fields as given) and env added to the portal's.
func startStackWithHydra(t *testing.T, h *hydra.Hydra, client hydra.Client, env map[string]string) (*testStack, string) {
	t.Helper()
	portalAddr := freeAddr(t)
	portalURL := "http://" + portalAddr
	client.ID, client.Secret = "evidence-portal", "hydra-portal-secret"
	client.RedirectURIs, client.PostLogoutRedirectURIs = []string{portalURL + "/auth/hydra/callback"}, []string{portalURL + "/"}
	client.Scopes = []string{"openid", "email", "profile"}
	client.BackChannelLogoutURI, client.BackChannelLogoutSessionRequired = portalURL+"/auth/hydra/backchannel-logout", true
	if err := h.CreateClient(context.Background(), client); err != nil {
		t.Fatal(err)
	}
	all := map[string]string{
		"PORTAL_IDPS":                "cafcass,ofsted,hydra",
		"PORTAL_IDP_HYDRA_ISSUER":    h.Issuer(),
		"PORTAL_IDP_HYDRA_CLIENT_ID": "evidence-portal", "PORTAL_IDP_HYDRA_CLIENT_SECRET": "hydra-portal-secret",
		"PORTAL_IDP_HYDRA_DISPLAY_NAME": "Hydra", "PORTAL_IDP_HYDRA_ORGANISATION": portal.OrgProvider,
	}
	maps.Copy(all, env)
	return startStackSetup(t, func(o *devstack.Options) { o.PortalAddr, o.Env = portalAddr, all }), portalURL
}
