package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Sessions live server-side; the cookie carries only a random token, and
// the database only its hash. A session exists only once someone has signed
// in (a sign-in in flight rides in its own cookie: signin_cookie.go).
//
// Saving: scs's own middleware saves after the handler, and when that fails
// once the response has started it writes "Internal Server Error" into the
// body. Here the session is saved when the response starts, before the
// status line: the handlers that change a session (sign-in) save it
// themselves first and fail properly; what is left for the response start is
// the idle deadline, and a failure to move it is logged, never sent. A
// session that has ended (signed out, expired) is never saved again: the
// store refuses (store.ErrSessionEnded) and the cookie is cleared.

// Session keys.
const (
	sessIdP      = "idp"
	sessIDToken  = "id_token_sealed" // the ID token, sealed (for id_token_hint at sign-out)
	sessSignedIn = "signed_in_at"
	// sessEpoch is the person's session epoch at sign-in: the session has
	// ended once it is no longer theirs (portal.SessionActor). A session
	// made before it was kept reads 0, the epoch of everyone never
	// disabled.
	sessEpoch = "session_epoch"
)

// idTokenContext binds a sealed ID token to its use.
const idTokenContext = "session id_token_hint"

func newSessionManager(cfg portal.Config, st *store.SessionStore) *scs.SessionManager {
	m := scs.New()
	m.Store = st
	m.Codec = portal.SessionCodec{}
	m.HashTokenInStore = true
	m.IdleTimeout = cfg.SessionIdle
	m.Lifetime = cfg.SessionLifetime
	m.Cookie.HttpOnly = true
	m.Cookie.SameSite = http.SameSiteLaxMode
	m.Cookie.Path = "/"
	m.Cookie.Persist = false
	m.Cookie.Secure = !cfg.Dev
	m.Cookie.Name = "portal_session"
	if m.Cookie.Secure {
		// __Host- cookies are Secure, host-only and Path=/: no subdomain
		// can set or read them.
		m.Cookie.Name = "__Host-portal_session"
	}
	return m
}

// sessionWriter saves the session when the response starts.
type sessionWriter struct {
	http.ResponseWriter
	s      *Server
	ctx    context.Context
	saved  bool
	create bool // the commit creates the session (sign-in)
	// idpSession is the provider's session the session was signed in
	// under, as loaded (store.TrackIdPSession), or for a new session
	// (store.WithIdPSession); "" for none.
	idpSession string
	// key is the key the loaded session is stored under, "" for none
	// (store.TrackSessionKey).
	key string
	// created, when set, is asked once a new session is saved, before
	// its cookie is sent: an error ends the session again, and no
	// cookie is sent (a sign-in the provider ended meanwhile).
	created func(ctx context.Context) error
	// expiry is the deadline the store holds for the session, as loaded
	// and then as committed (store.TrackExpiry).
	expiry time.Time
	// idle is how long one write may wait on the client
	// (PORTAL_WRITE_IDLE_TIMEOUT); zero: for ever.
	idle time.Duration
}

type sessionWriterKey struct{}

// loadSession loads the request's session, and saves it when the response
// starts (sessionWriter).
func (s *Server) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Cookie")
		var token string
		if c, err := r.Cookie(s.sessions.Cookie.Name); err == nil {
			token = c.Value
		}
		sw := &sessionWriter{ResponseWriter: w, s: s, idle: s.cfg.WriteIdleTimeout}
		ctx, err := s.sessions.Load(store.TrackSessionKey(store.TrackIdPSession(store.TrackExpiry(r.Context(), &sw.expiry), &sw.idpSession), &sw.key), token)
		if err != nil {
			s.log.Error("load session", "request_id", requestIDOf(r), "err", err)
			he := errInternal
			if store.IsUnavailable(err) {
				he = errDatabaseUnavailable
			}
			s.answerUnrouted(w, r, he)
			return
		}
		sw.ctx = context.WithValue(ctx, sessionWriterKey{}, sw)
		next.ServeHTTP(sw, r.WithContext(sw.ctx))
		if !sw.saved {
			sw.save()
		}

	})
}

func (w *sessionWriter) WriteHeader(code int) {
	w.save()
	w.ResponseWriter.WriteHeader(code)
}

func (w *sessionWriter) Write(b []byte) (int, error) {
	w.save()
	if w.idle > 0 {
		// A client that stops reading (a download left open, its window
		// shut) is cut once one write has waited this long on it, rather
		// than hold the response's buffers and the object store's
		// connections for ever: the server has no write timeout, as a
		// large file takes as long as the client's line needs.
		if err := http.NewResponseController(w.ResponseWriter).SetWriteDeadline(time.Now().Add(w.idle)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return 0, err
		}
	}
	return w.ResponseWriter.Write(b)
}

