package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Sign-in is OpenID Connect's authorization code flow with state, nonce and
// PKCE (S256), started at /auth/{idp}/login and finished at its callback.
// What a person may do depends only on the verified ID token's issuer and
// subject (and the email the provider vouches for, from the ID token or
// else from userinfo); the provider is always the one recorded when the
// sign-in started, never one the callback or the token names.

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

// tooMany answers a client address over a sign-in limit.
func (s *Server) tooMany(c *gin.Context, wait time.Duration) {
	mins := int(wait.Minutes()) + 1
	c.Header("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	s.log.Warn("sign-in rate limited", "request_id", requestID(c), "idp", c.Param("idp"), "client_ip", c.ClientIP())
	s.fail(c, &httpError{http.StatusTooManyRequests, "too_many_sign_ins",
		fmt.Sprintf("Too many sign-in attempts have come from your network. Wait %s, then try again.", plural(mins, "minute"))})
}

// login starts the authorization code flow with state, nonce and PKCE. It
// writes nothing on the server: the sign-in rides in a cookie.
func (s *Server) login(c *gin.Context) {
	p, ok := s.idps[c.Param("idp")]
	if !ok {
		s.fail(c, errNotFound)
		return
	}
	if embeddedElsewhere(c) {
		s.fail(c, errCrossOrigin)
		return
	}
	if blocked, wait := s.signInFailures.blocked(c.ClientIP()); blocked {
		s.tooMany(c, wait)
		return
	}
	d, err := p.ready(c.Request.Context())
	if err != nil {
		// Not a start to count: people who keep trying through an
		// outage can start at once when it ends.
		s.log.Warn("identity provider unavailable", "request_id", requestID(c), "idp", p.cfg.Name, "problem", p.Problem())
		s.fail(c, errIdPUnavailable(p))
		return
	}
	if ok, wait := s.signInStarts.allow(c.ClientIP()); !ok {
		s.tooMany(c, wait)
		return
	}
	pl := pendingLogin{
		State:    randomToken(),
		Nonce:    randomToken(),
		Verifier: oauth2.GenerateVerifier(),
		IdP:      p.cfg.Name,
		ReturnTo: safeReturnTo(c.Query("return_to")),
		Started:  time.Now().Unix(),
	}
	s.setPendingLogins(c, append(s.pendingLogins(c), pl))
	opts := []oauth2.AuthCodeOption{oidc.Nonce(pl.Nonce), oauth2.S256ChallengeOption(pl.Verifier)}
	if len(p.cfg.RequireACR) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", strings.Join(p.cfg.RequireACR, " ")))
	}
	c.Redirect(http.StatusSeeOther, d.oauth.AuthCodeURL(pl.State, opts...))
}

// errIdPUnavailable answers a sign-in the provider cannot take now.
func errIdPUnavailable(p *identityProvider) *httpError {
	msg := "Sign-in with " + p.cfg.DisplayName + " is not available at the moment. Try again later, or contact the portal team if it goes on."
	if p.misconfigured.Load() {
		msg = "Sign-in with " + p.cfg.DisplayName + " cannot be used: the portal’s settings for it are wrong. Contact the portal team: waiting will not help."
	}
	return &httpError{status: http.StatusServiceUnavailable, code: "idp_unavailable", msg: msg}
}

// embeddedElsewhere reports a request that another site's page made
// without the person going anywhere: an image, a script, a frame. The
// sign-in limit is per client address, which everyone behind an office's
// NAT shares, so a page that embeds the sign-in start many times must not
// spend it for them. Going to it as a page (a link, a redirect) from
// anywhere, and clients without fetch metadata, are not affected.
func embeddedElsewhere(c *gin.Context) bool {
	switch c.GetHeader("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return c.GetHeader("Sec-Fetch-Mode") != "navigate" || c.GetHeader("Sec-Fetch-Dest") != "document"
	}
	return false
}

// requestActor is where the request comes from, before anyone is signed in.
// It carries the request's session and the provider's session it was
// signed in under, which the domain keeps only for a signed-in person.
func (s *Server) requestActor(c *gin.Context) portal.Actor {
	a := portal.Actor{ClientIP: c.ClientIP(), UserAgent: c.Request.UserAgent(), RequestID: requestID(c), Via: c.FullPath(), IdPSession: loadedIdPSession(c),
		Session: loadedSessionKey(c)}
	if a.Session != "" {
		a.SessionUntil = s.sessions.Deadline(c.Request.Context())
	}
	return a
}

