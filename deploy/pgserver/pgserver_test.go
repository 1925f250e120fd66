package pgserver_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
)

func TestPostgres(t *testing.T) {
	bin := need(t, pgserver.Find)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "pg")
	start := time.Now()
	pg, err := pgserver.Start(ctx, pgserver.Options{Dir: dir, Binaries: bin, Fast: true, Output: logWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL from %s: new cluster ready in %s", bin, time.Since(start).Round(time.Millisecond))
	defer pg.Stop()

	db, err := sql.Open("pgx", pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var user, database string
	var super bool
	if err := db.QueryRowContext(ctx, "SELECT current_user, current_database(), rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&user, &database, &super); err != nil {
		t.Fatal(err)
	}
	if user != "portal" || database != "portal" || super {
		t.Fatalf("connected as %s (superuser %v) to %s; want portal, not superuser, on portal", user, super, database)
	}
	var fsync string
	if err := db.QueryRowContext(ctx, "SHOW fsync").Scan(&fsync); err != nil || fsync != "off" {
		t.Fatalf("fsync = %q, %v; want off with Fast", fsync, err)
	}

	start = time.Now()
	second, err := pg.CreateDatabase(ctx, "test_second")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second database created in %s", time.Since(start).Round(time.Millisecond))
	db2, err := sql.Open("pgx", second)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if _, err := db2.ExecContext(ctx, "CREATE TABLE t (v text)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db2.ExecContext(ctx, "INSERT INTO t VALUES ('x')"); err != nil {
		t.Fatal(err)
	}
	if err := db2.QueryRowContext(ctx, "SELECT current_database()").Scan(&database); err != nil || database != "test_second" {
		t.Fatalf("second database: %q, %v", database, err)
	}

	// The password is required over TCP.
	bad, _ := sql.Open("pgx", "postgres://portal:wrong@"+pg.Addr+"/portal?sslmode=disable")
	defer bad.Close()
	if err := bad.PingContext(ctx); err == nil {
		t.Fatal("signed in with a wrong password")
	}

	db.Close()
	db2.Close()
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("folder left after Stop: %v", err)
	}
}

// TestPostgresKeep restarts a kept cluster: the dev stack's data survives.
func TestPostgresKeep(t *testing.T) {
	bin := need(t, pgserver.Find)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	o := pgserver.Options{Dir: dir, Binaries: bin, Keep: true, Output: logWriter{t}}
	pg, err := pgserver.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	db, _ := sql.Open("pgx", pg.URL)
	defer db.Close()
	var fsync string
	if err := db.QueryRowContext(ctx, "SHOW fsync").Scan(&fsync); err != nil || fsync != "on" {
		t.Fatalf("fsync = %q, %v; want the default, on", fsync, err)
	}
	if _, err := db.ExecContext(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	pg.Stop()

	start := time.Now()
	pg, err = pgserver.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	t.Logf("existing cluster ready in %s", time.Since(start).Round(time.Millisecond))
	db, _ = sql.Open("pgx", pg.URL)
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "still here" {
		t.Fatalf("after restart: %q, %v", v, err)
	}
}

// need returns what find finds, or skips the test when the part is not
// installed and the run does not require integration tests (make test
// requires them).
func need(t *testing.T, find func() (string, error)) string {
	t.Helper()
	p, err := find()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("integration tests need it: %v", err)
		}
		t.Skipf("skipping integration test: %v", err)
	}
	return p
}

// logWriter sends a child process's output to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Logf("%s", p)
	return len(p), nil
}
