// Package portal is the evidence portal: the visit domain and its HTTP
// surface. Only this package (and its sub-packages) knows about Gin.
//
// Every route is registered in routes.go, either as an explicit public route
// or with the policy action it needs; one middleware (authorize) loads the
// principal and the resource and asks package policy, so no handler decides
// access for itself.
package portal

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/blobs"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
	"github.com/ofsted-portal/evidence/web"
)

// Server is the portal: its dependencies and its HTTP handler.
type Server struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	store     *store.Store
	blobs     *blobs.Store
	keys      *Keyring
	evidence  *evidence.Service
	cal       *calendar.Calendar
	policy    *policy.Engine
	retention *retention.Service
	signer    ed25519.PrivateKey
	idps      map[string]*identityProvider
	sessions  *scs.SessionManager
	pages     *web.Pages
	cop       *http.CrossOriginProtection
	handler   http.Handler
	keyErr    error // the master key's self-test at start-up
	// actions maps "METHOD /path" of every non-public route to its action;
	// public lists the routes that need no sign-in.
	actions map[string]routeRule
	public  map[string]bool
	// sending holds the resumable uploads a request is writing to, so two
	// requests never write the same upload at once.
	sending sync.Map
	// httpServer is the running server, for Kill.
	httpServer atomic.Pointer[http.Server]
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

// Kill closes every connection at once, as a crash would: requests in
// flight end without an answer. Tests of recovery use it.
func (s *Server) Kill() {
	if srv := s.httpServer.Load(); srv != nil {
		srv.Close()
	}
}

// Option changes how New builds the server; tests use them.
type Option func(*options)

type options struct {
	afterStep  func(step string) error
	now        func() time.Time
	httpClient *http.Client
	logger     *slog.Logger
}

// WithClock replaces the wall clock (sign-in token expiry, timelines).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRetentionHook runs after each recorded destruction step; an error
// stops the run there, as a crash would (tests of resumption).
func WithRetentionHook(f func(step string) error) Option {
	return func(o *options) { o.afterStep = f }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// New builds the portal from its configuration: it opens the database, loads
// the master key and prepares the object store and identity providers.
func New(ctx context.Context, cfg Config, opts ...Option) (*Server, error) {
	o := options{now: time.Now, httpClient: &http.Client{Timeout: 30 * time.Second}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = NewLogger(os.Stderr, cfg.LogLevel)
	}
	master, err := crypto.LoadMasterKey(cfg.MasterKey)
	if err != nil {
		return nil, err
	}
	cal, err := loadCalendar(cfg.CalendarFile)
	if err != nil {
		return nil, err
	}
	signer, err := retention.LoadSigningKey(cfg.SigningKey)
	if err != nil {
		return nil, err
	}
	engine, err := policy.New()
	if err != nil {
		return nil, err
	}
	pages, err := web.Templates()
	if err != nil {
		return nil, fmt.Errorf("portal: templates: %w", err)
	}
	st, err := store.Open(ctx, cfg.DBPath)
	if err != nil {
		return nil, err
	}
	bl, err := blobs.New(blobs.Config{Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, Secure: cfg.S3Secure, Region: cfg.S3Region})
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Server{
		cfg:    cfg,
		log:    o.logger,
		now:    o.now,
		store:  st,
		blobs:  bl,
		keys:   NewKeyring(master, st),
		cal:    cal,
		signer: signer,
		policy: engine,
		pages:  pages,
		idps:   map[string]*identityProvider{},
	}
	if s.keyErr = s.keys.SelfTest(); s.keyErr != nil {
		s.log.Error("master key self-test failed", "err", s.keyErr)
	}
	host, _ := os.Hostname()
	s.retention = &retention.Service{Store: st, Objects: bl, Forget: s.keys.Forget, Signer: signer, Now: o.now, Today: s.today,
		RetentionDays: cfg.RetentionDays, Holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), store.NewID()[:8]), Log: o.logger,
		AfterStep: o.afterStep, Record: s.systemRec}
	s.evidence = &evidence.Service{Store: st, Blobs: bl, SegmentSize: cfg.SegmentSize, Now: o.now, Log: o.logger}
	for _, p := range cfg.IdPs {
		s.idps[p.Name] = newIdentityProvider(p, cfg.PublicURL, o.httpClient, o.now)
	}
	// scs stamps expiry with the wall clock, so the store compares with it too.
	s.sessions = newSessionManager(cfg, st.Sessions(time.Now))
	s.cop = http.NewCrossOriginProtection()
	if err := s.cop.AddTrustedOrigin(cfg.PublicURL); err != nil {
		st.Close()
		return nil, fmt.Errorf("portal: trusted origin: %w", err)
	}
	s.handler = s.sessions.LoadAndSave(s.router())
	if err := s.auditStartup(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

// Handler is the portal's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Store exposes the metadata store (commands and tests).
func (s *Server) Store() *store.Store { return s.store }

// Blobs exposes the object store (tests inspect raw objects).
func (s *Server) Blobs() *blobs.Store { return s.blobs }

// Close releases the database.
func (s *Server) Close() error { return s.store.Close() }

// Serve listens on cfg.Addr until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
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
	go s.runJanitor(ctx)
	if s.cfg.PprofAddr != "" {
		stop := s.servePprof()
		defer stop()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		// Requests still running after the grace period are cut.
		srv.Close()
		return err
	}
	// Sign the head on the way out, so the last records are covered.
	return s.checkpoint(shutdown, true)
}

// runJanitor cleans up abandoned uploads and expired sessions, and runs the
// retention sweep that destroys visits past their date.
func (s *Server) runJanitor(ctx context.Context) {
	t := time.NewTicker(s.cfg.RetentionEvery)
	defer t.Stop()
	for {
		s.Sweep(ctx)
		s.RunRetention(ctx)
		if err := s.checkpoint(ctx, false); err != nil {
			s.log.Error("audit checkpoint", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// abandonAfter is how long a pending upload may go untouched before its
// objects are removed. A live upload touches it after every segment.
const abandonAfter = time.Hour

// Sweep runs the janitor once: abandoned uploads and expired sessions.
func (s *Server) Sweep(ctx context.Context) {
	if err := s.evidence.Sweep(ctx, abandonAfter); err != nil {
		s.log.Error("sweep abandoned uploads", "err", err)
	}
	if err := s.evidence.SweepResumables(ctx, s.expiredUploadRecord); err != nil {
		s.log.Error("sweep expired resumable uploads", "err", err)
	}
	if err := s.store.Sessions(time.Now).DeleteExpired(ctx, s.expiryRecords); err != nil {
		s.log.Error("sweep expired sessions", "err", err)
	}
}

func newEngine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	return e
}
