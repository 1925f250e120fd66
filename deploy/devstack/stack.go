package devstack

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/metrics"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
	"github.com/ofsted-portal/evidence/web"
)

// Options configure a stack.
type Options struct {
	// Dir holds the stack's state: dev.env, master.key, portal.db, minio/.
	Dir string
	// Addresses; empty picks a free loopback port (tests). make run passes
	// the contract's fixed ports. MetricsAddr is where the portal's
	// Prometheus metrics are served (PORTAL_METRICS_ADDR).
	PortalAddr, IdPAddr, MinIOAddr, MetricsAddr string
	MinIOBinary                                 string
	// The malware scanner (clamd.go); none with Env PORTAL_SCAN=off.
	ClamdAddr, ClamdBinary string
	// ClamdStreamMaxLength is clamd's StreamMaxLength (empty: 2047M).
	ClamdStreamMaxLength string
	// Relative makes dev.env name paths relative to Dir's parent (so that
	// ". ./var/dev.env" works from the repository root).
	Relative bool
	Logger   *slog.Logger
	// PortalOptions are passed to portal.New (tests inject a clock), and
	// WebOptions to web.New (tests count statements).
	PortalOptions []portal.Option
	WebOptions    []web.Option
	MinIOOutput   io.Writer
	// S3, when set, is an S3 server to use instead of starting MinIO (the
	// storage tests run against several).
	S3 *S3Endpoint
	// DatabaseURL puts the portal's metadata on PostgreSQL (make run
	// DB=postgres). Empty: SQLite in Dir, or, when tests ask for
	// PostgreSQL (PORTAL_TEST_DATABASE=postgres), a new database on the
	// test process's cluster.
	DatabaseURL string
	// DatabaseOwnerURL, with DatabaseURL, is the role that owns the
	// schema (PORTAL_DATABASE_OWNER_URL): the portal migrates as it and
	// serves as DatabaseURL's role, as in production (make run
	// DB=postgres). ServingRole asks the same of a test's database: the
	// test cluster's role that owns nothing serves.
	DatabaseOwnerURL string
	ServingRole      bool
	// DomainOnly starts MinIO and builds the domain (with its demo visit)
	// but no identity provider, HTTP door or background work: tests of the
	// domain's rules and of commands.
	DomainOnly bool
	// Env is set over the stack's own configuration (in dev.env too):
	// tests add identity providers or change limits with it.
	Env map[string]string
	// PublicAddr, when set, is where people reach the portal (a load
	// balancer in front of several instances, which the caller runs): the
	// public URL and the identity provider's redirects name it, while the
	// first instance listens on PortalAddr (StartInstance adds more).
	PublicAddr string
	// Mailpit starts the mail catcher and points the portal's
	// notifications at it (PORTAL_SMTP_URL): SMTP on MailpitSMTPAddr, the
	// web page and API on MailpitWebAddr (empty: free ports).
	Mailpit                         bool
	MailpitSMTPAddr, MailpitWebAddr string
	MailpitBinary                   string
	// MailpitAllowedRecipients: MailpitOptions.AllowedRecipients.
	MailpitAllowedRecipients string
}

// S3Endpoint is an S3 server the stack uses instead of its own MinIO.
type S3Endpoint struct {
	Endpoint, AccessKey, SecretKey, Region string
	Secure                                 bool
	// SessionToken goes with temporary credentials (an STS AssumeRole's:
	// tests of the portal's S3 policy). It is not in dev.env: the portal
	// reads none from its environment.
	SessionToken string
}

