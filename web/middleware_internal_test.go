package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// brokenSessions is a session store that cannot be read (a database that
// is down).
type brokenSessions struct{ scs.Store }

func (brokenSessions) Find(string) ([]byte, bool, error) {
	return nil, false, errors.New("sessions: database is down")
}

// middlewareServer is the portal's handler as New builds it (the same
// middleware, the same wrapping of the router) over a router whose routes
// the test adds as public ones, and the log it writes.
func middlewareServer(t *testing.T, sessions scs.Store, routes map[string]gin.HandlerFunc) (http.Handler, *strings.Builder) {
	t.Helper()
	return middlewareServerOf(t, sessions, func(*Server) map[string]gin.HandlerFunc { return routes })
}

// middlewareServerOf is middlewareServer with routes whose handlers use
// the server (its fail, its answer).
func middlewareServerOf(t *testing.T, sessions scs.Store, routesOf func(*Server) map[string]gin.HandlerFunc) (http.Handler, *strings.Builder) {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	pages, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	s := &Server{cfg: portal.Config{PublicURL: "https://portal.example", ReadIdleTimeout: time.Minute, SessionIdle: 30 * time.Minute},
		log: portal.NewLogger(&log, "debug"), pages: pages, idps: map[string]*identityProvider{},
		actions: map[string]routeRule{}, public: map[string]bool{}, streamed: map[string]bool{}}
	s.sessions = scs.New()
	s.sessions.Store = sessions
	s.sessions.Cookie.Name = "__Host-portal_session"
	s.cop = http.NewCrossOriginProtection()
	e := newEngine()
	e.Use(s.middleware()...)
	for route, h := range routesOf(s) {
		method, path, _ := strings.Cut(route, " ")
		s.public[route] = true
		e.Handle(method, path, h)
	}
	return s.wrap(e, nil, nil), &log
}

// checkSecurityHeaders fails the test unless the response carries the
// headers every response of the portal carries.
func checkSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	for name, want := range map[string]string{
		"Content-Security-Policy":   "frame-ancestors 'none'",
		"X-Frame-Options":           "DENY",
		"X-Content-Type-Options":    "nosniff",
		"Cache-Control":             "no-store",
		"Strict-Transport-Security": "max-age=",
		"Referrer-Policy":           "no-referrer",
	} {
		if !strings.Contains(h.Get(name), want) {
			t.Errorf("%s: %s is %q, want it to carry %q", what, name, h.Get(name), want)
		}
	}
	if h.Get("X-Request-Id") == "" {
		t.Errorf("%s: no X-Request-Id", what)
	}
}

// TestSessionLoadFailureCarriesSecurityHeaders: when the session cannot be
// loaded (the database is down), the 500 goes out under the same security
// headers as every other response, with a request id to quote.
func TestSessionLoadFailureCarriesSecurityHeaders(t *testing.T) {
	h, log := middlewareServer(t, brokenSessions{memstore.New()}, map[string]gin.HandlerFunc{
		"GET /visits": func(c *gin.Context) { c.String(http.StatusOK, "visits") },
	})
	for _, path := range []string{"/visits", "/api/v1/me"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(&http.Cookie{Name: "__Host-portal_session", Value: "a-session-token"})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusInternalServerError {
			t.Fatalf("GET %s with a session that cannot be loaded: %d, want 500", path, w.Code)
		}
		checkSecurityHeaders(t, "GET "+path+" with a session that cannot be loaded", w.Header())
		if id := w.Header().Get("X-Request-Id"); id != "" && !strings.Contains(log.String(), `"request_id":"`+id+`"`) {
			t.Errorf("the log does not name the request %s:\n%s", id, log.String())
		}
	}
}

