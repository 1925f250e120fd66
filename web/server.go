// Package web is the portal's HTTP door: the Gin router, middleware, the
// JSON API, the server-rendered pages, resumable uploads (tus), sign-in with
// OpenID Connect, templates and static assets. It is the only package that
// knows about Gin.
//
// Handlers parse a request into plain values, call the domain (package
// portal) as the signed-in Actor, and translate its values and typed errors
// into responses (errors.go, in one place). Every route is registered in
// routes.go, either as an explicit public route or with the policy action
// it needs; the authorize middleware asks the domain to decide it before
// the handler runs, and the domain decides again for each act it performs.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal"
)

// Server is the portal's HTTP side over the domain.
type Server struct {
	svc  *portal.Service
	cfg  portal.Config
	log  *slog.Logger
	idps map[string]*identityProvider
	// countRoutes: a statement counter wants each request's route.
	countRoutes bool
	sessions    *scs.SessionManager
	// signInBox seals the sign-in cookie, idTokenBox the ID token kept in
	// the session (keys derived from the master key).
	signInBox, idTokenBox *crypto.Box
	// signInStarts limits sign-ins started, signInFailures failed ones,
	// and logoutFailures refused back-channel logouts, per client
	// address.
	signInStarts, signInFailures, logoutFailures *limiter
	downloads                                    *downloadSlots
	pages                                        *Pages
	cop                                          *http.CrossOriginProtection
	handler                                      http.Handler
	metrics                                      Metrics // nil: nothing is counted
	// actions maps "METHOD /path" of every non-public route to its action;
	// public lists the routes that need no sign-in.
	actions map[string]routeRule
	public  map[string]bool
	// streamed lists the routes that read their own body as a stream
	// (routes.go): the only ones formBodies leaves unread.
	streamed map[string]bool
	// csp is the Content-Security-Policy, made again (under cspMu) after
	// each discovery of a provider.
	csp   atomic.Pointer[string]
	cspMu sync.Mutex
	// httpServer is the running server, for Kill.
	httpServer atomic.Pointer[http.Server]
}

// Option changes how New builds the server; tests use them.
type Option func(*options)

type options struct {
	httpClient *http.Client
	metrics    Metrics
	statements func(r *http.Request, route string, statements []string)
	rows       func(r *http.Request, route string, rows int64)
}

// WithHTTPClient sets the client used to talk to identity providers.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// New builds the HTTP side of the portal over svc.
func New(svc *portal.Service, opts ...Option) (*Server, error) {
	o := options{httpClient: &http.Client{Timeout: 30 * time.Second}}
	for _, opt := range opts {
		opt(&o)
	}
	cfg := svc.Config()
	pages, err := Templates()
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	s := &Server{svc: svc, cfg: cfg, log: svc.Log(), pages: pages, idps: map[string]*identityProvider{}, metrics: o.metrics, countRoutes: o.statements != nil,
		signInStarts: newLimiter(cfg.SignInRate), signInFailures: newLimiter(cfg.SignInFailureRate), logoutFailures: newLimiter(logoutFailureRate),
		downloads: newDownloadSlots(cfg.DownloadsPerPerson, cfg.DownloadWait)}
	for _, p := range cfg.IdPs {
		idp := newIdentityProvider(p, cfg.PublicURL, o.httpClient, svc.Now, s.log)
		idp.changed = func() { s.refreshCSP() }
		s.idps[p.Name] = idp
	}
	if s.signInBox, err = svc.Box("signin-cookie"); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if s.idTokenBox, err = svc.Box("session-id-token"); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	// scs stamps expiry with the wall clock, so the store compares with it too.
	s.sessions = newSessionManager(cfg, svc.Store().Sessions(time.Now).Touch(cfg.SessionIdle))
	s.cop = http.NewCrossOriginProtection()
	if err := s.cop.AddTrustedOrigin(cfg.PublicURL); err != nil {
		return nil, fmt.Errorf("web: trusted origin: %w", err)
	}
	r, err := s.router()
	if err != nil {
		return nil, err
	}
	s.handler = s.wrap(r, o.statements, o.rows)
	return s, nil
}

// wrap puts the router under what runs outside Gin: the headers every
// response carries (first, so that no answer goes without them), the
// session, and (tests) the count of statements each request sends.
func (s *Server) wrap(router http.Handler, statements func(r *http.Request, route string, statements []string), rows func(r *http.Request, route string, rows int64)) http.Handler {
	h := s.loadSession(router)
	if statements != nil || rows != nil {
		h = countStatements(h, statements, rows)
	}
	return s.frame(h)
}

// Handler is the portal's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve records the start, runs the domain's background work and listens
// on the configured address until ctx ends; then it shuts down gracefully,
// stops the background work and signs the audit chain's head.
func (s *Server) Serve(ctx context.Context) error { return s.ServeOn(ctx, nil) }

// ServeOn is Serve on a listener the caller opened (nil: listen on the
// configured address). A caller that holds its port from the start, as
// the dev stack does, cannot lose it to another process meanwhile.
func (s *Server) ServeOn(ctx context.Context, ln net.Listener) error {
	if err := s.svc.RecordStart(ctx); err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	srv := &http.Server{
		Addr:              s.cfg.Addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No ReadTimeout/WriteTimeout: uploads and downloads of many GiB
		// over home broadband take hours. Stalls are caught per read.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.log.Info("portal listening", "addr", s.cfg.Addr, "url", s.cfg.PublicURL)
	s.httpServer.Store(srv)
	s.svc.Start(ctx)
	// Identity providers are discovered now and on a schedule, in the
	// background: one that is down or misconfigured stops nobody else.
	discovery, stopDiscovery := context.WithCancel(ctx)
	discovered := s.discoverProviders(discovery)
	defer func() {
		stopDiscovery()
		discovered()
	}()
	if s.cfg.PprofAddr != "" {
		stop := s.servePprof()
		defer stop()
	}
	errc := make(chan error, 1)
	go func() {
		if ln != nil {
			errc <- srv.Serve(ln)
			return
		}
		errc <- srv.ListenAndServe()
	}()
	select {
	case err := <-errc:
		s.svc.Stop()
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdown)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		// Requests still running after the grace period are cut.
		srv.Close()
	}
	s.svc.Stop()
	// Sign the head on the way out, so the last records are covered.
	if cerr := s.svc.Checkpoint(shutdown, true); cerr != nil {
		return cerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Kill closes every connection at once, as a crash would: requests in
// flight end without an answer. Tests of recovery use it.
func (s *Server) Kill() {
	if srv := s.httpServer.Load(); srv != nil {
		srv.Close()
	}
}

// servePprof serves Go's profiler on the configured loopback address, for
// diagnosing performance (make bench uses it). It never shares the portal's
// listener or middleware.
func (s *Server) servePprof() (stop func()) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: s.cfg.PprofAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.log.Warn("profiler listening (diagnostics only)", "addr", s.cfg.PprofAddr)
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("profiler", "err", err)
		}
	}()
	return func() { srv.Close() }
}

func newEngine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	return e
}