// Stack is a running development stack.
type Stack struct {
	Env       map[string]string // the dev.env contents
	Config    portal.Config
	MinIO     *MinIO
	Mailpit   *Mailpit        // with Options.Mailpit
	Clamd     *Clamd          // nil when scanning is off
	Portal    *portal.Service // the domain
	Web       *web.Server     // its HTTP door
	PortalURL string
	// InstanceURL is where the first instance listens: PortalURL unless
	// Options.PublicAddr put a load balancer in front.
	InstanceURL string
	IdPURL      string
	// Metrics is what the portal counts, kept across restarts of the
	// portal; MetricsURL serves it (GET MetricsURL).
	Metrics    *metrics.Registry
	MetricsURL string

	idpServer   *http.Server
	mailpitOpts MailpitOptions
	portalOpts  []portal.Option
	webOpts     []web.Option
	serving     *serving     // the portal serving, nil when it is stopped
	portalLn    net.Listener // the portal's port, held until it serves
	metricsStop func()
}

// Start brings the stack up: MinIO, then the identity provider, then the
// portal, whose demo visit it seeds. On error it stops what it started.
func Start(ctx context.Context, o Options) (st *Stack, err error) {
	st = &Stack{}
	defer func() {
		if err != nil {
			st.Close()
			st = nil
		}
	}()
	if err := store.MkdirPrivate(o.Dir); err != nil {
		return st, err
	}
	for _, a := range []*string{&o.PortalAddr, &o.IdPAddr, &o.MinIOAddr, &o.MetricsAddr, &o.ClamdAddr} { // PublicAddr stays empty unless asked for
		if *a == "" {
			if *a, err = FreeAddr(); err != nil {
				return st, err
			}
		}
	}
	// The identity provider's port is held from now on: a free port picked
	// and left closed while MinIO and the rest start can be taken by
	// another process (a test's stack, a scanner) in the meantime.
	var idpListener net.Listener
	if !o.DomainOnly {
		if idpListener, err = net.Listen("tcp", o.IdPAddr); err != nil {
			return st, fmt.Errorf("dev identity provider: %w", err)
		}
		// The portal's port likewise, until the portal serves on it.
		if st.portalLn, err = net.Listen("tcp", o.PortalAddr); err != nil {
			return st, fmt.Errorf("portal: %w", err)
		}
		defer func() {
			if idpListener != nil {
				idpListener.Close()
			}
		}()
	}
	if o.DatabaseURL == "" && pgserver.TestDatabaseWanted() {
		if o.DatabaseURL, err = pgserver.NewTestDatabase(ctx); err != nil {
			return st, err
		}
		if o.ServingRole {
			o.DatabaseOwnerURL = o.DatabaseURL
			if o.DatabaseURL, err = pgserver.TestServeURL(o.DatabaseOwnerURL); err != nil {
				return st, err
			}
		}
	}
	if o.Mailpit {
		if err := st.startMailpit(ctx, &o); err != nil {
			return st, err
		}
	}
	if err := findScanner(&o); err != nil {
		return st, err
	}
	if st.Env, err = loadOrCreateEnv(o); err != nil {
		return st, err
	}
	if s := o.S3; s != nil {
		st.Env["PORTAL_S3_ENDPOINT"], st.Env["PORTAL_S3_ACCESS_KEY"], st.Env["PORTAL_S3_SECRET_KEY"] = s.Endpoint, s.AccessKey, s.SecretKey
		st.Env["PORTAL_S3_REGION"], st.Env["PORTAL_S3_SECURE"] = s.Region, strconv.FormatBool(s.Secure)
	}
	if err := ensureKey(filepath.Join(o.Dir, "master.key"), func() ([]byte, error) { return crypto.GenerateMasterKey(time.Now()) }); err != nil {
		return st, err
	}
	if err := ensureKey(filepath.Join(o.Dir, "signing.key"), retention.GenerateSigningKey); err != nil {
		return st, err
	}
	if o.S3 == nil {
		bin := o.MinIOBinary
		if bin == "" {
			if bin, err = FindMinIO(); err != nil {
				return st, err
			}
		}
		st.MinIO, err = StartMinIO(ctx, MinIOOptions{
			Binary: bin, DataDir: filepath.Join(o.Dir, "minio"), Addr: o.MinIOAddr,
			AccessKey: st.Env["PORTAL_S3_ACCESS_KEY"], SecretKey: st.Env["PORTAL_S3_SECRET_KEY"], Output: o.MinIOOutput,
		})
		if err != nil {
			return st, err
		}
	}

	if st.Env["PORTAL_SCAN"] != portal.ScanOff {
		if st.Clamd, err = startClamd(ctx, o); err != nil {
			return st, err
		}
	}

	st.PortalURL = "http://" + o.PortalAddr
	st.InstanceURL = st.PortalURL
	if o.PublicAddr != "" {
		st.PortalURL = "http://" + o.PublicAddr
	}
	st.IdPURL = "http://" + o.IdPAddr
	if !o.DomainOnly {
		idp, err := devidp.New(devidp.DemoConfig(st.IdPURL, st.PortalURL))
		if err != nil {
			return st, err
		}
		ln := idpListener
		idpListener = nil
		st.idpServer = &http.Server{Handler: idp, ReadHeaderTimeout: 10 * time.Second}
		go st.idpServer.Serve(ln)
	}

	getenv := func(k string) string {
		v := st.Env[k]
		if o.Relative && strings.HasSuffix(k, "_PATH") || o.Relative && strings.HasSuffix(k, "_FILE") {
			if v != "" && !filepath.IsAbs(v) {
				v = filepath.Join(filepath.Dir(o.Dir), v)
			}
		}
		return v
	}
	if st.Config, err = portal.LoadConfig(getenv); err != nil {
		return st, err
	}
	if o.S3 != nil {
		st.Config.S3SessionToken = o.S3.SessionToken
	}
	engine, err := policy.New()
	if err != nil {
		return st, err
	}
	st.Metrics = metrics.New(engine.PolicyIDs())
	opts := append([]portal.Option{portal.WithMetrics(st.Metrics)}, o.PortalOptions...)
	if o.Logger != nil {
		opts = append([]portal.Option{portal.WithLogger(o.Logger)}, opts...)
	}
	st.portalOpts = opts
	st.webOpts = append([]web.Option{web.WithMetrics(st.Metrics)}, o.WebOptions...)
	if o.DomainOnly {
		if st.Portal, err = portal.New(ctx, st.Config, opts...); err != nil {
			return st, err
		}
		_, err = st.Portal.SeedDemo(ctx)
		return st, err
	}
	if err := st.newPortal(ctx); err != nil {
		return st, err
	}
	if st.metricsStop, err = st.Metrics.Serve(st.Config.MetricsAddr, st.Portal.Log()); err != nil {
		return st, err
	}
	st.MetricsURL = "http://" + st.Config.MetricsAddr + "/metrics"
	if _, err := st.Portal.SeedDemo(ctx); err != nil {
		return st, err
	}
	return st, st.servePortal(ctx)
}