// TestPanicAnswersAsTheRouteDoes: a handler that panics answers 500 as any
// other failure does: on a page route with the service's error page (never
// raw JSON), under /api/ with JSON; both under the security headers, and
// the panic's text goes to the log only.
func TestPanicAnswersAsTheRouteDoes(t *testing.T) {
	boom := func(*gin.Context) { panic("the secret cause of the panic") }
	h, log := middlewareServer(t, memstore.New(), map[string]gin.HandlerFunc{
		"GET /visits/:id/boom": boom,
		"GET /api/v1/boom":     boom,
		"GET /visits/:id/half": func(c *gin.Context) {
			c.String(http.StatusOK, "the first part of an answer")
			boom(c)
		},
	})
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusInternalServerError {
			t.Errorf("GET %s that panics: %d, want 500", path, w.Code)
		}
		if strings.Contains(w.Body.String(), "secret cause") {
			t.Errorf("GET %s shows the panic's text:\n%s", path, w.Body.String())
		}
		checkSecurityHeaders(t, "GET "+path+" that panics", w.Header())
		return w
	}
	page := get("/visits/v-1/boom")
	if ct := page.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("a page route that panics answers %s, want the error page:\n%s", ct, page.Body.String())
	}
	body := page.Body.String()
	if !strings.Contains(body, "Sorry, there is a problem with the service") || !strings.Contains(body, page.Header().Get("X-Request-Id")) {
		t.Errorf("a page route that panics does not show the service's error page with the request id:\n%s", body)
	}
	api := get("/api/v1/boom")
	var e struct{ Error, Code string }
	if err := json.Unmarshal(api.Body.Bytes(), &e); err != nil || e.Code != "internal" || !strings.HasPrefix(api.Header().Get("Content-Type"), "application/json") {
		t.Errorf("an API route that panics: %s %q (%v), want JSON with code internal", api.Header().Get("Content-Type"), api.Body.String(), err)
	}
	// Begun, the answer cannot become an error: the connection is cut, so
	// the part sent is never taken as the whole.
	func() {
		defer func() {
			if r := recover(); r != http.ErrAbortHandler {
				t.Errorf("a handler that panics after its answer began: %v, want the connection cut", r)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/visits/v-1/half", nil))
	}()
	if !strings.Contains(log.String(), "the secret cause of the panic") {
		t.Errorf("the panic is not logged:\n%s", log.String())
	}
	// The request log has a line for each, with the status answered, and
	// says which was cut.
	var lines, cut int
	for line := range strings.Lines(log.String()) {
		if strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"route":"/visits/:id/boom"`) && strings.Contains(line, `"status":500`) {
			lines++
		}
		if strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"route":"/visits/:id/half"`) && strings.Contains(line, `"cut":true`) {
			cut++
		}
	}
	if lines != 1 || cut != 1 {
		t.Errorf("request log: %d lines of the panic answered 500, %d of the answer cut; want 1 and 1:\n%s", lines, cut, log.String())
	}
}

