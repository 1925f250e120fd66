package web_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

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