func (st *Stack) servePortal(ctx context.Context) error {
	ln := st.portalLn // the first start serves on the port held since Start; a restart listens again
	st.portalLn = nil
	st.serving = serve(st.Web, ln)
	return st.serving.ready(ctx, st.InstanceURL)
}

// serving is a portal's HTTP door serving in the background until stopped.
type serving struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when it has stopped
	err    error         // why, once done is closed
}

// serve serves w on ln (nil: on its configured address).
func serve(w *web.Server, ln net.Listener) *serving {
	ctx, cancel := context.WithCancel(context.Background())
	sv := &serving{cancel: cancel, done: make(chan struct{})}
	go func() {
		sv.err = w.ServeOn(ctx, ln)
		close(sv.done)
	}()
	return sv
}

// ready waits until url answers health checks, or the server stops.
func (sv *serving) ready(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for !ready(ctx, url+"/healthz") {
		select {
		case <-sv.done:
			return fmt.Errorf("portal stopped during start-up: %w", sv.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/healthz not ready after 30s", url)
		}
	}
	return nil
}

// stop stops it and waits until it has (any number of times).
func (sv *serving) stop() {
	sv.cancel()
	<-sv.done
}

// Instance is one more portal process on the stack's database and store
// (tests of several instances behind a load balancer).
type Instance struct {
	URL     string
	Portal  *portal.Service
	Web     *web.Server
	serving *serving // nil once stopped
}

// StartInstance starts another instance of the portal, with the stack's
// configuration, on a free loopback port.
func (st *Stack) StartInstance(ctx context.Context) (*Instance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // held, so no one takes the port before it serves
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	cfg := st.Config
	cfg.Addr = addr
	cfg.MetricsAddr = ""
	p, err := portal.New(ctx, cfg, st.portalOpts...)
	if err != nil {
		ln.Close()
		return nil, err
	}
	w, err := web.New(p, st.webOpts...)
	if err != nil {
		ln.Close()
		p.Close()
		return nil, err
	}
	in := &Instance{URL: "http://" + addr, Portal: p, Web: w, serving: serve(w, ln)}
	if err := in.serving.ready(ctx, in.URL); err != nil {
		in.Stop()
		return nil, err
	}
	return in, nil
}

// Kill cuts the instance's connections at once, as a crash would, and
// stops it.
func (in *Instance) Kill() {
	in.Web.Kill()
	in.Stop()
}

// Stop stops the instance (idempotent).
func (in *Instance) Stop() {
	if in.serving == nil {
		return
	}
	in.serving.stop()
	in.serving = nil
	in.Portal.Close()
}

// RestartPortal stops the portal and starts a new one on the same address,
// database and store, as a restart of the process would (tests of uploads
// that survive a restart).
//
// With crash, requests in flight are cut at once instead of being let
// finish.
func (st *Stack) RestartPortal(ctx context.Context, crash bool) error {
	if crash && st.Web != nil {
		st.Web.Kill()
	}
	st.StopPortal()
	if err := st.newPortal(ctx); err != nil {
		return err
	}
	return st.servePortal(ctx)
}

// newPortal builds the domain and its HTTP door.
func (st *Stack) newPortal(ctx context.Context) error {
	p, err := portal.New(ctx, st.Config, st.portalOpts...)
	if err != nil {
		return err
	}
	w, err := web.New(p, st.webOpts...)
	if err != nil {
		p.Close()
		return err
	}
	st.Portal, st.Web = p, w
	return nil
}

// StopPortal stops only the portal (tests of restarts).
func (st *Stack) StopPortal() {
	if st.serving != nil {
		st.serving.stop()
		st.serving = nil
		st.Portal.Close()
	}
}

// Close stops everything the stack started, portal first.
func (st *Stack) Close() {
	if st == nil {
		return
	}
	st.StopPortal()
	if st.Portal != nil && st.serving == nil {
		st.Portal.Close()
	}
	if st.portalLn != nil {
		st.portalLn.Close()
	}
	if st.metricsStop != nil {
		st.metricsStop()
	}
	if st.idpServer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st.idpServer.Shutdown(ctx)
		cancel()
	}
	if st.MinIO != nil {
		st.MinIO.Stop()
	}
	if st.Mailpit != nil {
		st.Mailpit.Stop()
	}
	st.Clamd.Close()
}

