package web_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestSignInOverAnotherSession: a sign-in in a browser that holds a live
// session (a shared computer: the lead inspector did not sign out, her
// colleague signs in) ends that session with a sign-out recorded in its
// person's name, and the new session starts empty: nothing the first
// person's session held (a confirmation waiting to be shown, "Stay signed
// in") is carried into the second person's.
func TestSignInOverAnotherSession(t *testing.T) {
	ts := startStack(t)
	b := ts.signIn(t, "ofsted", "lead@ofsted.example")
	req, _ := http.NewRequest("POST", b.base+"/session/extend", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if resp := b.do(req); resp.StatusCode != http.StatusOK {
		t.Fatalf("extend: %d", resp.StatusCode)
	}
	resp := b.get("/auth/ofsted/login")
	page := readAll(t, resp)
	if resp.Request.URL.Path != "/visits" {
		resp = b.submitLogin(resp.Request.URL, page, "hmi@ofsted.example", devidp.DemoPassword)
		readAll(t, resp)
	}
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits" {
		t.Fatalf("the second sign-in ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	me := decode[meResp](t, b.get("/api/v1/me"), http.StatusOK)
	if me.Email != "hmi@ofsted.example" {
		t.Fatalf("signed in as %s", me.Email)
	}

	endedLast(t, ts, "lead@ofsted.example")

	rows, err := ts.Portal.Store().DB().Query(`SELECT data FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			t.Fatal(err)
		}
		_, values, err := portal.SessionCodec{}.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		n++
		if _, ok := values["extended_at"]; ok {
			var keys []string
			for k := range values {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			t.Errorf("the new session carries the first person's values: %v", keys)
		}
	}
	if n != 1 {
		t.Errorf("%d sessions, want the second person's only", n)
	}
}

// TestFailedSignInOverAnotherSession: a sign-in that fails in a browser
// where someone is signed in (a shared computer: a colleague starts to
// sign in, and is refused) ends that person's session too, as a sign-in
// that succeeds does, and records that it ended: the trail does not show
// a session that never ended.
func TestFailedSignInOverAnotherSession(t *testing.T) {
	ts := startStack(t)
	b := ts.signIn(t, "ofsted", "lead@ofsted.example")
	resp := b.get("/auth/ofsted/login")
	page := readAll(t, resp)
	if resp.Request.URL.Path == "/visits" {
		t.Fatal("the provider signed the colleague in as the lead inspector without asking")
	}
	resp = b.submitLogin(resp.Request.URL, page, devidp.PasswordOnlyUser, devidp.DemoPassword)
	readAll(t, resp)
	if resp.StatusCode == http.StatusOK && resp.Request.URL.Path == "/visits" {
		t.Fatal("a sign-in without a second factor was accepted")
	}
	if s := b.status("GET", "/api/v1/me", nil); s != http.StatusUnauthorized {
		t.Errorf("after a failed sign-in in her browser, the lead inspector's session answers %d, want 401", s)
	}
	endedLast(t, ts, "lead@ofsted.example")
}

// endedLast checks that the last record of the person of email is their
// session's end (signout): the trail shows no session that never ended.
func endedLast(t *testing.T, ts *testStack, email string) {
	t.Helper()
	recs, err := ts.Portal.Store().AuditRecords(context.Background(), store.AuditFilter{ActorEmail: email})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action)
	}
	if len(actions) == 0 || actions[len(actions)-1] != "signout" {
		t.Errorf("%s's records: %v, want the session's end (signout) last", email, actions)
	}
}

// TestFailedSignInOverASessionTheDatabaseKeeps: as above, with the
// database refusing to delete or change the session (busy, or failing
// over). The session's deletion failed unseen, the response saved it
// again, with its person, and sent its cookie back: the colleague was
// left holding the lead inspector's session, which the trail said had
// ended. The browser is now told to drop it whatever the database does.
func TestFailedSignInOverASessionTheDatabaseKeeps(t *testing.T) {
	ts := startStack(t)
	if ts.Portal.Store().Postgres() {
		t.Skip("the refusal is an SQLite trigger; the web's handling does not depend on the database")
	}
	b := ts.signIn(t, "ofsted", "lead@ofsted.example")
	resp := b.get("/auth/ofsted/login")
	page := readAll(t, resp)
	db := ts.Portal.Store().DB()
	for _, q := range []string{
		`CREATE TRIGGER sessions_kept_delete BEFORE DELETE ON sessions BEGIN SELECT RAISE(ABORT, 'database is locked'); END`,
		`CREATE TRIGGER sessions_kept_update BEFORE UPDATE ON sessions BEGIN SELECT RAISE(ABORT, 'database is locked'); END`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	resp = b.submitLogin(resp.Request.URL, page, devidp.PasswordOnlyUser, devidp.DemoPassword)
	readAll(t, resp)
	for _, q := range []string{`DROP TRIGGER sessions_kept_delete`, `DROP TRIGGER sessions_kept_update`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if s := b.status("GET", "/api/v1/me", nil); s != http.StatusUnauthorized {
		t.Errorf("after a failed sign-in whose session the database kept, the browser still acts as the lead inspector: /api/v1/me answers %d, want 401", s)
	}
}

// TestSignInWhoseSessionIsNotSavedEnds: a sign-in recorded as it is
// verified, whose session the database then refuses to save (busy, or
// failing over), is followed in the trail by the end of that session.
// Before, the trail and the person's own activity page showed a sign-in
// that succeeded, with no session ever held and no end to follow.
func TestSignInWhoseSessionIsNotSavedEnds(t *testing.T) {
	ts := startStack(t)
	if ts.Portal.Store().Postgres() {
		t.Skip("the refusal is an SQLite trigger; the web's handling does not depend on the database")
	}
	b := ts.newBrowser(t)
	resp := b.get("/auth/ofsted/login")
	page := readAll(t, resp)
	db := ts.Portal.Store().DB()
	if _, err := db.Exec(`CREATE TRIGGER sessions_not_saved BEFORE INSERT ON sessions BEGIN SELECT RAISE(ABORT, 'database is locked'); END`); err != nil {
		t.Fatal(err)
	}
	resp = b.submitLogin(resp.Request.URL, page, "hmi@ofsted.example", devidp.DemoPassword)
	readAll(t, resp)
	if _, err := db.Exec(`DROP TRIGGER sessions_not_saved`); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode/100 == 2 && resp.Request.URL.Path == "/visits" {
		t.Fatal("the sign-in went through with its session refused")
	}
	recs, err := ts.Portal.Store().AuditRecords(context.Background(), store.AuditFilter{ActorEmail: "hmi@ofsted.example"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action+":"+r.Outcome)
	}
	if len(actions) == 0 || actions[len(actions)-1] != "signout:success" {
		t.Errorf("hmi's records: %v, want the sign-in followed by its session's end (signout)", actions)
	}
}
