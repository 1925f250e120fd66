package web_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/deploy/hydra"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestBackChannelLogoutBySessionCutsAnUpload: an upload in flight when the
// provider's session it was signed in under ends (a back-channel logout
// naming the sid, as Hydra sends) stores nothing, as one whose person's
// sessions all ended (a logout naming the sub) or who was disabled does
// not: the upload's recheck asks whether its provider session has ended.
func TestBackChannelLogoutBySessionCutsAnUpload(t *testing.T) {
	h, ts, v, alice, sid := aliceAtHydra(t)
	ctx := context.Background()
	before, err := ts.Portal.Store().Files(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}

	const n = 4 << 20
	data := evidenceBytes(5, n)
	began, _, _ := ts.Portal.Store().AuditHead(ctx)
	pr, pw := io.Pipe()
	type answer struct {
		code int
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, alice.base+"/api/v1/visits/"+v.ID+"/files?name=1.01+Late.pdf", pr)
		req.ContentLength = n
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := alice.c.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- answer{code: resp.StatusCode}
	}()
	if _, err := pw.Write(data[:1<<20]); err != nil {
		t.Fatal(err)
	}
	// The portal has begun the upload (a loaded machine may not have run
	// its handler yet when the first megabyte is in the socket's buffers:
	// the logout would then refuse the request at its start, which
	// the back-channel tests cover, and not cut it).
	awaitRecord := func(after int64, action, never string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
			recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: after, Action: action})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal(never)
			}
		}
	}
	awaitRecord(began, "upload.started", "the upload never began at the portal")
	start, _, _ := ts.Portal.Store().AuditHead(ctx)
	if err := h.EndLoginSession(ctx, sid); err != nil {
		t.Fatal(err)
	}
	// Hydra sends the logout token in the background.
	awaitRecord(start, "signout", "the back-channel logout never reached the portal")
	time.Sleep(3 * time.Second) // the decision the upload began with is old now
	if _, err := pw.Write(data[1<<20:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	got := <-done
	if got.err == nil && got.code == http.StatusCreated {
		t.Errorf("the upload of a session its provider ended was stored (%d)", got.code)
	}
	if after, err := ts.Portal.Store().Files(ctx, v.ID); err != nil || len(after) != len(before) {
		t.Errorf("the visit holds %d files (%v), want the %d from before", len(after), err, len(before))
	}
}

// TestLogoutBeforeTheSessionIsSaved: a back-channel logout that arrives
// after the provider sent the browser back with a code, before the portal
// saved the session (it has nothing under that sid yet to end), still
// ends it: the session is ended as soon as it is saved, no cookie is
// given, the person is told to sign in again, and the trail shows the
// provider's sign-out. Before, the new session lived on under the ended
// sid until its idle timeout.
func TestLogoutBeforeTheSessionIsSaved(t *testing.T) {
	h := startHydra(t)
	ctx := context.Background()
	h.AddUser(hydra.User{Username: "alice", Password: "alice-password", Subject: "hydra-alice", Email: "alice@cafcass.example", AMR: []string{"pwd"}})
	ts, _ := startStackWithHydra(t, h, hydra.Client{}, nil)
	alice := ts.newBrowser(t)
	alice.c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == "/auth/hydra/callback" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp := alice.get("/auth/hydra/login")
	page := readAll(t, resp)
	resp = alice.submitLogin(resp.Request.URL, page, "alice", "alice-password")
	readAll(t, resp)
	callback := resp.Header.Get("Location")
	if !strings.Contains(callback, "/auth/hydra/callback") {
		t.Fatalf("Hydra did not send the browser back with a code: %d %s", resp.StatusCode, callback)
	}
	sids := h.LoginSessions("hydra-alice")
	if len(sids) != 1 {
		t.Fatalf("Alice's login sessions at Hydra: %v", sids)
	}
	start, _, _ := ts.Portal.Store().AuditHead(ctx)
	if err := h.EndLoginSession(ctx, sids[0]); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var n int
		if err := ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM logout_tokens`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the back-channel logout never reached the portal")
		}
	}
	alice.c.CheckRedirect = nil
	req, _ := http.NewRequest(http.MethodGet, callback, nil)
	resp = alice.do(req)
	body := readAll(t, resp)
	if code := alice.status("GET", "/api/v1/me", nil); code != http.StatusUnauthorized {
		t.Errorf("the sign-in the provider ended before the portal saved it: /api/v1/me answers %d, want 401 (the callback ended at %s with %d)", code, resp.Request.URL, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Sign in again") {
		t.Errorf("the callback: %d, want 401 saying to sign in again: %s", resp.StatusCode, body)
	}
	if n, err := ts.Portal.Store().Sessions(time.Now).Count(ctx); err != nil || n != 0 {
		t.Errorf("%d sessions live (%v), want none", n, err)
	}
	recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Action: "signout"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].ActorSubject != "hydra-alice" || !strings.Contains(recs[0].Detail, "ended by the identity provider (back-channel logout)") {
		t.Errorf("sign-outs recorded: %+v, want Alice's by the provider", recs)
	}
}

// TestSignInAfterAnotherKeepsNoneOfItsProviderSession: a sign-in at a
// provider that names no provider session, in a browser that still holds
// a session signed in under one (a shared computer, or the same person at
// the other provider), is not saved under the previous session's: else a
// back-channel logout of that provider session would cut the new person's
// transfers and refuse their sign-in.
func TestSignInAfterAnotherKeepsNoneOfItsProviderSession(t *testing.T) {
	h := startHydra(t)
	h.AddUser(hydra.User{Username: "alice", Password: "alice-password", Subject: "hydra-alice", Email: "alice@cafcass.example", AMR: []string{"pwd"}})
	ts, _ := startStackWithHydra(t, h, hydra.Client{}, nil)
	db := ts.Portal.Store().DB()
	b := ts.newBrowser(t)
	resp := b.get("/auth/hydra/login")
	page := readAll(t, resp)
	resp = b.submitLogin(resp.Request.URL, page, "alice", "alice-password")
	readAll(t, resp)
	if resp.Request.URL.Path != "/visits" {
		t.Fatalf("Alice's sign-in ended at %s", resp.Request.URL)
	}
	var alices string
	if err := db.QueryRow(`SELECT idp_session FROM sessions WHERE idp_session IS NOT NULL`).Scan(&alices); err != nil {
		t.Fatalf("Alice's session under her provider session at Hydra: %v", err)
	}

	// Someone else signs in at the dev provider in the same browser.
	resp = b.get("/auth/ofsted/login")
	page = readAll(t, resp)
	resp = b.submitLogin(resp.Request.URL, page, "hmi@ofsted.example", devidp.DemoPassword)
	readAll(t, resp)
	if resp.Request.URL.Path != "/visits" {
		t.Fatalf("the second sign-in ended at %s", resp.Request.URL)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sessions WHERE idp_session = ?`, alices).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d sessions are kept under Alice's provider session at Hydra after another person signed in over hers", n)
	}
}

