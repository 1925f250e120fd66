package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

// recovery turns a panic into a 500 without leaking its text, answered as
// any other failure is (answer): the service's error page on a page route,
// JSON under /api/. A deliberate http.ErrAbortHandler (a download that
// cannot finish) is passed on so the server cuts the connection, as it is
// when the response had already begun.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.Error("panic", "request_id", requestID(c), "route", c.FullPath(), "panic", r)
			if !c.Writer.Written() {
				// What the handler set for its own answer (a download's)
				// does not describe the error's.
				for _, h := range []string{"Content-Length", "Content-Disposition", "Content-Encoding", "Content-Range", "ETag", "Last-Modified"} {
					c.Writer.Header().Del(h)
				}
			}
			s.answer(c, errInternal)
		}
	}()
	c.Next()
}

type requestIDContextKey struct{}

// frame sets what every response carries before anything else runs: the
// security headers and the request's id (X-Request-Id, which the request
// log and the error page quote). Whatever answers, Gin or what runs before
// it (a session that cannot be loaded), answers under them.
func (s *Server) frame(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.securityHeaders(w.Header(), r)
		id := newRequestID()
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDContextKey{}, id)))
	})
}

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(h http.Header, r *http.Request) {
	h.Set("Content-Security-Policy", s.contentSecurityPolicy())
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if strings.HasPrefix(s.cfg.PublicURL, "https://") {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	if !strings.HasPrefix(r.URL.Path, "/static/") {
		h.Set("Cache-Control", "no-store")
	}
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestIDOf is the id frame gave the request ("" without one).
func requestIDOf(r *http.Request) string {
	id, _ := r.Context().Value(requestIDContextKey{}).(string)
	return id
}

// contentSecurityPolicy is the policy every response carries, made again
// whenever a provider's discovery changes (refreshCSP).
func (s *Server) contentSecurityPolicy() string {
	if p := s.csp.Load(); p != nil {
		return *p
	}
	return s.refreshCSP()
}

// refreshCSP makes the Content-Security-Policy from the providers as last
// discovered. Its form-action lets the sign-out form's redirect reach each
// provider's issuer and its discovered end-session endpoint, which may be
// on another origin (endSessionOrigin admits exact origins only); a
// provider not yet discovered adds its issuer alone.
func (s *Server) refreshCSP() string {
	s.cspMu.Lock()
	defer s.cspMu.Unlock()
	formAction := []string{"'self'"}
	add := func(o string) {
		if o != "" && !slices.Contains(formAction, o) {
			formAction = append(formAction, o)
		}
	}
	for _, cfg := range s.cfg.IdPs {
		if u, err := url.Parse(cfg.Issuer); err == nil {
			add(u.Scheme + "://" + u.Host)
		}
		if p := s.idps[cfg.Name]; p != nil {
			if d := p.current.Load(); d != nil && d.endSession != "" {
				add(endSessionOrigin(cfg.Issuer, d.endSession))
			}
		}
	}
	csp := "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action " + strings.Join(formAction, " ")
	s.csp.Store(&csp)
	return csp
}

var (
	errCrossOrigin = &httpError{http.StatusForbidden, "cross_origin", "This request came from another site and was refused."}
	// A person meets this after signing in again on the way to a download
	// (the provider's redirect is another site's): the page links back to
	// the visit (fail).
	errCrossSiteDownload = &httpError{http.StatusForbidden, "cross_origin",
		"This download came from another site (or through a sign-in) and was refused: downloads start only from the portal’s own pages. Go back to the visit and download it from there."}
)

// crossOrigin refuses cross-site state-changing requests (CSRF), using the
// browser's Sec-Fetch-Site and Origin headers.
//
// A download is a GET, which CrossOriginProtection lets through, yet it
// records a download in the person's name, and the inspection team's first
// turns the uploader's delete into a withdrawal. The session cookie
// (SameSite=Lax) goes with a top-level navigation from any site, and with
// any request from a sibling subdomain (an <img> needs no click), so a
// download is taken only from the portal's own pages or an address typed
// in (Sec-Fetch-Site same-origin or none), or from a client that sends no
// fetch metadata (curl, scripts). A browser keeps the least trusted value
// across redirects, so /visits/{id}/download cannot launder it.
//
// An export of the audit trail is taken the same way: it is recorded in
// the reader's name and reads the visit's whole trail.
//
// A back-channel logout needs no exemption: the identity provider's server
// sends neither Sec-Fetch-Site nor Origin, which CrossOriginProtection lets
// through, and a browser has no business posting one.
func (s *Server) crossOrigin(c *gin.Context) {
	if err := s.cop.Check(c.Request); err != nil {
		s.fail(c, errCrossOrigin)
		return
	}
	if upload, ok := transfers[c.Request.Method+" "+c.FullPath()]; ok && !upload || isAuditExport(c) {
		switch c.GetHeader("Sec-Fetch-Site") {
		case "", "same-origin", "none":
		default:
			s.fail(c, errCrossSiteDownload)
			return
		}
	}
	c.Next()
}

const (
	requestIDKey = "request_id"
	// errorCodeKey holds the code of the error the request failed with
	// (fail): the request log's only word on a failure.
	errorCodeKey = "error_code"
)

// requestLog keeps the request's id (frame gives it one; a request that
// comes without, in tests, gets one here) and logs one line when it ends.
// It logs the route pattern, never the raw path or query: query strings
// carry file names and OAuth codes. Of a failure it logs the
// code, never the error's text, which may quote evidence. A request
// whose connection was cut part-way (http.ErrAbortHandler: a download
// stopped by damage, or by its client leaving) is logged too, with "cut";
// one whose handler panicked before answering, with the 500 recovery
// answers.
func (s *Server) requestLog(c *gin.Context) {
	id := requestIDOf(c.Request)
	if id == "" {
		id = newRequestID()
		c.Header("X-Request-Id", id)
	}
	c.Set(requestIDKey, id)
	start := time.Now()
	defer func() {
		r := recover()
		status := c.Writer.Status()
		if r != nil && r != http.ErrAbortHandler && !c.Writer.Written() {
			status = http.StatusInternalServerError
		}
		s.logRequest(c, start, status, r != nil && c.Writer.Written())
		if r != nil {
			panic(r)
		}
	}()
	c.Next()
}

// logRequest writes requestLog's line.
func (s *Server) logRequest(c *gin.Context, start time.Time, status int, cut bool) {
	id := requestID(c)
	route := c.FullPath()
	if route == "" {
		route = "(no route)"
	}
	attrs := []any{
		"request_id", id,
		"method", c.Request.Method,
		"route", route,
		"status", status,
		"bytes", c.Writer.Size(),
		"duration_ms", time.Since(start).Milliseconds(),
	}
	if a, ok := c.Get(accessKey); ok && a.(*portal.Access) != nil {
		acc := a.(*portal.Access)
		attrs = append(attrs, "user", acc.Actor.UserID, "allow", acc.Decision.Allow, "policies", acc.Decision.Policies, "decision", acc.Decision.Rule)
		if acc.Visit.ID != "" {
			attrs = append(attrs, "visit", acc.Visit.ID)
		}
	}
	if code := c.GetString(errorCodeKey); code != "" {
		attrs = append(attrs, "error_code", code)
	}
	if cut {
		attrs = append(attrs, "cut", true)
	}
	s.log.InfoContext(c.Request.Context(), "request", attrs...)
}

func requestID(c *gin.Context) string { return c.GetString(requestIDKey) }

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
