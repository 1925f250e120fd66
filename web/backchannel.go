package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

// Back-channel logout (OpenID Connect Back-Channel Logout 1.0): an identity
// provider posts a logout token to /auth/{idp}/backchannel-logout, server
// to server, and the portal ends the sessions it names
// (portal.BackChannelLogout). The token is the request's only authority
// (no cookie is read; the cross-origin check lets a server's request,
// which carries no Origin or Sec-Fetch-Site, through): it is taken only as the specification's section 2.6 says, signed with the
// provider's keys for the portal's client id, recent, with the
// back-channel logout event, a sub or a sid, no nonce (which keeps an ID
// token from passing for one), and a jti never used before on any
// instance. The answer is 200 with no body, or 400 with a JSON error
// (error, error_description), never cached. Refused requests count
// against the client address (logoutFailureRate): each may make the
// portal fetch the provider's keys again.

// backchannelRoute is where each provider posts: the provider is the one
// the path names, as at its sign-in callback.
const backchannelRoute = "/auth/:idp/backchannel-logout"

// backchannelEvent is the member of the events claim that makes a JWT a
// logout token.
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

const (
	// logoutTokenMaxAge is how old (by its iat) a logout token may be.
	// Providers send it at once and retry for a minute or two; the
	// specification suggests tokens live at most two minutes.
	logoutTokenMaxAge = 5 * time.Minute
	// logoutTokenSkew is how far ahead of the portal's clock a
	// provider's may be.
	logoutTokenSkew = 2 * time.Minute
	// maxLogoutClaim bounds jti, sub and sid (a subject is at most 255
	// ASCII characters, OpenID Connect Core section 2).
	maxLogoutClaim = 255
)

// logoutFailureRate is how many refused back-channel logouts a client
// address may send: 30 a minute, far more than a provider that sends
// well-formed tokens meets.
var logoutFailureRate = portal.Rate{N: 30, Per: time.Minute}

// logoutClaims is what a logout token that passed says.
type logoutClaims struct {
	Issuer, Subject, SID, JTI string
	IssuedAt                  time.Time
}

// logoutTokenError is a refused logout token. Its reason is the answer's
// error_description and goes to the log: words of the portal's, never the
// token's own.
type logoutTokenError struct{ reason string }

func (e logoutTokenError) Error() string { return "logout token refused: " + e.reason }

// verifyLogoutToken checks raw as a logout token for v's provider and
// client at now (Back-Channel Logout 1.0 section 2.6; the jti's replay is
// the store's to refuse).
func verifyLogoutToken(ctx context.Context, v *oidc.IDTokenVerifier, raw string, now time.Time) (logoutClaims, error) {
	refuse := func(reason string) (logoutClaims, error) { return logoutClaims{}, logoutTokenError{reason} }
	if raw == "" {
		return refuse("no logout_token")
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		// go-oidc's words may quote the token's claims: not repeated.
		return refuse("the logout token did not verify: its signature, issuer or audience is not the provider's for this portal")
	}
	var claims map[string]json.RawMessage
	if err := tok.Claims(&claims); err != nil {
		return refuse("the logout token's claims are not a JSON object")
	}
	if _, ok := claims["nonce"]; ok {
		return refuse("the logout token carries a nonce, which a logout token must not")
	}
	var events map[string]json.RawMessage
	if err := json.Unmarshal(claims["events"], &events); err != nil || events == nil {
		return refuse("the logout token has no events claim holding a JSON object")
	}
	event, ok := events[backchannelEvent]
	var member map[string]any
	if !ok || !bytes.HasPrefix(bytes.TrimSpace(event), []byte("{")) || json.Unmarshal(event, &member) != nil {
		return refuse("the logout token's events claim has no back-channel logout event whose value is a JSON object")
	}
	switch {
	case tok.IssuedAt.IsZero():
		return refuse("the logout token has no iat")
	case tok.IssuedAt.After(now.Add(logoutTokenSkew)):
		return refuse("the logout token was issued in the future (iat)")
	case tok.IssuedAt.Before(now.Add(-logoutTokenMaxAge)):
		return refuse("the logout token was issued too long ago (iat)")
	}
	if _, ok := claims["exp"]; ok && !tok.Expiry.After(now) {
		return refuse("the logout token has expired (exp)")
	}
	c := logoutClaims{Issuer: tok.Issuer, IssuedAt: tok.IssuedAt}
	for _, f := range []struct {
		name     string
		to       *string
		required bool
	}{{"sub", &c.Subject, false}, {"sid", &c.SID, false}, {"jti", &c.JTI, true}} {
		value, present := claims[f.name]
		if !present {
			if f.required {
				return refuse("the logout token has no " + f.name)
			}
			continue
		}
		if json.Unmarshal(value, f.to) != nil || *f.to == "" || len(*f.to) > maxLogoutClaim {
			return refuse("the logout token's " + f.name + " is not a string of 1 to " + strconv.Itoa(maxLogoutClaim) + " characters")
		}
	}
	if c.Subject == "" && c.SID == "" {
		return refuse("the logout token has neither sub nor sid")
	}
	return c, nil
}

