// Package hydra runs Ory Hydra v2, a production OpenID Provider, for tests,
// so that sign-in is proven against a provider we did not write.
//
// Invariants:
//   - Hydra is a child process listening on 127.0.0.1 only, on free ports,
//     with a SQLite database in its folder, migrated before it serves, and
//     fresh random secrets: nothing it knows survives Stop, and nothing
//     outside loopback reaches it. Not DSN=memory: that database is shared
//     between the pool's connections and lives only while one of them is
//     open, so on a loaded machine Hydra could lose its tables ("Unable to
//     locate the table") between migrating and serving.
//   - Start returns once discovery and the key set answer: Hydra makes its
//     RSA signing keys on the first request that needs them, which takes
//     seconds on a loaded machine, so they are made then, and not inside a
//     test's first sign-in.
//   - Sign-in and consent go through a small login-and-consent app of this
//     package, on its own loopback port, which accepts or rejects them through
//     Hydra's admin API. Its users are the ones a test registers with AddUser;
//     it grants every requested scope unless the test called RefuseConsent.
//   - The ID token carries email, email_verified (with the email scope) and
//     name (with the profile scope), except for a client created with
//     NoEmailInIDToken, whose ID token carries none of them. The userinfo
//     endpoint that discovery advertises returns them for every client, with
//     the same sub as the ID token.
//
// Hydra v2.3 builds its ID token and its own /userinfo answer from one
// session: the id_token claims the consent gave. Its token hook
// (oauth2.token_hook) cannot tell them apart either: it runs before the
// token is made, and Hydra then decodes the stored session over the hook's
// answer, so the hook may add claims (to both) but never remove one the
// consent gave. Hydra does support serving userinfo elsewhere
// (webfinger.oidc_discovery.userinfo_url, which discovery advertises): the
// app serves it, checks the bearer token with Hydra's admin introspection,
// and answers with the token's subject and the claims the consent stored in
// the access token's session (introspection's "ext").
//
// Test support only: the portal's production code must not import it.
package hydra

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/deploy/owned"
)

// Find returns the Hydra binary: $PORTAL_HYDRA_BIN, else bin/hydra in the
// module root (make test builds it).
func Find() (string, error) { return devstack.FindTool("hydra", "PORTAL_HYDRA_BIN") }

// Options configure Start.
type Options struct {
	Binary string    // the hydra binary; empty: Find
	Dir    string    // a fresh folder for Hydra's configuration and database; empty: a temp folder removed by Stop
	Output io.Writer // Hydra's log (nil: discarded)
}

// Hydra is a running Hydra with its login-and-consent app.
type Hydra struct {
	issuer   string // exactly as discovery states it
	adminURL string
	appURL   string

	cmd      *exec.Cmd
	done     chan error
	app      *http.Server
	tempDir  string // removed by Stop when Start made it
	stopOnce sync.Once

	mu       sync.Mutex
	users    map[string]User     // by username
	refused  map[string]bool     // usernames whose consent is rejected
	sessions map[string][]string // login session ids by subject, oldest first
}

// Start runs Hydra and the app and waits until discovery answers with the
// configured issuer. On error it stops what it started.
func Start(ctx context.Context, o Options) (h *Hydra, err error) {
	h = &Hydra{done: make(chan error, 1), users: map[string]User{}, refused: map[string]bool{}, sessions: map[string][]string{}}
	defer func() {
		if err != nil {
			h.Stop()
			h = nil
		}
	}()
	if o.Binary == "" {
		if o.Binary, err = Find(); err != nil {
			return h, err
		}
	}
	if o.Dir == "" {
		if o.Dir, err = os.MkdirTemp("", "hydra-"); err != nil {
			return h, err
		}
		h.tempDir = o.Dir
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	var public, admin string
	for _, a := range []*string{&public, &admin} {
		if *a, err = devstack.FreeAddr(); err != nil {
			return h, err
		}
	}
	// The app listens before Hydra starts, so its port cannot be taken in
	// between.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return h, err
	}
	h.appURL = "http://" + ln.Addr().String()
	h.app = &http.Server{Handler: h.routes(), ReadHeaderTimeout: 10 * time.Second}
	go h.app.Serve(ln)

	// Hydra gives an issuer without a path the path "/", so the configured
	// issuer has it too: discovery then states exactly this string.
	h.issuer = "http://" + public + "/"
	h.adminURL = "http://" + admin
	config, err := h.config(public, admin)
	if err != nil {
		return h, err
	}
	configFile := filepath.Join(o.Dir, "hydra.json")
	if err := os.WriteFile(configFile, config, 0o600); err != nil {
		return h, err
	}
	// The environment is otherwise empty so that no variable of the
	// caller's (SECRETS_SYSTEM, URLS_SELF_ISSUER, ...) overrides the file.
	// WAL and a busy timeout let the pool's connections read while one
	// writes.
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + o.Dir, "TMPDIR=" + o.Dir,
		"DSN=sqlite://" + filepath.Join(o.Dir, "hydra.sqlite") + "?_fk=true&_journal_mode=WAL&_busy_timeout=10000"}
	migrate := exec.CommandContext(ctx, o.Binary, "migrate", "sql", "up", "--read-from-env", "--yes", "--config", configFile)
	migrate.Env, migrate.Dir = env, o.Dir
	migrate.SysProcAttr = owned.SysProcAttr()
	if out, err := migrate.CombinedOutput(); err != nil {
		return h, fmt.Errorf("hydra migrate sql up: %v\n%s", err, out)
	}
	// --dev allows an http issuer on loopback; --sqa-opt-out keeps Hydra
	// from reporting usage to Ory.
	h.cmd = exec.Command(o.Binary, "serve", "all", "--dev", "--sqa-opt-out", "--config", configFile)
	h.cmd.Env = env
	h.cmd.Dir = o.Dir
	h.cmd.Stdout, h.cmd.Stderr = o.Output, o.Output
	h.cmd.SysProcAttr = owned.SysProcAttr()
	if err := h.cmd.Start(); err != nil {
		return h, fmt.Errorf("start hydra: %w", err)
	}
	go func() { h.done <- h.cmd.Wait() }()
	return h, h.waitReady(ctx, 60*time.Second)
}

