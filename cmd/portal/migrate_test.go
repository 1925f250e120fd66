package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestMigrateCommand: portal migrate brings the schema up to date and
// exits. On PostgreSQL it does so as the owner and grants the serving
// role, which then serves the schema without the owner's credentials and
// holds no power over the audit trail; without the owner, a serving role
// cannot migrate a new database, and is told which setting to give.
func TestMigrateCommand(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	if !pgserver.TestDatabaseWanted() {
		path := filepath.Join(t.TempDir(), "portal.db")
		t.Setenv("PORTAL_DB_PATH", path)
		if err := migrate(ctx, nil, &out); err != nil || !strings.Contains(out.String(), "sqlite:"+path+" is at version") {
			t.Fatalf("migrate: %v, %q", err, out.String())
		}
		return
	}
	owner, err := pgserver.NewTestDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	serve, err := pgserver.TestServeURL(owner)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PORTAL_DATABASE_URL", serve)
	if err := migrate(ctx, nil, &out); err == nil || !strings.Contains(err.Error(), "PORTAL_DATABASE_OWNER_URL") {
		t.Fatalf("a role that owns nothing migrating a new database: %v, want the owner's setting named", err)
	}
	t.Setenv("PORTAL_DATABASE_OWNER_URL", owner)
	if err := migrate(ctx, nil, &out); err != nil || !strings.Contains(out.String(), "is at version") {
		t.Fatalf("migrate as the owner: %v, %q", err, out.String())
	}
	st, err := store.OpenPostgres(ctx, serve, store.PostgresOptions{})
	if err != nil {
		t.Fatalf("serve after portal migrate, without the owner: %v", err)
	}
	defer st.Close()
	if powers, err := st.AuditPowers(ctx); err != nil || len(powers) != 0 {
		t.Fatalf("the serving role's powers over the audit trail: %v, %v", powers, err)
	}
}