// TestRefusedLogoutsDoNotHoldBackTheProvider: the address that sends
// refused logout tokens is held back (429), but a token that verifies is
// never refused for it: anyone sharing the provider's address (an office
// network's NAT, an ingress the portal does not trust) could otherwise
// keep the provider's logouts out, and the sessions they end alive.
func TestRefusedLogoutsDoNotHoldBackTheProvider(t *testing.T) {
	refusedLogoutsDoNotHoldBack(t, nil, 0)
}

// TestRefusedLogoutsDoNotHoldBackTheProviderAfterDiscovery: the same once
// the provider's discovery has been read again (hourly by default, here
// every half second): the provider's keys are held across it. Before,
// each discovery forgot the keys that had verified tokens, and until
// someone signed in again the provider's logouts from a held-back address
// were refused, and its sessions lived on.
func TestRefusedLogoutsDoNotHoldBackTheProviderAfterDiscovery(t *testing.T) {
	refusedLogoutsDoNotHoldBack(t, map[string]string{"PORTAL_IDP_DISCOVERY_INTERVAL": "500ms"}, 2*time.Second)
}

func refusedLogoutsDoNotHoldBack(t *testing.T, env map[string]string, wait time.Duration) {
	h, ts, _, alice, sid := aliceAtHydraWith(t, env)
	ctx := context.Background()
	time.Sleep(wait) // discoveries read again, when they are to be
	// Junk from the loopback address, which Hydra's logouts come from
	// too, kept up (one every 2 s is enough to stay held back).
	junk := func() int {
		req, _ := http.NewRequest(http.MethodPost, ts.PortalURL+"/auth/hydra/backchannel-logout", strings.NewReader(url.Values{"logout_token": {"junk"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	held := false
	for i := 0; i < 40; i++ {
		held = held || junk() == http.StatusTooManyRequests
	}
	if !held {
		t.Fatal("40 junk logout tokens were never held back")
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				junk()
			}
		}
	}()
	start, _, _ := ts.Portal.Store().AuditHead(ctx)
	if err := h.EndLoginSession(ctx, sid); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		recs, err := ts.Portal.Store().AuditRecords(ctx, store.AuditFilter{AfterSeq: start, Action: "signout"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Hydra's logout, sent from an address held back for junk, never ended Alice's session")
		}
	}
	if r := alice.get("/api/v1/me"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("Alice's session after Hydra's logout: /me answered %d", r.StatusCode)
	}
}

// aliceAtHydra starts Hydra and a stack whose provider staff sign in
// there, and signs Alice in (an uploader of the demo visit): the stack,
// the visit, her browser and her login session at Hydra.
func aliceAtHydra(t *testing.T) (*hydra.Hydra, *testStack, visitResp, *browser, string) {
	t.Helper()
	return aliceAtHydraWith(t, nil)
}

// aliceAtHydraWith is aliceAtHydra with the portal's settings env.
func aliceAtHydraWith(t *testing.T, env map[string]string) (*hydra.Hydra, *testStack, visitResp, *browser, string) {
	t.Helper()
	h := startHydra(t)
	h.AddUser(hydra.User{Username: "alice", Password: "alice-password", Subject: "hydra-alice", Email: "alice@cafcass.example", AMR: []string{"pwd"}})
	ts, _ := startStackWithHydra(t, h, hydra.Client{}, env)
	v := ts.demoVisit(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	if code := admin.status("PUT", "/api/v1/visits/"+v.ID+"/members", map[string]string{"email": "alice@cafcass.example", "issuer": h.Issuer(), "role": policy.RoleProviderUploader}); code != http.StatusCreated {
		t.Fatalf("add Alice: %d", code)
	}
	alice := ts.newBrowser(t)
	resp := alice.get("/auth/hydra/login")
	page := readAll(t, resp)
	resp = alice.submitLogin(resp.Request.URL, page, "alice", "alice-password")
	readAll(t, resp)
	if resp.Request.URL.Path != "/visits" {
		t.Fatalf("Alice's sign-in ended at %s", resp.Request.URL)
	}
	sids := h.LoginSessions("hydra-alice")
	if len(sids) != 1 {
		t.Fatalf("Alice's login sessions at Hydra: %v", sids)
	}
	return h, ts, v, alice, sids[0]
}
