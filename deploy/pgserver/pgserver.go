package pgserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ofsted-portal/evidence/deploy/loopback"
)

// Server is a PostgreSQL server child process with its own cluster in a
// folder: the superuser "postgres"; the role "portal", which owns the
// database "portal" and every database CreateDatabase makes; and the role
// "portal_app", which owns nothing: the portal serves as it, with what the
// owner grants it when it migrates (PORTAL_DATABASE_OWNER_URL). The roles
// sign in over TCP with a password (SCRAM); the unix socket lives in the
// folder.
type Server struct {
	URL  string // the role portal on the database portal
	Addr string // 127.0.0.1:port
	// ServeURL is the role portal_app on the database portal.
	ServeURL string

	dir, superURL, rolePassword, servePassword string
	keep                                       bool
	cmd                                        *exec.Cmd
	done                                       chan error
	stopOnce                                   sync.Once
	stopErr                                    error
}

// Options configure Start.
type Options struct {
	// Dir holds the cluster (data/), the socket, and the two passwords.
	// A cluster already there is started as it is (the dev stack's state).
	Dir string
	// Addr is "127.0.0.1:port"; empty or port 0 picks a free port.
	Addr string
	// Output receives the server's log (nil: discarded).
	Output io.Writer
	// Binaries is the folder holding initdb and postgres (empty:
	// Find).
	Binaries string
	// Fast turns off fsync, synchronous commit and full page writes (and
	// initdb's final sync): a crash of the machine may then lose or corrupt
	// the cluster, which tests that throw it away can afford and the dev
	// stack cannot.
	Fast bool
	// Keep leaves the folder in place on Stop, so that the next start finds
	// the same data. Without it Stop removes the folder.
	Keep        bool
	StartupWait time.Duration
}

// Find returns the folder holding initdb and postgres:
// $PORTAL_POSTGRES_BIN when set, else the newest of Debian's
// /usr/lib/postgresql/<version>/bin (make test installs the package).
func Find() (string, error) {
	if d := os.Getenv("PORTAL_POSTGRES_BIN"); d != "" {
		return d, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		return "", errors.New("no PostgreSQL under /usr/lib/postgresql: run make postgres (make test installs it)")
	}
	version := func(p string) int {
		v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return v
	}
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	return filepath.Dir(found[0]), nil
}

// Start starts the server, first creating the cluster, its roles and
// database when Dir has none, and waits until the role portal can sign in.
// On error it stops what it started.
//
// initdb and postgres refuse to run as root: as root, both run as the system
// user postgres, which owns Dir, and each folder above Dir gains search
// permission (o+x, no listing) where it lacks it so that postgres can reach
// Dir. They are started with that user's credentials rather than through
// runuser, so that the pid held is the postmaster's own: runuser would stand
// between, and forwards only SIGTERM (a "smart" shutdown that waits for
// every client) before SIGKILL.
func Start(ctx context.Context, o Options) (pg *Server, err error) {
	if o.Binaries == "" {
		if o.Binaries, err = Find(); err != nil {
			return nil, err
		}
	}
	if o.Addr == "" || strings.HasSuffix(o.Addr, ":0") {
		if o.Addr, err = loopback.FreeAddr(); err != nil {
			return nil, err
		}
	}
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("postgres: address %q: %w", o.Addr, err)
	}
	if o.StartupWait == 0 {
		o.StartupWait = 60 * time.Second
	}
	if o.Dir, err = filepath.Abs(o.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	owner, err := serverUser(o.Dir)
	if err != nil {
		return nil, err
	}
	pg = &Server{Addr: o.Addr, dir: o.Dir, keep: o.Keep, done: make(chan error, 1)}
	defer func() {
		if err != nil {
			pg.Stop()
			pg = nil
		}
	}()
	superPassword, err := secretFile(filepath.Join(o.Dir, "postgres.password"), owner)
	if err != nil {
		return pg, err
	}
	if pg.rolePassword, err = secretFile(filepath.Join(o.Dir, "portal.password"), owner); err != nil {
		return pg, err
	}
	if pg.servePassword, err = secretFile(filepath.Join(o.Dir, ServeRole+".password"), owner); err != nil {
		return pg, err
	}
	data := filepath.Join(o.Dir, "data")
	_, statErr := os.Stat(filepath.Join(data, "PG_VERSION"))
	fresh := errors.Is(statErr, os.ErrNotExist)
	if fresh {
		args := []string{"--pgdata", data, "--username", "postgres",
			"--pwfile", filepath.Join(o.Dir, "postgres.password"),
			"--auth", "scram-sha-256", "--encoding", "UTF8", "--locale", "C"}
		if o.Fast {
			args = append(args, "--no-sync")
		}
		initdb := exec.CommandContext(ctx, filepath.Join(o.Binaries, "initdb"), args...)
		if out, err := owner.run(initdb); err != nil {
			return pg, fmt.Errorf("postgres: initdb: %w\n%s", err, out)
		}
	}

	args := []string{"-D", data, "-c", "listen_addresses=" + host, "-p", port,
		"-c", "unix_socket_directories=" + o.Dir, "-c", "unix_socket_permissions=0700"}
	if o.Fast {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	pg.cmd = exec.Command(filepath.Join(o.Binaries, "postgres"), args...)
	if o.Output == nil {
		o.Output = io.Discard
	}
	pg.cmd.Stdout, pg.cmd.Stderr = o.Output, o.Output
	owner.apply(pg.cmd)
	if err := pg.cmd.Start(); err != nil {
		return pg, fmt.Errorf("start postgres: %w", err)
	}
	go func() { pg.done <- pg.cmd.Wait() }()

	pg.superURL = pgURL("postgres", superPassword, o.Addr, "postgres")
	pg.URL = pgURL("portal", pg.rolePassword, o.Addr, "portal")
	pg.ServeURL = pgURL(ServeRole, pg.servePassword, o.Addr, "portal")
	err = waitChild(ctx, "postgres", o.StartupWait, pg.done, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, pg.superURL)
		if err == nil {
			conn.Close(ctx)
		}
		return err
	})
	if err != nil {
		return pg, err
	}
	if fresh {
		if err = pg.admin(ctx, "CREATE ROLE portal LOGIN PASSWORD "+quoteLiteral(pg.rolePassword),
			"CREATE DATABASE portal OWNER portal"); err != nil {
			return pg, err
		}
	}
	// A cluster kept from before the serving role gains it here.
	return pg, pg.admin(ctx, `DO $$ BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '`+ServeRole+`') THEN
		CREATE ROLE `+ServeRole+` LOGIN PASSWORD `+quoteLiteral(pg.servePassword)+`;
	END IF;
END $$`,
		// Before PostgreSQL 17 the serving role owns visit_keys, which
		// the owner gives it and may still change (store.grantServing).
		"GRANT "+ServeRole+" TO portal")
}

