package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/ofsted-portal/evidence/portal"
)

// identityProvider is one configured OpenID Provider. Discovery happens on
// first use and is retried until it succeeds, so the portal starts even when
// a provider is briefly down.
type identityProvider struct {
	cfg       portal.IdPConfig
	publicURL string
	client    *http.Client
	now       func() time.Time

	mu         sync.Mutex
	provider   *oidc.Provider
	oauth      *oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession string
}

func newIdentityProvider(cfg portal.IdPConfig, publicURL string, client *http.Client, now func() time.Time) *identityProvider {
	return &identityProvider{cfg: cfg, publicURL: publicURL, client: client, now: now}
}

func (p *identityProvider) context(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, p.client)
}

// discover loads the provider's metadata once.
func (p *identityProvider) discover(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.provider != nil {
		return nil
	}
	prov, err := oidc.NewProvider(p.context(ctx), p.cfg.Issuer)
	if err != nil {
		return fmt.Errorf("discover %s: %w", p.cfg.Issuer, err)
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = prov.Claims(&extra)
	p.provider = prov
	p.endSession = extra.EndSession
	p.oauth = &oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint:     prov.Endpoint(),
		RedirectURL:  p.publicURL + "/auth/" + p.cfg.Name + "/callback",
		Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
	}
	p.verifier = prov.Verifier(&oidc.Config{ClientID: p.cfg.ClientID, Now: p.now})
	return nil
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// maxReturnTo bounds return_to: it travels in the sign-in cookie.
const maxReturnTo = 512

// safeReturnTo keeps redirects after sign-in on this site. Browsers parse a
// Location by the WHATWG URL Standard, which drops TAB, LF and CR, trims
// controls and spaces, and reads "\" as "/": so "/\t/evil.example" becomes
// "//evil.example", another site. Only a path of printable ASCII without
// "\" that starts with exactly one "/" is taken; whatever a browser does
// with it, it stays a path on this origin (tests check it against the
// standard as Node and Chromium implement it).
func safeReturnTo(s string) string {
	const fallback = "/visits"
	if s == "" || len(s) > maxReturnTo || s[0] != '/' || len(s) > 1 && s[1] == '/' {
		return fallback
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return fallback
		}
	}
	return s
}

// login starts the authorization code flow with state, nonce and PKCE.
func (s *Server) login(c *gin.Context) {
	p, ok := s.idps[c.Param("idp")]
	if !ok {
		s.fail(c, errNotFound)
		return
	}
	if err := p.discover(c.Request.Context()); err != nil {
		s.log.Error("identity provider unavailable", "idp", p.cfg.Name, "err", err)
		s.fail(c, &httpError{status: http.StatusServiceUnavailable, code: "idp_unavailable",
			msg: "Sign-in with " + p.cfg.DisplayName + " is not available at the moment. Try again in a few minutes."})
		return
	}
	pl := pendingLogin{
		State:    randomToken(),
		Nonce:    randomToken(),
		Verifier: oauth2.GenerateVerifier(),
		IdP:      p.cfg.Name,
		ReturnTo: safeReturnTo(c.Query("return_to")),
		Started:  s.svc.Now(),
	}
	s.addPendingLogin(c.Request.Context(), pl)
	u := p.oauth.AuthCodeURL(pl.State, oidc.Nonce(pl.Nonce), oauth2.S256ChallengeOption(pl.Verifier))
	c.Redirect(http.StatusSeeOther, u)
}

// requestActor is where the request comes from, before anyone is signed in.
func (s *Server) requestActor(c *gin.Context) portal.Actor {
	return portal.Actor{ClientIP: c.ClientIP(), UserAgent: c.Request.UserAgent(), RequestID: requestID(c), Via: c.FullPath()}
}

// signInError is a refused sign-in: the reason goes to the log, the person
// sees a fixed message.
type signInError struct{ reason string }

func (e signInError) Error() string { return "sign-in refused: " + e.reason }

