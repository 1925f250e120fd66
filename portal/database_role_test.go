package portal_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestProductionRefusesOwnerRole: outside development the portal does not
// serve as a database role that could drop or disable the audit trail's
// append-only triggers (the tables' owner), and says which setting gives
// it the owner for migrations instead.
func TestProductionRefusesOwnerRole(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("database roles are PostgreSQL's: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	ctx := context.Background()
	d := startDomain(t) // development: one role, which owns the tables
	cfg := d.Config
	cfg.Dev = false
	quiet := portal.WithLogger(portal.NewLogger(&bytes.Buffer{}, "error"))
	if svc, err := portal.New(ctx, cfg, quiet); err == nil {
		svc.Close()
		t.Fatal("outside development the portal served as the role that owns the audit table")
	} else if !strings.Contains(err.Error(), "PORTAL_DATABASE_OWNER_URL") || !strings.Contains(err.Error(), "owns audit") {
		t.Fatalf("refused without naming the setting and the power: %v", err)
	}

	// The owner given for migrations, a role that owns nothing to serve
	// as: the portal starts, and its acts are recorded as before.
	serve, err := pgserver.TestServeURL(cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseOwnerURL, cfg.DatabaseURL = cfg.DatabaseURL, serve
	svc, err := portal.New(ctx, cfg, quiet)
	if err != nil {
		t.Fatalf("outside development, with the owner given: %v", err)
	}
	defer svc.Close()
	st := svc.Store()
	seq, _, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var issuer string
	for _, p := range cfg.IdPs {
		if p.Name == "cafcass" {
			issuer = p.Issuer
		}
	}
	a, err := svc.SignIn(ctx, portal.Actor{Via: "test"}, portal.Identity{IdP: "cafcass", Issuer: issuer, Subject: "sub-uploader@cafcass.example", Email: "uploader@cafcass.example"})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := svc.Authorize(ctx, a, policy.FileUpload, d.demo().ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Upload(ctx, portal.NewFile{Name: "1.05 Served by its own role.txt", Size: 5}, strings.NewReader("hello")); err != nil {
		t.Fatalf("upload as the serving role: %v", err)
	}
	if err := svc.Checkpoint(ctx, true); err != nil {
		t.Fatalf("checkpoint as the serving role: %v", err)
	}
	recs, err := st.AuditRecords(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, r := range recs {
		if r.Seq > seq {
			acts = append(acts, r.Action)
		}
	}
	if !slices.Contains(acts, "upload.completed") {
		t.Fatalf("recorded as the serving role: %v, want the upload's record", acts)
	}
	if _, err := st.DB().Exec(`ALTER TABLE audit DISABLE TRIGGER ALL`); err == nil {
		t.Fatal("the serving role disabled the audit trail's triggers")
	}
}

// TestProductionRefusesServingRoleThatMayCreate: a serving role that may
// CREATE in the schema holding the audit trail could add functions,
// operators or tables beside it; outside development the portal refuses
// it and tells the operator the REVOKE to run.
func TestProductionRefusesServingRoleThatMayCreate(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("database roles are PostgreSQL's: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	ctx := context.Background()
	d := startDomain(t)
	cfg := d.Config
	cfg.Dev = false
	quiet := portal.WithLogger(portal.NewLogger(&bytes.Buffer{}, "error"))
	serve, err := pgserver.TestServeURL(cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseOwnerURL, cfg.DatabaseURL = cfg.DatabaseURL, serve
	svc, err := portal.New(ctx, cfg, quiet)
	if err != nil {
		t.Fatalf("outside development, with the owner given: %v", err)
	}
	svc.Close()
	own, err := store.OpenPostgres(ctx, cfg.DatabaseOwnerURL, store.PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if _, err := own.DB().Exec(`GRANT CREATE ON SCHEMA public TO portal_app`); err != nil {
		t.Fatal(err)
	}
	for _, owner := range []string{"", cfg.DatabaseOwnerURL} {
		c := cfg
		c.DatabaseOwnerURL = owner
		if svc, err := portal.New(ctx, c, quiet); err == nil {
			svc.Close()
			t.Fatalf("owner URL %q: the portal served as a role that may CREATE in the audit trail's schema", owner)
		} else if !strings.Contains(err.Error(), "REVOKE CREATE ON SCHEMA public FROM portal_app") {
			t.Fatalf("owner URL %q: refused without the REVOKE to run: %v", owner, err)
		}
	}
	if _, err := own.DB().Exec(`REVOKE CREATE ON SCHEMA public FROM portal_app`); err != nil {
		t.Fatal(err)
	}
	svc, err = portal.New(ctx, cfg, quiet)
	if err != nil {
		t.Fatalf("after the REVOKE: %v", err)
	}
	svc.Close()
}
