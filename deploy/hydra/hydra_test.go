package hydra

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestHydra signs in through a real Hydra with a plain HTTP client, as the
// portal does: discovery, the login form, the code flow with PKCE, ID token
// verification, userinfo, refused consent and RP-initiated logout.
func TestHydra(t *testing.T) {
	h := start(t)
	ctx := context.Background()

	full := Client{ID: "portal", Secret: "portal-secret", RedirectURIs: []string{redirectURI}, PostLogoutRedirectURIs: []string{postLogoutURI}}
	subOnly := Client{ID: "portal-sub-only", Secret: "portal-secret-2", RedirectURIs: []string{redirectURI}, NoEmailInIDToken: true}
	for _, c := range []Client{full, subOnly} {
		if err := h.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	alice := User{Username: "alice", Password: "alice-password", Subject: "sub-alice", Email: "alice@cafcass.example",
		Name: "Alice Example", AMR: []string{"pwd", "mfa"}, ACR: "urn:example:loa:2"}
	bob := User{Username: "bob", Password: "bob-password", Subject: "sub-bob", Email: "bob@ofsted.example", Name: "Bob Example"}
	carol := User{Username: "carol", Password: "carol-password", Email: "carol@ofsted.example"}
	for _, u := range []User{alice, bob, carol} {
		h.AddUser(u)
	}
	h.RefuseConsent("carol")

	var discovery struct {
		Issuer         string   `json:"issuer"`
		EndSession     string   `json:"end_session_endpoint"`
		Userinfo       string   `json:"userinfo_endpoint"`
		CodeChallenges []string `json:"code_challenge_methods_supported"`
	}
	if err := getJSON(ctx, strings.TrimSuffix(h.Issuer(), "/")+"/.well-known/openid-configuration", &discovery); err != nil {
		t.Fatalf("discovery: %v", err)
	}
	t.Run("discovery", func(t *testing.T) {
		if discovery.Issuer != h.Issuer() {
			t.Errorf("discovery issuer %q, Issuer() %q", discovery.Issuer, h.Issuer())
		}
		if discovery.EndSession == "" {
			t.Error("no end_session_endpoint")
		}
		if !slices.Contains(discovery.CodeChallenges, "S256") {
			t.Errorf("PKCE methods %v lack S256", discovery.CodeChallenges)
		}
	})
	p, err := oidc.NewProvider(ctx, h.Issuer())
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}

	t.Run("sign in", func(t *testing.T) {
		f := newFlow(p, full)
		f.cfg.Scopes = append(f.cfg.Scopes, "offline_access") // Hydra's condition for a refresh token
		tok, id := f.exchange(t, p, f.signIn(t, browser(), "alice", "alice-password"))
		var c struct {
			Email         string   `json:"email"`
			EmailVerified bool     `json:"email_verified"`
			Name          string   `json:"name"`
			AMR           []string `json:"amr"`
			ACR           string   `json:"acr"`
		}
		if err := id.Claims(&c); err != nil {
			t.Fatal(err)
		}
		if id.Subject != alice.Subject || c.Email != alice.Email || !c.EmailVerified || c.Name != alice.Name {
			t.Errorf("ID token sub %q email %q verified %v name %q", id.Subject, c.Email, c.EmailVerified, c.Name)
		}
		if !slices.Equal(c.AMR, alice.AMR) || c.ACR != alice.ACR {
			t.Errorf("amr %v acr %q, want %v %q", c.AMR, c.ACR, alice.AMR, alice.ACR)
		}
		info, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		if info.Subject != alice.Subject || info.Email != alice.Email {
			t.Errorf("userinfo sub %q email %q", info.Subject, info.Email)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token")
		}
		refreshed, err := f.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil || refreshed.AccessToken == "" || refreshed.AccessToken == tok.AccessToken {
			t.Errorf("refresh: %v", err)
		}
	})

	t.Run("wrong password shows the form again", func(t *testing.T) {
		f := newFlow(p, full)
		b := browser()
		resp, err := b.Get(f.cfg.AuthCodeURL(f.state, oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = b.PostForm(resp.Request.URL.String(), url.Values{"username": {"alice"}, "password": {"wrong"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("wrong password: %d, want 401", resp.StatusCode)
		}
	})

	t.Run("no email in the ID token, email from userinfo", func(t *testing.T) {
		f := newFlow(p, subOnly)
		tok, id := f.exchange(t, p, f.signIn(t, browser(), "bob", "bob-password"))
		var claims map[string]any
		if err := id.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"email", "email_verified", "name"} {
			if v, ok := claims[k]; ok {
				t.Errorf("ID token has %s = %v", k, v)
			}
		}
		info, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		var more struct {
			Name string `json:"name"`
		}
		if err := info.Claims(&more); err != nil {
			t.Fatal(err)
		}
		if info.Subject != id.Subject || info.Email != bob.Email || !info.EmailVerified || more.Name != bob.Name {
			t.Errorf("userinfo sub %q (ID token %q) email %q verified %v name %q", info.Subject, id.Subject, info.Email, info.EmailVerified, more.Name)
		}
	})

	t.Run("refused consent", func(t *testing.T) {
		f := newFlow(p, full)
		q := f.signIn(t, browser(), "carol", "carol-password")
		if q.Get("error") != "access_denied" || q.Get("code") != "" || q.Get("state") != f.state {
			t.Errorf("refused consent ended with %v, want error=access_denied and the state", q)
		}
	})

	t.Run("userinfo refuses a bad token", func(t *testing.T) {
		_, err := p.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "not-a-token"}))
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("userinfo with a bad token: %v, want 401", err)
		}
	})

	t.Run("logout ends the provider's session", func(t *testing.T) {
		f := newFlow(p, full)
		b := browser()
		tok, _ := f.exchange(t, p, f.signIn(t, b, "alice", "alice-password"))
		idToken, _ := tok.Extra("id_token").(string)
		// Signed in: Hydra remembers the browser and skips the form.
		again := newFlow(p, full)
		resp, err := b.Get(again.cfg.AuthCodeURL(again.state, oidc.Nonce(again.nonce), oauth2.S256ChallengeOption(again.verifier)))
		if err != nil {
			t.Fatal(err)
		}
		if q, ok := atRP(resp); !ok || q.Get("code") == "" {
			t.Fatalf("second sign-in in the same browser did not skip the form: %d %s", resp.StatusCode, resp.Request.URL)
		}
		logout := discovery.EndSession + "?" + url.Values{"id_token_hint": {idToken},
			"post_logout_redirect_uri": {postLogoutURI}, "state": {"bye"}}.Encode()
		resp, err = b.Get(logout)
		if err != nil {
			t.Fatal(err)
		}
		if q, ok := atRP(resp); !ok || resp.Header.Get("Location") != postLogoutURI+"?state=bye" {
			t.Fatalf("logout ended at %d %s %q (%v)", resp.StatusCode, resp.Request.URL, resp.Header.Get("Location"), q)
		}
		resp, err = b.Get(again.cfg.AuthCodeURL(again.state, oidc.Nonce(again.nonce), oauth2.S256ChallengeOption(again.verifier)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/login" {
			t.Errorf("after logout: %d at %s, want the login form", resp.StatusCode, resp.Request.URL)
		}
	})
}