// signInError is a refused sign-in: the reason goes to the log and the
// trail, the person sees a fixed message (secondFactor: the one that says
// to use a second factor).
type signInError struct {
	reason       string
	secondFactor bool
	disabled     bool // the person is disabled: the page says so (errAccessDisabled)
	// unavailable: the provider, not the person, failed (it could not be
	// reached, or it answered that it failed). The sign-in is recorded,
	// but it does not count against the client address, and the page
	// says to try later (errIdPUnavailable).
	unavailable bool
	// denied: the provider answered access_denied (the person cancelled,
	// or may not use the portal): the page says so (errSignInDenied).
	denied bool
}

// providerFailed reports an error of a request to the provider that says
// nothing of the sign-in: no answer (the provider down, the portal's way
// to it cut, a time-out) or an answer 5xx. A refusal (4xx, such as
// invalid_grant for a code used already) is not one.
func providerFailed(err error) bool {
	if err == nil {
		return false
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.Response != nil && re.Response.StatusCode >= 500
	}
	if code := answeredStatus(err); code != 0 {
		return code >= 500
	}
	var ue *url.Error
	return errors.As(err, &ue)
}

// unavailableAt is the refusal of a sign-in whose request to the
// provider's endpoint failed as providerFailed says. When the browser went
// away meanwhile (its request's context ended, which ends the request to
// the provider too), the provider is not the one that failed: it is a
// failed sign-in, as a browser gone during the database's part is.
func (s *Server) unavailableAt(c *gin.Context, endpoint string, err error) signInError {
	if c.Request.Context().Err() != nil {
		return signInError{reason: "abandoned by the browser (" + endpoint + ")"}
	}
	// A provider's answer goes to the log as its status (and error code):
	// its body can hold anything, what the portal sent among it. A
	// request that got no answer logs why.
	attrs := []any{"request_id", requestID(c), "idp", c.Param("idp"), "endpoint", endpoint}
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		attrs = append(attrs, "status", status, "error_code", providerError(re.ErrorCode))
	case answeredStatus(err) != 0:
		attrs = append(attrs, "status", answeredStatus(err))
	default:
		attrs = append(attrs, "err", err)
	}
	s.log.Error("identity provider unavailable at sign-in", attrs...)
	return signInError{reason: "identity provider unavailable (" + endpoint + ")", unavailable: true}
}

func (e signInError) Error() string { return "sign-in refused: " + e.reason }

var (
	errSignInFailed = &httpError{http.StatusUnauthorized, "sign_in_failed",
		"We could not sign you in. The sign-in link may have expired or been used already. Start again from the sign-in page."}
)

// errAccessDisabled answers a disabled person: their sign-in, and the next
// request of a session they had. It says whom to ask, as the contact page
// does.
func (s *Server) errAccessDisabled() *httpError {
	contact := "Contact the portal team if you think this is wrong."
	if e := s.cfg.Service.ContactEmail; e != "" {
		contact = "Contact the portal team at " + e + " if you think this is wrong."
	}
	return &httpError{http.StatusForbidden, "access_disabled",
		"Your access to the portal has been disabled, so you cannot sign in. " + contact}
}

// errProviderSignedOut answers a sign-in whose session the identity
// provider ended (a back-channel logout) while the portal was finishing
// it.
func errProviderSignedOut(display string) *httpError {
	return &httpError{http.StatusUnauthorized, "signed_out_by_provider",
		"Your sign-in with " + display + " ended there while the portal was signing you in. Sign in again."}
}

func errSignInDenied(display string) *httpError {
	return &httpError{http.StatusUnauthorized, "sign_in_denied",
		"Sign-in with " + display + " was cancelled or refused, so you are not signed in. Start again from the sign-in page. If you did not cancel, ask your organisation’s IT service desk whether your account may use the portal."}
}

func errSecondFactor(display string) *httpError {
	return &httpError{http.StatusUnauthorized, "second_factor_required",
		"Your sign-in with " + display + " did not use a second factor. Sign in again and use your second factor (such as a code from an authenticator app, or a security key). If you are not asked for one, contact your organisation’s IT service desk."}
}