// callback finishes sign-in. Whatever fails, no session survives it.
func (s *Server) callback(c *gin.Context) {
	ctx := c.Request.Context()
	user, returnTo, err := s.finishSignIn(c)
	if err != nil {
		_ = s.sessions.Destroy(ctx)
		reason := "error"
		var se signInError
		if errors.As(err, &se) {
			reason = se.reason
		}
		if aerr := s.svc.RecordSignInFailure(ctx, s.requestActor(c), c.Param("idp"), reason); aerr != nil {
			s.log.Error("audit sign-in failure", "err", aerr)
		}
		if !errors.As(err, &se) {
			s.log.Error("sign-in failed", "request_id", requestID(c), "idp", c.Param("idp"), "err", err)
		} else {
			s.log.Warn("sign-in refused", "request_id", requestID(c), "idp", c.Param("idp"), "reason", se.reason)
		}
		s.fail(c, &httpError{status: http.StatusUnauthorized, code: "sign_in_failed",
			msg: "We could not sign you in. The sign-in link may have expired or been used already. Start again from the sign-in page."})
		return
	}
	// A new session id at sign-in: a token planted before sign-in is useless.
	if err := s.sessions.RenewToken(ctx); err != nil {
		s.fail(c, err)
		return
	}
	s.sessions.Remove(ctx, sessLogins)
	s.sessions.Put(ctx, portal.SessionUserKey, user.userID)
	s.sessions.Put(ctx, sessIdP, user.idp)
	s.sessions.Put(ctx, sessIDToken, user.rawIDToken)
	s.sessions.Put(ctx, sessSignedIn, s.svc.Now().Unix())
	s.log.Info("signed in", "request_id", requestID(c), "idp", user.idp, "user", user.userID)
	c.Redirect(http.StatusSeeOther, returnTo)
}

type signedIn struct {
	userID, idp, rawIDToken string
}

func (s *Server) finishSignIn(c *gin.Context) (signedIn, string, error) {
	ctx := c.Request.Context()
	name := c.Param("idp")
	p, ok := s.idps[name]
	if !ok {
		return signedIn{}, "", signInError{"unknown identity provider"}
	}
	pl, ok := s.takePendingLogin(ctx, c.Query("state"))
	if !ok {
		return signedIn{}, "", signInError{"unknown, used or expired state"}
	}
	// The provider is the one recorded when sign-in started, never one
	// chosen by the callback URL or the token.
	if pl.IdP != name {
		return signedIn{}, "", signInError{"callback for another identity provider"}
	}
	if e := c.Query("error"); e != "" {
		return signedIn{}, "", signInError{"provider returned error " + e}
	}
	code := c.Query("code")
	if code == "" {
		return signedIn{}, "", signInError{"no code"}
	}
	if err := p.discover(ctx); err != nil {
		return signedIn{}, "", err
	}
	tok, err := p.oauth.Exchange(p.context(ctx), code, oauth2.VerifierOption(pl.Verifier))
	if err != nil {
		return signedIn{}, "", signInError{"code exchange refused"}
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return signedIn{}, "", signInError{"no id_token in token response"}
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return signedIn{}, "", signInError{"id_token expired"}
		}
		return signedIn{}, "", signInError{"id_token did not verify"}
	}
	// go-oidc leaves the nonce to us.
	if idt.Nonce == "" || !constantTimeEqual(idt.Nonce, pl.Nonce) {
		return signedIn{}, "", signInError{"nonce mismatch"}
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return signedIn{}, "", signInError{"unreadable claims"}
	}
	email, _ := claims[p.cfg.EmailClaim].(string)
	if v, ok := claims["email_verified"].(bool); ok && !v {
		email = "" // an unverified email binds nothing
	}
	display, _ := claims["name"].(string)
	a, err := s.svc.SignIn(ctx, s.requestActor(c), portal.Identity{IdP: name, Issuer: idt.Issuer, Subject: idt.Subject, Email: email, Name: display})
	if err != nil {
		return signedIn{}, "", err
	}
	return signedIn{userID: a.UserID, idp: name, rawIDToken: raw}, pl.ReturnTo, nil
}

// logout ends the session here, then at the provider when it supports
// RP-initiated logout.
func (s *Server) logout(c *gin.Context) {
	ctx := c.Request.Context()
	idpName := s.sessions.GetString(ctx, sessIdP)
	rawID := s.sessions.GetString(ctx, sessIDToken)
	uid := s.sessions.GetString(ctx, portal.SessionUserKey)
	if a, err := s.actorOf(c); err == nil {
		if err := s.svc.RecordSignOut(ctx, a); err != nil {
			s.fail(c, err)
			return
		}
	}
	if err := s.sessions.Destroy(ctx); err != nil {
		s.fail(c, err)
		return
	}
	if uid != "" {
		s.log.Info("signed out", "request_id", requestID(c), "user", uid)
	}
	target := "/"
	if p, ok := s.idps[idpName]; ok && rawID != "" && p.discover(ctx) == nil && p.endSession != "" {
		q := url.Values{}
		q.Set("id_token_hint", rawID)
		q.Set("client_id", p.cfg.ClientID)
		q.Set("post_logout_redirect_uri", s.cfg.PublicURL+"/")
		target = p.endSession + "?" + q.Encode()
	}
	c.Redirect(http.StatusSeeOther, target)
}