// shellQuote writes v so that a shell sourcing dev.env reads it as it
// is: a value with anything but letters, digits and @%+=:,./_- in single
// quotes, and each single quote in it closed, escaped and opened again.
func shellQuote(v string) string {
	if v != "" && strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// shellUnquote reads back what shellQuote wrote (and a plain value, as
// files written before it hold).
func shellUnquote(v string) string {
	if len(v) >= 2 && strings.HasPrefix(v, "'") && strings.HasSuffix(v, "'") {
		return strings.ReplaceAll(v[1:len(v)-1], `'\''`, "'")
	}
	return v
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// loadOrCreateEnv keeps the secrets of an earlier run and rewrites the rest,
// so a second start reuses the same credentials and data.
func loadOrCreateEnv(o Options) (map[string]string, error) {
	path := filepath.Join(o.Dir, "dev.env")
	env := map[string]string{}
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
				env[k] = shellUnquote(v)
			}
		}
		f.Close()
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	dir := o.Dir
	if o.Relative {
		dir = filepath.Base(o.Dir)
	}
	keep := func(k, v string) {
		if env[k] == "" {
			env[k] = v
		}
	}
	keep("PORTAL_S3_ACCESS_KEY", "portal-"+randomHex(6))
	keep("PORTAL_S3_SECRET_KEY", randomHex(20))
	// Demo values for the privacy notice and the contact page.
	keep("PORTAL_PRIVACY_CONTROLLER", "Ofsted (demo)")
	keep("PORTAL_PRIVACY_CONTACT", "dpo@ofsted.example")
	keep("PORTAL_PRIVACY_RETENTION", "Accounts and the audit trail are kept for 6 years after the visit's evidence is destroyed.")
	keep("PORTAL_CONTACT_EMAIL", "evidence-portal-help@ofsted.example")
	keep("PORTAL_CONTACT_PHONE", "0300 123 1231")
	set := map[string]string{
		"PORTAL_ADDR":             o.PortalAddr,
		"PORTAL_PUBLIC_URL":       "http://" + o.PortalAddr,
		"PORTAL_DEV":              "true",
		"PORTAL_DB_PATH":          filepath.Join(dir, "portal.db"),
		"PORTAL_MASTER_KEY_FILE":  filepath.Join(dir, "master.key"),
		"PORTAL_SIGNING_KEY_FILE": filepath.Join(dir, "signing.key"),
		"PORTAL_S3_ENDPOINT":      o.MinIOAddr,
		"PORTAL_METRICS_ADDR":     o.MetricsAddr,
		"PORTAL_CLAMD_ADDR":       o.ClamdAddr,
		"PORTAL_SCAN":             portal.ScanRequired,
		"PORTAL_IDPS":             "cafcass,ofsted",
		// Anchored checkpoints are kept (undeletable) for a day in
		// development, not six years.
		"PORTAL_AUDIT_ANCHOR_RETENTION": "1d",
		"DEVIDP_ADDR":                   o.IdPAddr,
		// Ofsted's demo accounts sign in with a second factor, and the
		// portal insists (password-only@ofsted.example is refused).
		"PORTAL_IDP_OFSTED_REQUIRE_AMR": "mfa",
		// Everything here comes from one loopback address: the per-address
		// sign-in limits are set high enough for tests and scripts.
		"PORTAL_SIGNIN_RATE":         "5000/1m",
		"PORTAL_SIGNIN_FAILURE_RATE": "1000/1m",
	}
	for _, idp := range []struct{ name, display, org string }{{"cafcass", "Cafcass", "provider"}, {"ofsted", "Ofsted", "inspectorate"}} {
		p := "PORTAL_IDP_" + strings.ToUpper(idp.name) + "_"
		set[p+"ISSUER"] = "http://" + o.IdPAddr + "/" + idp.name
		set[p+"CLIENT_ID"] = "portal"
		set[p+"CLIENT_SECRET"] = "dev-portal-secret"
		set[p+"DISPLAY_NAME"] = idp.display
		set[p+"ORGANISATION"] = idp.org
	}
	for k, v := range set {
		env[k] = v
	}
	delete(env, "PORTAL_DATABASE_URL")
	delete(env, "PORTAL_DATABASE_OWNER_URL")
	if o.DatabaseURL != "" {
		env["PORTAL_DATABASE_URL"] = o.DatabaseURL
	}
	if o.DatabaseOwnerURL != "" {
		env["PORTAL_DATABASE_OWNER_URL"] = o.DatabaseOwnerURL
	}
	if o.PublicAddr != "" {
		env["PORTAL_PUBLIC_URL"] = "http://" + o.PublicAddr
	}
	for k, v := range o.Env {
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Development stack configuration, written by make run. Development only.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, shellQuote(env[k]))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	return env, nil
}

// ensureKey makes a key file on first start and keeps it after.
func ensureKey(path string, generate func() ([]byte, error)) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	key, err := generate()
	if err != nil {
		return err
	}
	return portal.WriteNewKeyFile(path, key)
}