// config is Hydra's configuration file (JSON, which Hydra reads as YAML).
func (h *Hydra) config(public, admin string) ([]byte, error) {
	port := func(addr string) int {
		_, p, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(p)
		return n
	}
	system, cookie := make([]byte, 32), make([]byte, 32)
	rand.Read(system)
	rand.Read(cookie)
	return json.MarshalIndent(map[string]any{
		"serve": map[string]any{
			"public": map[string]any{"host": "127.0.0.1", "port": port(public)},
			"admin":  map[string]any{"host": "127.0.0.1", "port": port(admin)},
		},
		"urls": map[string]any{
			"self":    map[string]any{"issuer": h.issuer, "public": h.issuer},
			"login":   h.appURL + "/login",
			"consent": h.appURL + "/consent",
			"logout":  h.appURL + "/logout",
		},
		"secrets":   map[string]any{"system": []string{hex.EncodeToString(system)}, "cookie": []string{hex.EncodeToString(cookie)}},
		"webfinger": map[string]any{"oidc_discovery": map[string]any{"userinfo_url": h.appURL + "/userinfo"}},
		"log":       map[string]any{"level": "warn", "format": "text"},
	}, "", "  ")
}

// waitReady polls discovery until it states the configured issuer, then
// has Hydra make the key sets it publishes.
func (h *Hydra) waitReady(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	var last error
	for {
		if last = h.discoveryIssuer(ctx, deadline); last == nil {
			if last = h.keySets(ctx, deadline); last == nil {
				return nil
			}
		}
		select {
		case err := <-h.done:
			h.done <- err // for Stop
			return fmt.Errorf("hydra exited during start-up: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("hydra not ready after %s: %v", wait, last)
		}
	}
}

// discoveryIssuer asks for discovery, which makes the ID token's signing
// key if there is none yet: each attempt may take until the deadline, as
// Hydra does not keep a key made for a request that gave up.
func (h *Hydra) discoveryIssuer(ctx context.Context, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var d struct {
		Issuer string `json:"issuer"`
	}
	if err := getJSON(ctx, h.issuer+".well-known/openid-configuration", &d); err != nil {
		return err
	}
	if d.Issuer != h.issuer {
		return fmt.Errorf("discovery states issuer %q, configured %q", d.Issuer, h.issuer)
	}
	return nil
}

// keySets asks for the published key set, which makes the access token's
// signing key too.
func (h *Hydra) keySets(ctx context.Context, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, h.issuer+".well-known/jwks.json", &set); err != nil {
		return err
	}
	if len(set.Keys) == 0 {
		return fmt.Errorf("hydra publishes no signing key")
	}
	return nil
}

// Issuer is the issuer URL, exactly as discovery states it (with a
// trailing slash).
func (h *Hydra) Issuer() string { return h.issuer }

// Stop ends Hydra (SIGTERM, then SIGKILL after 10 seconds) and the app, and
// removes the temp folder Start made. It may be called more than once.
func (h *Hydra) Stop() {
	if h == nil {
		return
	}
	h.stopOnce.Do(func() {
		if h.cmd != nil && h.cmd.Process != nil {
			_ = h.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-h.done:
			case <-time.After(10 * time.Second):
				_ = h.cmd.Process.Kill()
				<-h.done
			}
		}
		if h.app != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = h.app.Shutdown(ctx)
		}
		if h.tempDir != "" {
			_ = os.RemoveAll(h.tempDir)
		}
	})
}
