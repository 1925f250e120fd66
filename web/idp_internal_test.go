package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
)

// TestEndSessionOrigin: only an absolute address of one exact origin is
// let into form-action; anything else leaves sign-out local.
func TestEndSessionOrigin(t *testing.T) {
	for _, tc := range []struct{ issuer, endpoint, want string }{
		{"https://login.example/realms/x", "https://logout.example/oidc/logout?x=1", "https://logout.example"},
		{"https://login.example", "https://LOGOUT.example:8443/end", "https://logout.example:8443"},
		{"http://127.0.0.1:5556/dev", "http://127.0.0.1:5557/logout", "http://127.0.0.1:5557"},
		{"https://login.example", "https://[2001:db8::1]/logout", "https://[2001:db8::1]"},
		{"https://login.example", "http://logout.example/end", ""},
		{"https://login.example", "https://*.example/end", ""},
		{"https://login.example", "*", ""},
		{"https://login.example", "/logout", ""},
		{"https://login.example", "https://logout.example;script-src/x", ""},
		{"https://login.example", "https://user:pw@logout.example/end", ""},
		{"https://login.example", "javascript:alert(1)", ""},
		{"https://login.example", "data:text/html,x", ""},
		{"https://login.example", "https://logout.example%20'unsafe-inline'/", ""},
	} {
		if got := endSessionOrigin(tc.issuer, tc.endpoint); got != tc.want {
			t.Errorf("endSessionOrigin(%q, %q) = %q, want %q", tc.issuer, tc.endpoint, got, tc.want)
		}
	}
}

// TestSignInsRacingDiscoveryWait: sign-ins that arrive together while the
// provider is being discovered for the first time (as the portal starts,
// when its background discovery begins too) wait for that discovery;
// none is turned away because another got there first.
func TestSignInsRacingDiscoveryWait(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"jwks_uri":%q,"id_token_signing_alg_values_supported":["RS256"]}`,
			srv.URL, srv.URL+"/auth", srv.URL+"/token", srv.URL+"/keys")
	}))
	defer srv.Close()
	for round := range 200 {
		p := newIdentityProvider(portal.IdPConfig{Name: "cafcass", Issuer: srv.URL, ClientID: "portal"},
			"http://127.0.0.1:8080", srv.Client(), time.Now, slog.New(slog.DiscardHandler))
		start := make(chan struct{})
		errs := make(chan error, 32)
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				<-start
				_, err := p.ready(context.Background())
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: a sign-in during the first discovery was refused: %v", round, err)
			}
		}
	}
}

// TestSignInLeftDuringDiscoveryTurnsNoOneAway: a sign-in that starts the
// provider's discovery and is then abandoned (the browser cancels its
// request when the person clicks again) does not stop the discovery
// others wait for. Before, the discovery ran on the abandoned request's
// context: it failed, the sign-in waiting for it was told the provider
// was unavailable (503), and so was every sign-in for the next 10
// seconds, with /readyz reporting the provider as failing.
func TestSignInLeftDuringDiscoveryTurnsNoOneAway(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"jwks_uri":%q,"id_token_signing_alg_values_supported":["RS256"]}`,
			srv.URL, srv.URL+"/auth", srv.URL+"/token", srv.URL+"/keys")
	}))
	defer srv.Close()
	for round := range 20 {
		p := newIdentityProvider(portal.IdPConfig{Name: "cafcass", Issuer: srv.URL, ClientID: "portal"},
			"http://127.0.0.1:8080", srv.Client(), time.Now, slog.New(slog.DiscardHandler))
		left, leave := context.WithCancel(context.Background())
		first := make(chan error, 1)
		go func() {
			_, err := p.ready(left)
			first <- err
		}()
		for p.inFlight.Load() == nil {
			time.Sleep(100 * time.Microsecond)
		}
		second := make(chan error, 1)
		go func() {
			_, err := p.ready(context.Background())
			second <- err
		}()
		time.Sleep(2 * time.Millisecond)
		leave()
		<-first
		if err := <-second; err != nil {
			t.Fatalf("round %d: a sign-in waiting for the discovery another began and left: %v", round, err)
		}
		if _, err := p.ready(context.Background()); err != nil {
			t.Fatalf("round %d: a sign-in after one was left during the discovery: %v", round, err)
		}
	}
}
