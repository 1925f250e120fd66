// Command devstack runs the whole portal on one machine for development:
// MinIO, the development identity provider and the portal, with state under
// ./var. It is what make run starts. Ctrl-C stops everything it started.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/portal"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Println("Usage: devstack (no arguments)\n\nStarts MinIO, the dev identity provider and the portal on 127.0.0.1 with state in ./var.\nPorts: PORTAL_ADDR (127.0.0.1:8080), DEVIDP_ADDR (127.0.0.1:5556), MINIO_ADDR (127.0.0.1:9000),\nPORTAL_METRICS_ADDR (a free loopback port unless set),\nMAILPIT_SMTP_ADDR (127.0.0.1:1025), MAILPIT_WEB_ADDR (127.0.0.1:8025), MAIL_VIEW_ADDR (127.0.0.1:8026).")
		return
	}
	// SIGHUP: the terminal it runs in was closed. Its servers are stopped
	// in order, as on Ctrl-C; were it killed outright, they would end
	// with it (owned.SysProcAttr).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// startPostgres starts the dev stack's own PostgreSQL (make run
// DB=postgres): its cluster in var/postgres, kept between runs, on
// 127.0.0.1:5432 unless that port is taken (then any free one).
func startPostgres(ctx context.Context) (*pgserver.Server, error) {
	addr := env("PORTAL_POSTGRES_ADDR", "127.0.0.1:5432")
	if l, err := net.Listen("tcp", addr); err != nil {
		fmt.Printf("%s is taken: PostgreSQL gets a free port.\n", addr)
		addr = "127.0.0.1:0"
	} else {
		l.Close()
	}
	fmt.Println("Starting PostgreSQL (var/postgres)...")
	return pgserver.Start(ctx, pgserver.Options{Dir: "var/postgres", Addr: addr, Keep: true})
}

// freeOr is addr when it is free, else "" (a free port is picked).
func freeOr(addr string) string {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Printf("%s is taken: a free port is used instead.\n", addr)
		return ""
	}
	l.Close()
	return addr
}

// scanEnv passes PORTAL_SCAN=off on (make run PORTAL_SCAN=off).
func scanEnv() map[string]string {
	if v := os.Getenv("PORTAL_SCAN"); v != "" {
		return map[string]string{"PORTAL_SCAN": v}
	}
	return nil
}

// scanner says where uploads are scanned.
func scanner(st *devstack.Stack) string {
	if st.Clamd == nil {
		return "off (PORTAL_SCAN=off): files are stored unscanned"
	}
	return "clamd on " + st.Clamd.Addr + ", with one test signature (the EICAR test string; make run downloads none)"
}

func run(ctx context.Context) error {
	var dbURL, dbOwnerURL, dbName string
	if os.Getenv("PORTAL_DEV_DATABASE") == "postgres" {
		pg, err := startPostgres(ctx)
		if err != nil {
			return err
		}
		defer pg.Stop()
		// As production: migrated as the owner, served as a role that
		// owns nothing and cannot alter the audit trail.
		dbURL, dbOwnerURL = pg.ServeURL, pg.URL
		dbName = "PostgreSQL on " + pg.Addr + " (database portal, served as " + pgserver.ServeRole + ", owned by portal)"
	} else {
		dbName = "SQLite (var/portal.db)"
	}
	fmt.Println("Starting MinIO, mailpit, the dev identity provider and the portal...")
	st, err := devstack.Start(ctx, devstack.Options{
		DatabaseURL:      dbURL,
		DatabaseOwnerURL: dbOwnerURL,
		Dir:              "var",
		Relative:         true,
		PortalAddr:       env("PORTAL_ADDR", "127.0.0.1:8080"),
		IdPAddr:          env("DEVIDP_ADDR", "127.0.0.1:5556"),
		MinIOAddr:        env("MINIO_ADDR", "127.0.0.1:9000"),
		ClamdAddr:        os.Getenv("CLAMD_ADDR"),
		Env:              scanEnv(),
		// Any free port unless given: make run needs no fourth fixed one.
		MetricsAddr: os.Getenv("PORTAL_METRICS_ADDR"),
		Logger:      portal.NewLogger(os.Stderr, env("PORTAL_LOG_LEVEL", "info")),
		// The mail catcher: every message the demo sends is read on its
		// web page.
		Mailpit:         true,
		MailpitSMTPAddr: freeOr(env("MAILPIT_SMTP_ADDR", "127.0.0.1:1025")),
		MailpitWebAddr:  freeOr(env("MAILPIT_WEB_ADDR", "127.0.0.1:8025")),
	})
	if err != nil {
		return err
	}
	defer st.Close()
	viewAddr := freeOr(env("MAIL_VIEW_ADDR", "127.0.0.1:8026"))
	if viewAddr == "" {
		viewAddr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", viewAddr)
	if err != nil {
		return fmt.Errorf("mail viewer: %w", err)
	}
	viewer := &http.Server{Handler: devstack.MailViewer(st.Mailpit), ReadHeaderTimeout: 10 * time.Second}
	go viewer.Serve(ln)
	defer viewer.Close()
	fmt.Printf(`
The portal is running: %s

Sign in with one of the demo accounts (password %q):
`, st.PortalURL, devidp.DemoPassword)
	for _, m := range portal.DemoMembers {
		fmt.Printf("  %-8s %-30s %s\n", m.IdP, m.Email, m.Role)
	}
	fmt.Printf(`  %-8s %-30s %s
  %-8s %-30s %s

Ofsted's accounts sign in with a second factor, which the portal requires of
that issuer; %s has none and is refused.
Demo visit: %s. Dev identity provider: %s. S3 (MinIO): http://%s.
Database: %s.
Metrics (Prometheus): %s
Malware scanner: %s
Mail the portal sends: http://%s (caught by mailpit: SMTP %s, API %s/api/v1/messages)
Configuration for other commands: set -a; . ./var/dev.env; set +a
Press Ctrl-C to stop.
`, "ofsted", "outsider@ofsted.example", "(on no visit)", "ofsted", devidp.PasswordOnlyUser, "(no second factor: refused)",
		devidp.PasswordOnlyUser, portal.DemoReference, st.IdPURL, st.MinIO.Endpoint, dbName, st.MetricsURL, scanner(st), ln.Addr(), st.Mailpit.SMTPAddr, st.Mailpit.WebURL)
	<-ctx.Done()
	fmt.Println("\nStopping...")
	return nil
}