// TestClientLeftMidAnswerCutsTheConnection: a streamed answer (a zip, a
// CSV export: chunked, with no length) whose work fails because the
// request's context ended cuts the connection. A client that half-closed
// its side is still reading: ended cleanly, the part it had would read as
// the whole.
func TestClientLeftMidAnswerCutsTheConnection(t *testing.T) {
	h, _ := middlewareServerOf(t, memstore.New(), func(s *Server) map[string]gin.HandlerFunc {
		return map[string]gin.HandlerFunc{"GET /api/v1/stream": func(c *gin.Context) {
			c.Status(http.StatusOK)
			c.Writer.WriteString("the first part of a zip")
			s.fail(c, fmt.Errorf("read the next segment: %w", c.Request.Context().Err()))
		}}
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	defer func() {
		if r := recover(); r != http.ErrAbortHandler {
			t.Errorf("a streamed answer whose client left part-way: %v, want the connection cut (http.ErrAbortHandler)", r)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/v1/stream", nil).WithContext(ctx))
}

// busySessions is a session store whose database is unavailable for the
// moment (store.IsUnavailable).
type busySessions struct{ scs.Store }

func (busySessions) Find(string) ([]byte, bool, error) {
	return nil, false, fmt.Errorf("sessions: %w", store.ErrBusy)
}

// TestSessionLoadUnavailableAnswersAsTheRouteDoes: when the session cannot
// be loaded because the database is unavailable, the 503 is answered as
// every other database_unavailable is, with Retry-After: the service's
// page (HTML, with the request id) for a browser, JSON with the code under
// /api/ (tus clients included); a failure of another kind is the 500 page
// or JSON. Before, each was a line of plain text.
func TestSessionLoadUnavailableAnswersAsTheRouteDoes(t *testing.T) {
	for _, c := range []struct {
		sessions scs.Store
		status   int
		code     string
	}{{busySessions{memstore.New()}, http.StatusServiceUnavailable, "database_unavailable"}, {brokenSessions{memstore.New()}, http.StatusInternalServerError, "internal"}} {
		h, _ := middlewareServer(t, c.sessions, map[string]gin.HandlerFunc{
			"GET /visits":    func(c *gin.Context) { c.String(http.StatusOK, "visits") },
			"GET /api/v1/me": func(c *gin.Context) { c.String(http.StatusOK, "me") },
			"PATCH /api/v1/visits/:id/uploads/:upload": func(c *gin.Context) { c.String(http.StatusNoContent, "") },
		})
		for _, r := range []struct{ method, path string }{{"GET", "/visits"}, {"GET", "/api/v1/me"}, {"PATCH", "/api/v1/visits/v-1/uploads/u-1"}} {
			req := httptest.NewRequest(r.method, r.path, nil)
			req.AddCookie(&http.Cookie{Name: "__Host-portal_session", Value: "a-session-token"})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			what := fmt.Sprintf("%s %s with a session that cannot be loaded (%s)", r.method, r.path, c.code)
			if w.Code != c.status {
				t.Errorf("%s: %d, want %d", what, w.Code, c.status)
			}
			if ra := w.Header().Get("Retry-After"); (c.status == http.StatusServiceUnavailable) != (ra != "") {
				t.Errorf("%s: Retry-After %q", what, ra)
			}
			checkSecurityHeaders(t, what, w.Header())
			ct := w.Header().Get("Content-Type")
			if strings.HasPrefix(r.path, "/api/") {
				var out struct{ Error, Code string }
				if !strings.HasPrefix(ct, "application/json") || json.Unmarshal(w.Body.Bytes(), &out) != nil || out.Code != c.code || out.Error == "" {
					t.Errorf("%s: %s %q, want JSON with the code %s", what, ct, w.Body.String(), c.code)
				}
				continue
			}
			body := w.Body.String()
			if !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "govuk-") || !strings.Contains(body, w.Header().Get("X-Request-Id")) {
				t.Errorf("%s: %s %q, want the service's page with the request id", what, ct, body)
			}
		}
	}
}

// TestPageThatCannotRenderIsAnError: a page whose template fails on its
// data (a field it does not have) answers 500 with the service's error
// page, and the cause goes to the log. Before, the status was sent before
// the page was rendered: the person got 200 and an empty page, taken for
// a page with nothing on it.
func TestPageThatCannotRenderIsAnError(t *testing.T) {
	h, log := middlewareServerOf(t, memstore.New(), func(s *Server) map[string]gin.HandlerFunc {
		return map[string]gin.HandlerFunc{
			"GET /visits": func(c *gin.Context) { s.render(c, "visits", "Your visits", struct{ Wrong int }{1}) },
		}
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/visits", nil))
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "Sorry, there is a problem with the service") ||
		!strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") || !strings.Contains(w.Body.String(), "<h1") {
		t.Errorf("a page that cannot render: %d, %d bytes (%.200q), want 500 and the error page", w.Code, w.Body.Len(), w.Body.String())
	}
	checkSecurityHeaders(t, "a page that cannot render", w.Header())
	if !strings.Contains(log.String(), `"msg":"render"`) || !strings.Contains(log.String(), "can't evaluate field") {
		t.Errorf("the log does not say why the page could not render:\n%s", log.String())
	}
}
