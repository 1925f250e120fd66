package portal

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
)

// recovery turns a panic into a 500 without leaking its text. A deliberate
// http.ErrAbortHandler (a download that cannot finish) is passed on so the
// server cuts the connection.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.Error("panic", "request_id", requestID(c), "route", c.FullPath(), "panic", r)
			if !c.Writer.Written() {
				c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": errInternal.msg, "code": errInternal.code})
			}
		}
	}()
	c.Next()
}

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	formAction := []string{"'self'"}
	for _, p := range s.cfg.IdPs {
		// Sign-out posts here and is redirected to the provider.
		if u, err := url.Parse(p.Issuer); err == nil {
			formAction = append(formAction, u.Scheme+"://"+u.Host)
		}
	}
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action "+strings.Join(formAction, " "))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if strings.HasPrefix(s.cfg.PublicURL, "https://") {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	if !strings.HasPrefix(c.Request.URL.Path, "/static/") {
		h.Set("Cache-Control", "no-store")
	}
	c.Next()
}

// crossOrigin refuses cross-site state-changing requests (CSRF), using the
// browser's Sec-Fetch-Site and Origin headers.
func (s *Server) crossOrigin(c *gin.Context) {
	if err := s.cop.Check(c.Request); err != nil {
		s.fail(c, &httpError{http.StatusForbidden, "cross_origin", "This request came from another site and was refused."})
		return
	}
	c.Next()
}
