package devidp

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const portalURL = "http://127.0.0.1:1" // never contacted: redirects are captured

func start(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	h, err := New(DemoConfig("http://"+srv.Listener.Addr().String(), portalURL))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func provider(t *testing.T, srv *httptest.Server, name string) *oidc.Provider {
	t.Helper()
	p, err := oidc.NewProvider(context.Background(), srv.URL+"/"+name)
	if err != nil {
		t.Fatalf("discovery of %s: %v", name, err)
	}
	return p
}

var hiddenID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// codeFor signs in at the provider as a browser would and returns the code
// sent to the redirect URI, or "" when the provider did not issue one.
func codeFor(t *testing.T, srv *httptest.Server, cfg *oauth2.Config, user, password, verifier string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), portalURL) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(cfg.AuthCodeURL("st", oidc.Nonce("n-123"), oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "for development and tests only") {
		t.Fatal("login page does not say it is for development only")
	}
	m := hiddenID.FindStringSubmatch(string(page))
	if m == nil {
		t.Fatalf("no auth request id in login page: %s", page)
	}
	resp, err = c.PostForm(resp.Request.URL.String(), url.Values{"id": {m[1]}, "username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || loc.Query().Get("state") != "st" {
		return ""
	}
	return loc.Query().Get("code")
}

func TestDiscoveryBothIssuers(t *testing.T) {
	srv := start(t)
	for _, name := range []string{"cafcass", "ofsted"} {
		p := provider(t, srv, name)
		var meta struct {
			EndSession string `json:"end_session_endpoint"`
		}
		p.Claims(&meta)
		if !strings.HasPrefix(p.Endpoint().AuthURL, srv.URL+"/"+name+"/") || !strings.HasPrefix(meta.EndSession, srv.URL+"/"+name+"/") {
			t.Fatalf("%s endpoints not under the issuer: %s %s", name, p.Endpoint().AuthURL, meta.EndSession)
		}
	}
}

func TestCodeFlow(t *testing.T) {
	srv := start(t)
	p := provider(t, srv, "ofsted")
	cfg := &oauth2.Config{ClientID: "portal", ClientSecret: "dev-portal-secret", Endpoint: p.Endpoint(),
		RedirectURL: portalURL + "/auth/ofsted/callback", Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
	ctx := context.Background()

	verifier := oauth2.GenerateVerifier()
	code := codeFor(t, srv, cfg, "lead@ofsted.example", DemoPassword, verifier)
	if code == "" {
		t.Fatal("no code for the right password")
	}
	if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatal("exchange with the wrong PKCE verifier succeeded")
	}
	code = codeFor(t, srv, cfg, "lead@ofsted.example", DemoPassword, verifier)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a code was exchanged twice")
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: "portal"}).Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Email    string `json:"email"`
		Verified bool   `json:"email_verified"`
		Name     string `json:"name"`
	}
	idt.Claims(&claims)
	if idt.Nonce != "n-123" || claims.Email != "lead@ofsted.example" || !claims.Verified || claims.Name == "" || idt.Subject == claims.Email {
		t.Fatalf("id token: nonce %q, sub %q, claims %+v", idt.Nonce, idt.Subject, claims)
	}
	// The other issuer does not accept this token.
	other := provider(t, srv, "cafcass")
	if _, err := other.Verifier(&oidc.Config{ClientID: "portal"}).Verify(ctx, raw); err == nil {
		t.Fatal("an ofsted token verified against the cafcass issuer")
	}

	t.Run("end session", func(t *testing.T) {
		var meta struct {
			EndSession string `json:"end_session_endpoint"`
		}
		p.Claims(&meta)
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for target, ok := range map[string]bool{portalURL + "/": true, "http://evil.example/": false} {
			q := url.Values{"id_token_hint": {raw}, "client_id": {"portal"}, "post_logout_redirect_uri": {target}}
			resp, err := noFollow.Get(meta.EndSession + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Location") == target; got != ok {
				t.Errorf("post-logout redirect to %s: status %d location %q", target, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})
}

func TestWrongPasswordGivesNoCode(t *testing.T) {
	srv := start(t)
	p := provider(t, srv, "cafcass")
	cfg := &oauth2.Config{ClientID: "portal", ClientSecret: "dev-portal-secret", Endpoint: p.Endpoint(),
		RedirectURL: portalURL + "/auth/cafcass/callback", Scopes: []string{oidc.ScopeOpenID}}
	if code := codeFor(t, srv, cfg, "uploader@cafcass.example", "wrong", oauth2.GenerateVerifier()); code != "" {
		t.Fatal("a wrong password produced a code")
	}
	if code := codeFor(t, srv, cfg, "lead@ofsted.example", DemoPassword, oauth2.GenerateVerifier()); code != "" {
		t.Fatal("an ofsted account signed in at the cafcass issuer")
	}
}

// TestClaimsPerAccountAndClient: an account's acr and amr reach its ID
// token, and a client that takes claims from userinfo only gets none of
// email and name in the ID token but all of them from userinfo.
func TestClaimsPerAccountAndClient(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	cfg := DemoConfig(base, portalURL)
	cfg.Issuers[1].Clients = append(cfg.Issuers[1].Clients, Client{ID: "quiet", Secret: "quiet-secret",
		RedirectURIs: []string{portalURL + "/auth/ofsted/callback"}, ClaimsOnlyFromUserinfo: true})
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	p := provider(t, srv, "ofsted")
	ctx := context.Background()
	for _, tc := range []struct {
		client, user string
		amr          []string
		acr          string
		emailInToken bool
	}{
		{"portal", "lead@ofsted.example", []string{"pwd", "otp", "mfa"}, "urn:portal:dev:mfa", true},
		{"portal", PasswordOnlyUser, []string{"pwd"}, "", true},
		{"quiet", "lead@ofsted.example", []string{"pwd", "otp", "mfa"}, "urn:portal:dev:mfa", false},
	} {
		secret := map[string]string{"portal": "dev-portal-secret", "quiet": "quiet-secret"}[tc.client]
		cfg := &oauth2.Config{ClientID: tc.client, ClientSecret: secret, Endpoint: p.Endpoint(),
			RedirectURL: portalURL + "/auth/ofsted/callback", Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
		verifier := oauth2.GenerateVerifier()
		tok, err := cfg.Exchange(ctx, codeFor(t, srv, cfg, tc.user, DemoPassword, verifier), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := p.Verifier(&oidc.Config{ClientID: tc.client}).Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Email string   `json:"email"`
			ACR   string   `json:"acr"`
			AMR   []string `json:"amr"`
		}
		idt.Claims(&c)
		if strings.Join(c.AMR, " ") != strings.Join(tc.amr, " ") || c.ACR != tc.acr || (c.Email != "") != tc.emailInToken {
			t.Errorf("%s as %s: ID token claims %+v", tc.client, tc.user, c)
		}
		ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || ui.Email != tc.user || ui.Subject != idt.Subject {
			t.Errorf("%s as %s: userinfo %+v, %v", tc.client, tc.user, ui, err)
		}
	}
}