// ServeRole is the role the portal serves as: it owns nothing, and may
// sign in to every database of the cluster (PostgreSQL's default).
const ServeRole = "portal_app"

// ServeURLOf is the URL of the database at url (one of the server's) for
// the serving role.
func (pg *Server) ServeURLOf(dbURL string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", err
	}
	return pgURL(ServeRole, pg.servePassword, pg.Addr, strings.TrimPrefix(u.Path, "/")), nil
}

// CreateDatabase creates a database owned by the role portal (one per test,
// say) and returns its URL for that role.
func (pg *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := pg.admin(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" OWNER portal"); err != nil {
		return "", err
	}
	return pgURL("portal", pg.rolePassword, pg.Addr, name), nil
}

// Pid is the postmaster's process id.
func (pg *Server) Pid() int { return pg.cmd.Process.Pid }

// Stop ends the server with a fast shutdown (SIGINT: clients are cut off,
// the cluster is left consistent), waits for it, SIGKILL after 30 seconds,
// and removes the folder unless Keep was set. It may be called more than
// once.
func (pg *Server) Stop() error {
	if pg == nil {
		return nil
	}
	pg.stopOnce.Do(func() {
		if pg.cmd != nil && pg.cmd.Process != nil {
			_ = pg.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-pg.done:
			case <-time.After(30 * time.Second):
				_ = pg.cmd.Process.Kill()
				<-pg.done
			}
		}
		if !pg.keep {
			pg.stopErr = os.RemoveAll(pg.dir)
		}
	})
	return pg.stopErr
}

// admin runs statements as the superuser, each on its own (CREATE DATABASE
// cannot run in a transaction).
func (pg *Server) admin(ctx context.Context, statements ...string) error {
	conn, err := pgx.Connect(ctx, pg.superURL)
	if err != nil {
		return fmt.Errorf("postgres: connect as superuser: %w", err)
	}
	defer conn.Close(ctx)
	for _, s := range statements {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("postgres: %s: %w", strings.SplitN(s, " PASSWORD", 2)[0], err)
		}
	}
	return nil
}

func pgURL(user, password, addr, db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: addr, Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// secretFile returns the password in path, first writing a random one
// (mode 0600, owned by the server's user, who reads it in initdb).
func secretFile(path string, owner *serverAccount) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	b := make([]byte, 16)
	rand.Read(b)
	secret := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", err
	}
	return secret, owner.chown(path)
}