// callback finishes sign-in. Whatever fails, no session survives it.
//
// A callback that ends no sign-in this browser started (no sign-in cookie,
// or no entry with its state) is nobody's failed sign-in: a stale or
// replayed link, or a request another site made the browser send (a link,
// an image). It is refused with the same page, but it does not count
// against the client address's failure limit (which would lock out
// everyone behind that address), it leaves the browser's session alone (a
// link would otherwise sign a person out), and it writes nothing to the
// trail (the request log has it).
func (s *Server) callback(c *gin.Context) {
	ctx := c.Request.Context()
	pl, ok := s.takePendingLogin(c, c.Query("state"))
	if !ok {
		s.fail(c, errSignInFailed)
		return
	}
	if blocked, wait := s.signInFailures.blocked(c.ClientIP()); blocked {
		s.tooMany(c, wait)
		return
	}
	user, err := s.finishSignIn(c, pl)
	if err == nil {
		s.endReplacedSession(c)
		// A new session id at sign-in: a token planted before is useless.
		if err = s.sessions.RenewToken(ctx); err == nil {
			s.sessions.Put(ctx, portal.SessionUserKey, user.userID)
			s.sessions.Put(ctx, sessIdP, user.idp)
			s.sessions.Put(ctx, sessIDToken, s.sealIDToken(user.rawIDToken))
			s.sessions.Put(ctx, sessSignedIn, s.svc.Now().Unix())
			s.sessions.Put(ctx, sessEpoch, user.epoch)
			err = s.saveNewSession(c, user.actor.IdPSession, func(ctx context.Context) error {
				return s.svc.CheckProviderSession(ctx, user.actor, user.idp, user.issuedAt)
			})
		}
		if err != nil {
			// Whatever failed (the old token's deletion, the new
			// session's saving), the browser keeps no session: not the
			// one it held, which may still be stored as it was.
			s.dropSession(c)
			// The sign-in is in the trail: so is the end of the session
			// it never held (a provider's sign-out records its own).
			if !errors.Is(err, portal.ErrProviderSignedOut) {
				if rerr := s.svc.RecordSessionNotSaved(ctx, user.actor); rerr != nil {
					s.log.Error("record the end of a session not saved", "request_id", requestID(c), "user", user.userID, "err", rerr)
				}
			}
		}
		if errors.Is(err, portal.ErrProviderSignedOut) {
			s.log.Warn("sign-in ended: the identity provider ended its session as the portal finished it", "request_id", requestID(c), "idp", user.idp, "user", user.userID)
			s.fail(c, errProviderSignedOut(s.idps[user.idp].cfg.DisplayName))
			return
		}
		if err != nil {
			s.fail(c, err)
			return
		}
		s.log.Info("signed in", "request_id", requestID(c), "idp", user.idp, "user", user.userID)
		c.Redirect(http.StatusSeeOther, pl.ReturnTo)
		return
	}
	// A sign-in that fails ends the session the browser held too, as one
	// that succeeds does: its person's sign-out is recorded first.
	if a, aerr := s.actorOf(c); aerr == nil && a.SignedIn() {
		if rerr := s.svc.RecordSessionEndedBySignIn(ctx, a); rerr != nil {
			s.log.Error("audit sign-out of a session a failed sign-in ended", "request_id", requestID(c), "user", a.UserID, "err", rerr)
		}
	}
	if derr := s.sessions.Destroy(ctx); derr != nil {
		// Not ended in the store (the database busy): the response
		// would save it again, with its person, and send its cookie
		// back. The browser is told to drop it instead.
		s.log.Error("sign-in failed, and the session the browser held was not ended in the store: the browser drops it", "request_id", requestID(c), "err", derr)
		s.dropSession(c)
	}
	if store.IsUnavailable(err) {
		// The portal's database, not the person or their provider: not
		// a failed sign-in to count against their address (which would
		// turn them away once it is back), nor one to record (the
		// record would not be written). Answered 503: try again.
		s.log.Error("sign-in: the database is unavailable", "request_id", requestID(c), "idp", pl.IdP, "err", err)
		s.fail(c, err)
		return
	}
	reason := "error"
	var se signInError
	if errors.As(err, &se) {
		reason = se.reason
	}
	if !se.unavailable {
		s.signInFailures.allow(c.ClientIP())
	}
	// Starting again leads where this sign-in was going.
	c.Set(returnToKey, pl.ReturnTo)
	// The provider this sign-in was started with, never the text of the
	// callback's address (the trail is kept for years).
	if aerr := s.svc.RecordSignInFailure(ctx, s.requestActor(c), pl.IdP, reason); aerr != nil {
		s.log.Error("audit sign-in failure", "err", aerr)
	}
	if !errors.As(err, &se) {
		s.log.Error("sign-in failed", "request_id", requestID(c), "idp", pl.IdP, "err", err)
	} else {
		s.log.Warn("sign-in refused", "request_id", requestID(c), "idp", pl.IdP, "reason", se.reason)
	}
	if se.secondFactor {
		s.fail(c, errSecondFactor(s.idps[pl.IdP].cfg.DisplayName))
		return
	}
	if se.disabled {
		s.fail(c, s.errAccessDisabled())
		return
	}
	if se.unavailable {
		s.fail(c, errIdPUnavailable(s.idps[pl.IdP]))
		return
	}
	if se.denied {
		s.fail(c, errSignInDenied(s.idps[pl.IdP].cfg.DisplayName))
		return
	}
	s.fail(c, errSignInFailed)
}

