package hydra

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The relying party's redirect URIs are never contacted: the browser stops
// at the first redirect to them and the test reads its query.
const (
	rpURL         = "http://127.0.0.1:1"
	redirectURI   = rpURL + "/callback"
	postLogoutURI = rpURL + "/"
)

// start runs Hydra for the test, or skips the test when bin/hydra is missing
// (fails instead when PORTAL_REQUIRE_INTEGRATION is set).
func start(t *testing.T) *Hydra {
	t.Helper()
	bin, err := Find()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("integration tests need Hydra: %v", err)
		}
		t.Skipf("skipping integration test: %v", err)
	}
	log := &syncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	h, err := Start(ctx, Options{Binary: bin, Dir: t.TempDir(), Output: log})
	if err != nil {
		t.Fatalf("start hydra: %v\n%s", err, log.String())
	}
	t.Logf("hydra ready in %s", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		h.Stop()
		if t.Failed() {
			t.Logf("hydra log:\n%s", log.String())
		}
	})
	return h
}

// syncBuffer collects Hydra's output, written from another goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// browser is a cookie-jar client that follows redirects until one leads to
// the relying party.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), rpURL+"/") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

var (
	formAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	hiddenID   = regexp.MustCompile(`name="id" value="([^"]+)"`)
)

// flow is one authorization code flow with PKCE (S256), state and nonce.
type flow struct {
	cfg                    oauth2.Config
	state, nonce, verifier string
}

func newFlow(p *oidc.Provider, c Client) *flow {
	return &flow{
		cfg: oauth2.Config{
			ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: redirectURI, Endpoint: p.Endpoint(),
			Scopes: []string{oidc.ScopeOpenID, "email", "profile"},
		},
		state: oauth2.GenerateVerifier(), nonce: oauth2.GenerateVerifier(), verifier: oauth2.GenerateVerifier(),
	}
}

// signIn starts the flow in the browser, fills in the login form when the
// provider shows it, and returns the query the provider sent to the
// redirect URI (code and state, or error).
func (f *flow) signIn(t *testing.T, b *http.Client, username, password string) url.Values {
	t.Helper()
	resp, err := b.Get(f.cfg.AuthCodeURL(f.state, oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)))
	if err != nil {
		t.Fatal(err)
	}
	if q, ok := atRP(resp); ok {
		return q
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a, id := formAction.FindSubmatch(page), hiddenID.FindSubmatch(page)
	if a == nil || id == nil {
		t.Fatalf("no login form at %s (%d): %s", resp.Request.URL, resp.StatusCode, page)
	}
	target, err := resp.Request.URL.Parse(string(a[1]))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = b.PostForm(target.String(), url.Values{"id": {string(id[1])}, "username": {username}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	q, ok := atRP(resp)
	if !ok {
		page, _ := io.ReadAll(resp.Body)
		t.Fatalf("sign-in as %s ended at %s with %d: %s", username, resp.Request.URL, resp.StatusCode, page)
	}
	return q
}

// atRP reports whether the response redirects to the relying party, and
// the query it carries.
func atRP(resp *http.Response) (url.Values, bool) {
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, rpURL+"/") {
		return nil, false
	}
	resp.Body.Close()
	u, err := url.Parse(loc)
	if err != nil {
		return nil, false
	}
	return u.Query(), true
}

// exchange checks the state, redeems the code with the PKCE verifier and
// verifies the ID token (signature, issuer, audience, expiry, nonce).
func (f *flow) exchange(t *testing.T, p *oidc.Provider, q url.Values) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	if q.Get("state") != f.state {
		t.Fatalf("state %q, want %q (query %v)", q.Get("state"), f.state, q)
	}
	if q.Get("code") == "" {
		t.Fatalf("no code: %v", q)
	}
	ctx := context.Background()
	tok, err := f.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := p.Verifier(&oidc.Config{ClientID: f.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if id.Nonce != f.nonce {
		t.Fatalf("nonce %q, want %q", id.Nonce, f.nonce)
	}
	return tok, id
}