func (w *sessionWriter) Flush() {
	w.save()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// FlushError is Flush with the error of a connection gone, which
// http.ResponseController finds here before the Flush that cannot say it:
// a zip counts a file whole only once a flush of it succeeded.
func (w *sessionWriter) FlushError() error {
	w.save()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection (read
// deadlines).
func (w *sessionWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// save is the save at the response start: it never fails the response.
func (w *sessionWriter) save() {
	if err := w.commit(); err != nil && !errors.Is(err, store.ErrSessionEnded) {
		w.s.log.Error("save session", "err", err)
	}
}

// commit saves the session (once) and sets or clears its cookie.
func (w *sessionWriter) commit() error {
	if w.saved {
		return nil
	}
	w.saved = true
	m := w.s.sessions
	switch m.Status(w.ctx) {
	case scs.Modified:
		ctx := w.ctx
		if w.create {
			ctx = store.WithIdPSession(store.NewSession(ctx), w.idpSession)
		}
		token, expiry, err := m.Commit(ctx)
		if errors.Is(err, store.ErrSessionEnded) {
			m.WriteSessionCookie(ctx, w.ResponseWriter, "", time.Time{})
			return err
		}
		if err != nil {
			return err
		}
		if w.create && w.created != nil {
			if err := w.created(ctx); err != nil {
				// Ended before anyone holds it: without its cookie
				// nobody can present it, whatever the delete does.
				if derr := m.Destroy(ctx); derr != nil {
					w.s.log.Error("end a session refused as it was saved", "err", derr)
				}
				return err
			}
		}
		m.WriteSessionCookie(ctx, w.ResponseWriter, token, expiry)
	case scs.Destroyed:
		m.WriteSessionCookie(w.ctx, w.ResponseWriter, "", time.Time{})
	}
	return nil
}

// dropSession tells the browser to drop its session cookie, and saves
// nothing more of the session: what a sign-in that failed leaves when the
// session could not be ended, or the new one saved, in the store (the
// database busy), so that the browser does not go on as the person whose
// session it held.
func (s *Server) dropSession(c *gin.Context) {
	sw, ok := c.Request.Context().Value(sessionWriterKey{}).(*sessionWriter)
	if !ok {
		return
	}
	sw.saved = true
	s.sessions.WriteSessionCookie(sw.ctx, sw.ResponseWriter, "", time.Time{})
}

// saveNewSession saves the session a sign-in has just made, before the
// response, with the key of the provider's session it was signed in under
// (idpSession, "" for none), then asks created (nil: nothing) before its
// cookie is sent: a sign-in whose session cannot be saved, or that created
// refuses, fails, and its session is ended.
func (s *Server) saveNewSession(c *gin.Context, idpSession string, created func(ctx context.Context) error) error {
	sw, ok := c.Request.Context().Value(sessionWriterKey{}).(*sessionWriter)
	if !ok {
		return errors.New("web: no session writer")
	}
	sw.create, sw.idpSession, sw.created = true, idpSession, created
	return sw.commit()
}

// loadedIdPSession is the key of the provider's session the request's
// session was signed in under, "" for none.
func loadedIdPSession(c *gin.Context) string {
	if sw, ok := c.Request.Context().Value(sessionWriterKey{}).(*sessionWriter); ok {
		return sw.idpSession
	}
	return ""
}

// sessionLeft saves the session now (its idle deadline moves, or is
// written, as at any response start) and returns how long the store will
// hold it from now: the time a page's warning counts down from. The store
// writes an unchanged session's moved deadline once it has moved a minute
// (a tenth of the idle timeout when that is shorter: store.SessionStore.Touch),
// so this can be that much less than the idle timeout. It is 0 when no
// session is held.
func (s *Server) sessionLeft(c *gin.Context) time.Duration {
	sw, ok := c.Request.Context().Value(sessionWriterKey{}).(*sessionWriter)
	if !ok {
		return 0
	}
	sw.save()
	if sw.s.sessions.Status(sw.ctx) == scs.Destroyed {
		return 0
	}
	return max(0, time.Until(sw.expiry))
}

// sealIDToken and openIDToken keep the ID token unreadable at rest; an ID
// token that no longer opens (the master key was rotated) is simply not
// sent at sign-out.
func (s *Server) sealIDToken(raw string) []byte {
	return s.idTokenBox.Seal([]byte(raw), idTokenContext)
}

func (s *Server) openIDToken(ctx context.Context) string {
	sealed := s.sessions.GetBytes(ctx, sessIDToken)
	if len(sealed) == 0 {
		return ""
	}
	raw, err := s.idTokenBox.Open(sealed, idTokenContext)
	if err != nil {
		return ""
	}
	return string(raw)
}

// answerUnrouted answers a request that failed before the router (the
// session could not be loaded) as answer would have on its route: JSON
// with the error and its code for the API (tus included) and the other
// routes a script or a server asks (isAPIPath), the service's error page
// with the request id elsewhere; a 503 with Retry-After. No session is
// loaded: the page shows no one signed in.
func (s *Server) answerUnrouted(w http.ResponseWriter, r *http.Request, he *httpError) {
	if r.ContentLength != 0 && r.Body != nil {
		w.Header().Set("Connection", "close")
	}
	if he.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", unavailableRetryAfter)
	}
	if isAPIPath(r.URL.Path) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(he.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": he.msg, "code": he.code})
		return
	}
	ep := errorPage{Title: statusTitle(he.status), Message: he.msg, Code: he.code, Advice: statusAdvice(he.status), RequestID: requestIDOf(r)}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(he.status)
	if r.Method == http.MethodHead {
		return
	}
	if err := s.pages.Render(w, "error", pageData{Title: ep.Title, Page: ep, Error: true, Dev: s.cfg.Dev, Form: &form{}}); err != nil {
		s.log.Error("render", "page", "error", "err", err)
	}
}

// isAPIPath is isAPI for a request the router has not matched: the paths
// answered in JSON.
func isAPIPath(path string) bool {
	if strings.HasPrefix(path, "/api/") || path == extendRoute {
		return true
	}
	idp, ok := strings.CutPrefix(path, "/auth/")
	if !ok {
		return false
	}
	idp, ok = strings.CutSuffix(idp, "/backchannel-logout")
	return ok && idp != "" && !strings.Contains(idp, "/")
}

// loadedSessionKey is the key the request's session is stored under, ""
// for none.
func loadedSessionKey(c *gin.Context) string {
	if sw, ok := c.Request.Context().Value(sessionWriterKey{}).(*sessionWriter); ok {
		return sw.key
	}
	return ""
}
