package store

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
)

// openServing opens a new PostgreSQL test database as production runs it:
// migrated by the role that owns it, served as a role that owns nothing.
// It returns the serving store and the owner's URL.
func openServing(t *testing.T) (*Store, string) {
	t.Helper()
	if !pgserver.TestDatabaseWanted() {
		t.Skip("database roles are PostgreSQL's: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	ctx := context.Background()
	owner, err := pgserver.NewTestDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	serve, err := pgserver.TestServeURL(owner)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenPostgres(ctx, serve, PostgresOptions{OwnerURL: owner})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, owner
}

// The role the portal serves as reads and appends to the audit trail and
// its checkpoints, and can do nothing else to them: not change or remove a
// record, and not drop or disable the triggers that refuse that, which
// their owner could (and then rewrite the trail).
func TestServingRoleCannotAlterAudit(t *testing.T) {
	s, _ := openServing(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := s.Audit(ctx, AuditRecord{Time: time.Now(), ActorEmail: "lead@ofsted.example", Action: "file.download", Object: "f", Outcome: "success"}); err != nil {
			t.Fatalf("append as the serving role: %v", err)
		}
	}
	_, key, _ := ed25519.GenerateKey(nil)
	seq, hash, _ := s.AuditHead(ctx)
	if err := s.AddCheckpoint(ctx, SignCheckpoint(seq, hash, time.Now(), key)); err != nil {
		t.Fatalf("checkpoint as the serving role: %v", err)
	}
	if err := verify(t, s, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TRIGGER audit_no_update ON audit`,
		`DROP TRIGGER audit_no_delete ON audit`,
		`ALTER TABLE audit DISABLE TRIGGER ALL`,
		`ALTER TABLE audit DISABLE TRIGGER audit_no_update`,
		`ALTER TABLE audit OWNER TO CURRENT_USER`,
		`DROP TABLE audit`,
		`UPDATE audit SET actor_email = 'someone@else.example' WHERE seq = 2`,
		`DELETE FROM audit WHERE seq = 3`,
		`TRUNCATE audit`,
		`CREATE TRIGGER audit_rewrite BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only()`,
		`UPDATE audit_checkpoints SET signature = '' WHERE seq = 3`,
		`DELETE FROM audit_checkpoints`,
		`TRUNCATE audit_checkpoints`,
		`DROP TABLE audit_checkpoints`,
		`INSERT INTO schema_version (version) VALUES (1000)`,
	} {
		if _, err := s.DB().Exec(q); err == nil {
			t.Errorf("the serving role could: %s", q)
		} else if !strings.Contains(err.Error(), "permission denied") && !strings.Contains(err.Error(), "must be owner") {
			t.Errorf("%s: refused for another reason than the role's privileges: %v", q, err)
		}
	}
	if err := verify(t, s, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("the trail changed: %v", err)
	}
	powers, err := s.AuditPowers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(powers) != 0 {
		t.Fatalf("the serving role's powers over the audit trail: %v, want none", powers)
	}
}

// The role that owns the tables could rewrite the trail: AuditPowers says
// so, and the portal refuses to serve as it outside development.
func TestOwnerCanAlterAudit(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		s := openTest(t)
		if powers, err := s.AuditPowers(context.Background()); err != nil || powers != nil {
			t.Fatalf("SQLite: %v, %v; want none (the file's owner is the process)", powers, err)
		}
		return
	}
	s := openTest(t)
	powers, err := s.AuditPowers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(powers, "; "); !strings.Contains(got, "owns audit") || !strings.Contains(got, "owns audit_checkpoints") {
		t.Fatalf("the owner's powers: %q, want it named as the owner of both tables", got)
	}
}

// Migrations run as the owner and re-grant the serving role: a later
// start, and a table a migration adds, leave it with what it needs and
// no more. A serving role whose schema is behind, without the owner,
// cannot migrate and says who can.
func TestServingRoleAcrossStarts(t *testing.T) {
	s, owner := openServing(t)
	ctx := context.Background()
	if err := s.Audit(ctx, AuditRecord{Time: time.Now(), ActorEmail: "a@b.example", Action: "x", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	serve, _ := pgserver.TestServeURL(owner)
	s.Close()
	// Served without the owner: the schema is current, nothing to do.
	again, err := OpenPostgres(ctx, serve, PostgresOptions{})
	if err != nil {
		t.Fatalf("serve without the owner, schema current: %v", err)
	}
	if err := again.Audit(ctx, AuditRecord{Time: time.Now(), ActorEmail: "a@b.example", Action: "x", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	again.Close()

	// An earlier version, served without the owner: refused, by name.
	behind, err := pgserver.NewTestDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old, err := openPostgres(ctx, behind, PostgresOptions{}, latestVersion()-1)
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	behindServe, _ := pgserver.TestServeURL(behind)
	if st, err := OpenPostgres(ctx, behindServe, PostgresOptions{}); err == nil {
		st.Close()
		t.Fatal("a role that owns nothing migrated the schema")
	} else if !strings.Contains(err.Error(), "owner") {
		t.Fatalf("refused without saying the owner migrates: %v", err)
	}
	// With the owner: migrated, and the new version's tables granted.
	st, err := OpenPostgres(ctx, behindServe, PostgresOptions{OwnerURL: behind})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tables, err := st.DB().Tables()
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		if _, err := st.DB().Exec(`SELECT 1 FROM ` + table + ` LIMIT 1`); err != nil {
			t.Errorf("the serving role cannot read %s: %v", table, err)
		}
	}
	if powers, err := st.AuditPowers(ctx); err != nil || len(powers) != 0 {
		t.Fatalf("after migrating: %v, %v", powers, err)
	}
}

// TestServingRoleVacuumsVisitKeys: a destroyed key is proved gone only
// once a VACUUM has pruned its row (keyGoneFromTable). Before PostgreSQL
// 17 only a table's owner may VACUUM it: the serving role's was skipped
// with a warning, not an error, and the check then read the table's count
// of dead rows, which is zero until the delete's statistics arrive, with
// the row still on its page. The serving role's VACUUM of visit_keys must
// run, whatever the version.
func TestServingRoleVacuumsVisitKeys(t *testing.T) {
	s, _ := openServing(t)
	if _, err := s.DB().Exec(`VACUUM visit_keys`); err != nil {
		t.Fatal(err)
	}
	var vacuums int64
	if err := s.DB().QueryRow(`SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'visit_keys'`).Scan(&vacuums); err != nil {
		t.Fatal(err)
	}
	if vacuums == 0 {
		var version string
		s.DB().QueryRow(`SHOW server_version`).Scan(&version)
		t.Fatalf("PostgreSQL %s: the serving role's VACUUM of visit_keys did not run (skipped: only the owner may), so a destroyed key's row would stay on its page", version)
	}
}

// TestServingRoleCannotShadowAudit: PostgreSQL's own advice for an
// ordinary role is a schema of its own, named after it (CREATE SCHEMA
// portal_app AUTHORIZATION portal_app), which the default search_path
// ("$user", public) puts before public. Anyone holding the serving role's
// URL could then create tables named audit and audit_checkpoints there,
// and every connection the portal opened afterwards would append the
// trail to them: tables the serving role owns, without the triggers, which
// it may rewrite or empty. The portal's connections name their schema
// instead of taking the role's search_path.
func TestServingRoleCannotShadowAudit(t *testing.T) {
	s, owner := openServing(t)
	ctx := context.Background()
	own, err := OpenPostgres(ctx, owner, PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if _, err := own.DB().Exec(`CREATE SCHEMA portal_app AUTHORIZATION portal_app`); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"audit", "audit_checkpoints"} {
		if _, err := s.DB().Exec(`CREATE TABLE portal_app.` + table + ` (LIKE public.` + table + ` INCLUDING DEFAULTS)`); err != nil {
			t.Fatalf("the serving role's own schema: %v", err)
		}
	}
	serve, err := pgserver.TestServeURL(owner)
	if err != nil {
		t.Fatal(err)
	}
	// A new pool, as after a restart or once the old connections idle out.
	again, err := OpenPostgres(ctx, serve, PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := again.Audit(ctx, AuditRecord{Time: time.Now(), ActorEmail: "lead@ofsted.example", Action: "file.download", Object: "f", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	var kept, shadowed int
	if err := own.DB().QueryRow(`SELECT (SELECT count(*) FROM public.audit), (SELECT count(*) FROM portal_app.audit)`).Scan(&kept, &shadowed); err != nil {
		t.Fatal(err)
	}
	if kept != 1 || shadowed != 0 {
		t.Fatalf("the record went to the serving role's own table: %d in public.audit, %d in portal_app.audit", kept, shadowed)
	}
	if powers, err := again.AuditPowers(ctx); err != nil || len(powers) != 0 {
		t.Fatalf("powers over the audit trail: %v, %v", powers, err)
	}
}

// TestServingRoleMayNotCreate: a serving role that may CREATE in the
// schema holding the audit trail (PUBLIC may, in public, before PostgreSQL
// 15; an operator may grant it since) can put functions, operators and
// tables beside it, and one that may CREATE on the database can add
// schemas: AuditPowers says so, with the REVOKE that takes it back.
func TestServingRoleMayNotCreate(t *testing.T) {
	s, owner := openServing(t)
	ctx := context.Background()
	own, err := OpenPostgres(ctx, owner, PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	var db string
	if err := own.DB().QueryRow(`SELECT quote_ident(current_database())`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	dbq := db
	for _, c := range []struct{ grant, revoke string }{
		{`GRANT CREATE ON SCHEMA public TO portal_app`, `REVOKE CREATE ON SCHEMA public FROM portal_app`},
		{`GRANT CREATE ON SCHEMA public TO PUBLIC`, `REVOKE CREATE ON SCHEMA public FROM PUBLIC`},
		{`GRANT CREATE ON DATABASE ` + dbq + ` TO portal_app`, `REVOKE CREATE ON DATABASE ` + dbq + ` FROM portal_app`},
		{`GRANT CREATE ON DATABASE ` + dbq + ` TO PUBLIC`, `REVOKE CREATE ON DATABASE ` + dbq + ` FROM PUBLIC`},
	} {
		if _, err := own.DB().Exec(c.grant); err != nil {
			t.Fatal(err)
		}
		powers, err := s.AuditPowers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(powers, "; "); !strings.Contains(got, c.revoke) {
			t.Errorf("after %s: powers %q, want the REVOKE that takes it back: %s", c.grant, got, c.revoke)
		}
		if _, err := own.DB().Exec(c.revoke); err != nil {
			t.Fatal(err)
		}
		if powers, err := s.AuditPowers(ctx); err != nil || len(powers) != 0 {
			t.Fatalf("after %s: %v, %v", c.revoke, powers, err)
		}
	}
}
