package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/portal"
)

// TestDisabledInspector: an inspector disabled on the command line
// (portal admin disable's act) has no session from then on: each of hers
// is gone at her next request, on every instance (PostgreSQL: a second
// instance on the same database), removed with the disable rather than
// left until its idle timeout. Her sign-in is refused with a page saying
// her access is disabled and whom to contact, and leaves no session, recorded as a refused sign-in. Her
// colleague is untouched. Enabled again, she signs in; her old sessions
// stay ended.
func TestDisabledInspector(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	v := ts.demoVisit(t)
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	hmiOther := ts.signIn(t, "ofsted", "hmi@ofsted.example") // her second browser
	hmiIdle := ts.signIn(t, "ofsted", "hmi@ofsted.example")  // not used while she is disabled
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	visit := "/api/v1/visits/" + v.ID
	if pgserver.TestDatabaseWanted() {
		second, err := ts.StartInstance(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(second.Stop)
		hmiOther.base = second.URL // the same cookies, the other instance
	}
	for _, b := range []*browser{hmi, hmiOther, lead} {
		if s := b.status("GET", visit, nil); s != http.StatusOK {
			t.Fatalf("before the disable: %d", s)
		}
	}

	issuer := ts.IdPURL + "/ofsted"
	if _, err := portal.DisableUser(ctx, ts.Portal.Store(), portal.OperatorActor("test", "admin disable"), portal.Person{Issuer: issuer, Email: "hmi@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	// Her sessions were removed with the disable: each of them, on every
	// instance, is nobody's at its next request; her next sign-in is
	// refused saying why (below).
	if s := hmi.status("GET", visit, nil); s != http.StatusUnauthorized {
		t.Errorf("her next request: %d, want 401 (the session has ended)", s)
	}
	if resp := hmiOther.get("/visits"); readAll(t, resp) == "" || resp.Request.URL.Path != "/" || resp.Request.URL.Query().Get("return_to") != "/visits" {
		t.Errorf("her next page in her other browser, on %s: %d at %s, want the start page", hmiOther.base, resp.StatusCode, resp.Request.URL)
	}
	if s := lead.status("GET", visit, nil); s != http.StatusOK {
		t.Errorf("her colleague, after the disable: %d", s)
	}

	// Her sign-in is refused, and leaves no session.
	b := ts.newBrowser(t)
	resp := b.get("/auth/ofsted/login")
	page := readAll(t, resp)
	resp = b.submitLogin(resp.Request.URL, page, "hmi@ofsted.example", devidp.DemoPassword)
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Your access to the portal has been disabled, so you cannot sign in") {
		t.Fatalf("the disabled inspector's sign-in: %d at %s: %s", resp.StatusCode, resp.Request.URL, body)
	}
	if c := b.sessionCookie(); c != nil {
		t.Errorf("a refused sign-in left a session cookie")
	}
	var detail string
	if err := ts.Portal.Store().DB().QueryRow(`SELECT detail FROM audit WHERE action = 'signin' AND outcome = 'failure' ORDER BY seq DESC LIMIT 1`).Scan(&detail); err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if json.Unmarshal([]byte(detail), &d); d["reason"] != "access disabled" {
		t.Errorf("the refused sign-in recorded %s", detail)
	}

	if err := portal.EnableUser(ctx, ts.Portal.Store(), portal.OperatorActor("test", "admin enable"), portal.Person{Issuer: issuer, Email: "hmi@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	// A session from before the disable, not used since, stays ended.
	if s := hmiIdle.status("GET", visit, nil); s != http.StatusUnauthorized {
		t.Errorf("the session from before the disable, after enable: %d, want 401", s)
	}
	again := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	if s := again.status("GET", visit, nil); s != http.StatusOK {
		t.Errorf("signed in again after enable: %d", s)
	}
}

// TestDisabledMidDownloadIsCut: an inspector disabled while she downloads
// a large file does not receive the rest of it, as one removed from the
// visit does not (TestRemovedMidDownloadIsCut): the download's recheck
// reads the person again, not the actor its request began with.
func TestDisabledMidDownloadIsCut(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SEGMENT_SIZE": "1MiB"})
	ctx := context.Background()
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	const n = 32 << 20 // more than the sockets between them hold
	big := decode[fileResp](t, uploader.upload(v.ID, "1.01 Big.pdf", bytes.NewReader(evidenceBytes(7, n)), n), http.StatusCreated)

	resp := hmi.get("/api/v1/visits/" + v.ID + "/files/" + big.ID + "/content")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := portal.DisableUser(ctx, ts.Portal.Store(), portal.OperatorActor("test", "admin disable"), portal.Person{Issuer: ts.IdPURL + "/ofsted", Email: "hmi@ofsted.example"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // the decision the download began with is old now
	rest, err := io.Copy(io.Discard, resp.Body)
	if err == nil || 1<<20+rest >= n {
		t.Fatalf("the disabled inspector received %d of %d bytes (%v): want the connection cut", 1<<20+rest, n, err)
	}
}

// TestSignOutEndsTheSessionOnEveryInstance: a person who signs out through
// one instance cannot go on with the same cookie through another (the
// session lives in the shared database, and no instance keeps a copy it
// trusts); a cookie kept from before the sign-out (a copy of the browser's
// cookies) is refused on both.
func TestSignOutEndsTheSessionOnEveryInstance(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("several instances share a PostgreSQL database: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	ts := startStack(t)
	ctx := context.Background()
	second, err := ts.StartInstance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Stop)
	v := ts.demoVisit(t)
	visit := "/api/v1/visits/" + v.ID
	hmi := ts.signIn(t, "ofsted", "hmi@ofsted.example")
	onSecond := &browser{t: t, c: hmi.c, base: second.URL}
	for _, b := range []*browser{hmi, onSecond, hmi, onSecond} {
		if s := b.status("GET", visit, nil); s != http.StatusOK {
			t.Fatalf("signed in, through %s: %d", b.base, s)
		}
	}
	kept := hmi.sessionCookie()
	resp := hmi.signOut()
	readAll(t, resp)
	replay := ts.newBrowser(t)
	for _, base := range []string{ts.PortalURL, second.URL} {
		req, _ := http.NewRequest("GET", base+visit, nil)
		req.AddCookie(kept)
		if resp := replay.do(req); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("the cookie from before the sign-out, through %s: %d, want 401", base, resp.StatusCode)
		}
	}
}