// endReplacedSession ends the session a sign-in replaces, if the browser
// holds one: its person's sign-out is recorded (the trail would otherwise
// show a session that never ended), and nothing it held (a confirmation
// waiting to be shown, the last "Stay signed in") is carried into the new
// person's session. RenewToken then deletes it under its old token.
func (s *Server) endReplacedSession(c *gin.Context) {
	ctx := c.Request.Context()
	if s.sessions.GetString(ctx, portal.SessionUserKey) != "" {
		if a, err := s.actorOf(c); err == nil && a.SignedIn() {
			if err := s.svc.RecordSessionReplaced(ctx, a); err != nil {
				s.log.Error("audit sign-out of a replaced session", "request_id", requestID(c), "user", a.UserID, "err", err)
			}
		}
	}
	_ = s.sessions.Clear(ctx) // scs's Clear never fails
}

type signedIn struct {
	userID, idp, rawIDToken string
	epoch                   int64 // the person's session epoch (sessEpoch)
	// actor is the person signed in, with the key of the provider's
	// session the ID token names (its sid, IdPSession), which a
	// back-channel logout may end; "" without.
	actor portal.Actor
	// issuedAt is the ID token's iat: a logout of the person issued
	// at or after it ends the new session (CheckProviderSession).
	issuedAt time.Time
}

// finishSignIn finishes the sign-in pl, which this browser started.
func (s *Server) finishSignIn(c *gin.Context, pl pendingLogin) (signedIn, error) {
	ctx := c.Request.Context()
	name := c.Param("idp")
	p, ok := s.idps[name]
	if !ok {
		return signedIn{}, signInError{reason: "unknown identity provider"}
	}
	// The provider is the one recorded when sign-in started, never one
	// chosen by the callback URL or the token.
	if pl.IdP != name {
		return signedIn{}, signInError{reason: "callback for another identity provider"}
	}
	// RFC 9207: a response that names its issuer must name the provider
	// this sign-in went to; another's (a mix-up) is refused before its
	// code or error is believed.
	iss, named := c.GetQuery("iss")
	if named && iss != p.cfg.Issuer {
		return signedIn{}, signInError{reason: "authorization response from another issuer"}
	}
	if e := c.Query("error"); e != "" {
		// error_description is the provider's prose: never recorded.
		// A provider that says it failed has not refused the person.
		return signedIn{}, signInError{reason: providerError(e), unavailable: e == "server_error" || e == "temporarily_unavailable",
			denied: e == "access_denied"}
	}
	code := c.Query("code")
	if code == "" {
		return signedIn{}, signInError{reason: "no code"}
	}
	d, err := p.ready(ctx)
	if err != nil {
		return signedIn{}, s.unavailableAt(c, "discovery", err)
	}
	if d.namesItself && !named {
		return signedIn{}, signInError{reason: "authorization response without its issuer"}
	}
	tok, err := d.oauth.Exchange(p.context(ctx), code, oauth2.VerifierOption(pl.Verifier))
	if providerFailed(err) {
		return signedIn{}, s.unavailableAt(c, "token", err)
	}
	if err != nil {
		return signedIn{}, signInError{reason: "code exchange refused"}
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return signedIn{}, signInError{reason: "no id_token in token response"}
	}
	idt, claims, err := verifyIDToken(ctx, d.verifier, raw, tok.AccessToken, p.cfg.ClientID, pl.Nonce, p.now())
	if ku := (keysUnavailable{}); errors.As(err, &ku) {
		return signedIn{}, s.unavailableAt(c, "keys", ku.cause)
	}
	if err != nil {
		return signedIn{}, err
	}
	if err := checkFactors(p.cfg, claims); err != nil {
		return signedIn{}, err
	}
	id, verdict := identityFrom(p.cfg, idt.Issuer, idt.Subject, claims)
	if id.Email == "" || id.Name == "" {
		// Many providers give email and name in userinfo only.
		if err := s.addUserinfo(c, p, d, tok, &id, verdict); err != nil {
			return signedIn{}, err
		}
	}
	// The new session is signed in under the provider session this ID
	// token names, or none: never under the one the browser's previous
	// session was (another person's, or another provider's).
	from := s.requestActor(c)
	from.IdPSession = ""
	a, err := s.svc.SignIn(ctx, from, id)
	if errors.Is(err, portal.ErrDisabled) {
		return signedIn{}, signInError{reason: "access disabled", disabled: true}
	}
	if err != nil {
		return signedIn{}, err
	}
	if sid, _ := claims["sid"].(string); sid != "" {
		a.IdPSession = portal.IdPSessionKey(idt.Issuer, sid)
	}
	return signedIn{userID: a.UserID, idp: name, rawIDToken: raw, epoch: a.SessionEpoch, actor: a, issuedAt: idt.IssuedAt}, nil
}

