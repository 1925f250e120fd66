package web_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/web"
)

// TestSignedInRequestsLeaveTheSessionAlone: a signed-in session holds
// several values; a request that changes none of them, within a minute of
// the session's last write, writes nothing to the sessions table. The
// session's encoding followed the random order of a Go map, so most
// requests rewrote an unchanged session, a write on every page.
func TestSignedInRequestsLeaveTheSessionAlone(t *testing.T) {
	var mu sync.Mutex
	writes := 0
	ts := startStackSetup(t, func(o *devstack.Options) {
		o.WebOptions = []web.Option{web.WithStatementCount(func(r *http.Request, route string, qs []string) {
			mu.Lock()
			defer mu.Unlock()
			for _, q := range qs {
				if strings.HasPrefix(q, "UPDATE sessions ") {
					writes++
				}
			}
		})}
	})
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	lead.get("/api/v1/me").Body.Close() // the first request after sign-in may move the deadline on
	mu.Lock()
	writes = 0
	mu.Unlock()
	for range 20 {
		resp := lead.get("/api/v1/me")
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("me: %d", resp.StatusCode)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if writes != 0 {
		t.Fatalf("20 requests that changed nothing wrote the session %d times", writes)
	}
}

// TestShortIdleTimeoutKeptByUse: a session in use is kept however short
// the idle timeout is set. The store wrote an unchanged session's moved
// deadline only once it had moved a minute, so with an idle timeout of a
// minute or less the deadline never moved, and a session ended that many
// seconds after sign-in whatever its requests.
func TestShortIdleTimeoutKeptByUse(t *testing.T) {
	ts := startStackWith(t, map[string]string{"PORTAL_SESSION_IDLE_TIMEOUT": "3s"})
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	start := time.Now()
	for time.Since(start) < 8*time.Second {
		time.Sleep(500 * time.Millisecond)
		if s := lead.status("GET", "/api/v1/me", nil); s != http.StatusOK {
			t.Fatalf("a request every half second, %.1f s after sign-in with an idle timeout of 3 s, answered %d: the session in use ended",
				time.Since(start).Seconds(), s)
		}
	}
	time.Sleep(3500 * time.Millisecond)
	if s := lead.status("GET", "/api/v1/me", nil); s != http.StatusUnauthorized {
		t.Fatalf("3.5 s idle past an idle timeout of 3 s: %d, want 401", s)
	}
}