// backchannelLogout ends the sessions a provider's logout token names.
func (s *Server) backchannelLogout(c *gin.Context) {
	ctx := c.Request.Context()
	name := c.Param("idp")
	p, ok := s.idps[name]
	if !ok {
		s.logoutAnswer(c, http.StatusNotFound, "invalid_request", "not_found", "No identity provider of the portal's answers here.")
		return
	}
	ip, token := c.ClientIP(), c.PostForm("logout_token")
	// An address that has sent too many refused tokens is held back, but
	// only from what costs the provider or the portal: a discovery, or
	// a fetch of the provider's keys. A token that verifies against the
	// keys held since discovery (no fetch) is checked whatever its
	// address has sent, so that a sender sharing the provider's address
	// (an office's NAT, an ingress not in PORTAL_TRUSTED_PROXIES) cannot
	// keep the provider's logouts, and the sessions they end, out.
	blocked, wait := s.logoutFailures.blocked(ip)
	d := p.current.Load()
	if blocked && (d == nil || !d.keys.admitsHeldBack(ctx, token)) {
		c.Header("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		s.log.Warn("back-channel logout rate limited", "request_id", requestID(c), "idp", name, "client_ip", ip)
		s.logoutAnswer(c, http.StatusTooManyRequests, "invalid_request", "too_many_logouts", "Too many refused logout requests have come from this address: wait, then try again.")
		return
	}
	d, err := p.ready(ctx)
	if err != nil {
		s.log.Warn("back-channel logout: identity provider unavailable", "request_id", requestID(c), "idp", name, "problem", p.Problem())
		s.logoutAnswer(c, http.StatusBadRequest, "temporarily_unavailable", "idp_unavailable", "The portal cannot read this identity provider's keys at the moment: try again later.")
		return
	}
	verifier := d.logoutVerifier
	if blocked {
		verifier = d.heldLogoutVerifier // let through as it verifies against the keys held: checked with them alone
	}
	claims, err := verifyLogoutToken(ctx, verifier, token, s.svc.Now())
	var refused logoutTokenError
	if errors.As(err, &refused) {
		s.logoutFailures.allow(ip)
		s.log.Warn("back-channel logout refused", "request_id", requestID(c), "idp", name, "reason", refused.reason)
		s.logoutAnswer(c, http.StatusBadRequest, "invalid_request", "logout_token_refused", refused.reason)
		return
	}
	ended, err := s.svc.BackChannelLogout(ctx, s.requestActor(c), portal.LogoutToken{
		IdP: name, Issuer: claims.Issuer, Subject: claims.Subject, SID: claims.SID, JTI: claims.JTI, IssuedAt: claims.IssuedAt,
		KeepUntil: claims.IssuedAt.Add(logoutTokenMaxAge + logoutTokenSkew),
	})
	switch {
	case errors.Is(err, portal.ErrLogoutTokenUsed):
		s.logoutFailures.allow(ip)
		s.log.Warn("back-channel logout refused", "request_id", requestID(c), "idp", name, "reason", "replayed")
		s.logoutAnswer(c, http.StatusBadRequest, "invalid_request", "logout_token_refused", "the logout token has been used already (its jti)")
		return
	case err != nil:
		// The specification answers a logout that failed with 400 too;
		// the provider may send it again, and the token is not taken.
		s.log.Error("back-channel logout failed", "request_id", requestID(c), "idp", name, "err", err)
		s.logoutAnswer(c, http.StatusBadRequest, "temporarily_unavailable", "logout_failed", "The portal could not end the sessions at the moment: try again later.")
		return
	}
	s.log.Info("back-channel logout", "request_id", requestID(c), "idp", name, "by_session", claims.SID != "", "ended", ended)
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
}

// logoutAnswer refuses a back-channel logout as the specification says: a
// JSON object with error and error_description (OAuth 2.0's form), never
// cached. code names the refusal in the request log.
func (s *Server) logoutAnswer(c *gin.Context, status int, oauthError, code, description string) {
	c.Set(errorCodeKey, code)
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(status, gin.H{"error": oauthError, "error_description": description})
}