// logout ends the session here, then at the provider as its LOGOUT setting
// says: RP-initiated logout with id_token_hint (and the post-logout address
// unless no-redirect), or the portal's session only (local), which the
// start page then says.
//
// Ending the session is the safe direction: it is ended first, whatever
// then happens to the record of it (a failed record is logged). A
// sign-out for a session the idle timeout has just ended (the page's own
// sign-out is timed to arrive before, but a request can be slow) still
// ends the provider's session and is recorded, while the ended session is
// held (portal.Service.EndedSignOut).
func (s *Server) logout(c *gin.Context) {
	ctx := c.Request.Context()
	idpName := s.sessions.GetString(ctx, sessIdP)
	rawID := s.openIDToken(ctx)
	uid := s.sessions.GetString(ctx, portal.SessionUserKey)
	a, aerr := s.actorOf(c)
	if err := s.sessions.Destroy(ctx); err != nil {
		s.fail(c, err)
		return
	}
	if uid == "" {
		idpName, rawID, uid = s.endedSignOut(c)
	} else if aerr == nil {
		if err := s.svc.RecordSignOut(ctx, a); err != nil {
			s.log.Error("audit sign-out", "request_id", requestID(c), "user", uid, "err", err)
		}
	}
	if uid != "" {
		s.log.Info("signed out", "request_id", requestID(c), "user", uid)
	}
	p, ok := s.idps[idpName]
	if !ok {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	c.Redirect(http.StatusSeeOther, s.signOutTarget(ctx, p, rawID))
}

// endedSignOut takes the session the browser's cookie names if it has
// just ended, recording the sign-out, and returns what the sign-out needs
// of it.
func (s *Server) endedSignOut(c *gin.Context) (idpName, rawID, uid string) {
	ck, err := c.Request.Cookie(s.sessions.Cookie.Name)
	if err != nil || ck.Value == "" {
		return "", "", ""
	}
	values, found, err := s.svc.EndedSignOut(c.Request.Context(), s.requestActor(c), storeToken(ck.Value))
	if err != nil {
		s.log.Error("sign-out of an ended session", "request_id", requestID(c), "err", err)
		return "", "", ""
	}
	if !found {
		return "", "", ""
	}
	idpName, _ = values[sessIdP].(string)
	uid, _ = values[portal.SessionUserKey].(string)
	if sealed, ok := values[sessIDToken].([]byte); ok {
		if raw, err := s.idTokenBox.Open(sealed, idTokenContext); err == nil {
			rawID = string(raw)
		}
	}
	return idpName, rawID, uid
}

// storeToken is a session token as the session store keys it: scs hashes
// tokens (HashTokenInStore) this way.
func storeToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// signOutTarget is where the browser goes after the portal's session ended.
func (s *Server) signOutTarget(ctx context.Context, p *identityProvider, rawID string) string {
	local := "/?signed_out=" + p.cfg.Name
	if p.cfg.Logout == portal.LogoutLocal {
		return local
	}
	d, err := p.ready(ctx)
	if err != nil || d.endSession == "" {
		return local // the provider has no end-session endpoint (or is down)
	}
	q := url.Values{"client_id": {p.cfg.ClientID}}
	if rawID != "" {
		q.Set("id_token_hint", rawID)
	}
	if p.cfg.Logout == portal.LogoutRPInitiated {
		q.Set("post_logout_redirect_uri", s.cfg.PublicURL+"/")
	}
	sep := "?"
	if strings.Contains(d.endSession, "?") {
		sep = "&"
	}
	return d.endSession + sep + q.Encode()
}
