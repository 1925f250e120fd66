package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// PostgreSQL's roles. The audit trail is append-only by its triggers, and
// a trigger binds everyone but the table's owner, who may drop or disable
// it (and a superuser, who may do anything). So in production two roles
// meet the database: the owner, which migrates the schema (and restores a
// backup) and nothing else, and the role the portal serves as, which holds
// only what serving needs: SELECT and INSERT on the audit trail and its
// checkpoints, SELECT on the schema's version, and SELECT, INSERT, UPDATE
// and DELETE on every other table. It owns nothing but, before PostgreSQL
// 17, visit_keys, whose VACUUM proves a destroyed key gone (grantServing). The owner grants
// them after every migration, table by table, so a table a migration adds
// is covered at once and a privilege given by hand beyond them is taken
// back. (Default privileges would cover a new table too, but with the
// same grant for every table: an append-only one would get UPDATE and
// DELETE until the next grant.) A role that owns the tables still serves
// when it is the only one (development, and the tests that tamper with
// the trail): AuditPowers says what it could do, and the portal refuses
// it outside development.

// ErrNotOwner is returned by OpenPostgres when the schema is behind and
// the role may not migrate it: a serving role opened without OwnerURL.
// Callers name the setting that gives the owner.
var ErrNotOwner = errors.New("the database role may not change the schema: migrate as the schema's owner")

// readOnly and appendOnly are the tables the serving role may not change
// every row of: the schema's version it only reads, and the audit trail
// and its checkpoints it only adds to.
var (
	readOnly   = map[string]bool{"schema_version": true}
	appendOnly = map[string]bool{"audit": true, "audit_checkpoints": true}
)

// notOwner marks a migration refused for want of privilege.
func notOwner(err error) error {
	if pgCode(err) == "42501" { // insufficient_privilege
		return fmt.Errorf("%w: %w", ErrNotOwner, err)
	}
	return err
}

// migrateAsOwner migrates the schema as the owner at o.OwnerURL and grants
// the role s serves as what it needs, under the migration lock, then
// closes the owner's connections.
func (s *Store) migrateAsOwner(ctx context.Context, o PostgresOptions, version int) error {
	var serving string
	if err := s.db.QueryRowContext(ctx, `SELECT current_user`).Scan(&serving); err != nil {
		return fmt.Errorf("store: serving role: %w", err)
	}
	// Two connections: one holds the lock while the other migrates.
	db, err := connectPostgres(ctx, o.OwnerURL, PostgresOptions{MaxConns: 2, StatementTimeout: o.StatementTimeout})
	if err != nil {
		return fmt.Errorf("store: the schema's owner: %w", err)
	}
	defer db.Close()
	owner := &Store{db: &handle{DB: db, pg: true}}
	return owner.withMigrateLock(ctx, func() error {
		if err := owner.migrateLocked(ctx, o.Defaults, version); err != nil {
			return err
		}
		return owner.grantServing(ctx, serving)
	})
}

// grantServing gives role, on every table of the schema, the privileges
// it serves with (roles.go's doc) and no others, in one transaction. The
// owner itself is left alone: revoking from it would take its own rights.
func (s *Store) grantServing(ctx context.Context, role string) error {
	tx, err := s.db.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var self bool
	var schema string
	var version int
	if err := tx.QueryRowContext(ctx, `SELECT current_user = $1, current_schema(), current_setting('server_version_num')::int`, role).Scan(&self, &schema, &version); err != nil {
		return fmt.Errorf("store: grant: %w", err)
	}
	if self {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename`, schema)
	if err != nil {
		return fmt.Errorf("store: grant: %w", err)
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	r, sch := pgx.Identifier{role}.Sanitize(), pgx.Identifier{schema}.Sanitize()
	stmts := []string{`GRANT USAGE ON SCHEMA ` + sch + ` TO ` + r}
	for _, t := range tables {
		privs := "SELECT, INSERT, UPDATE, DELETE"
		switch {
		case readOnly[t]:
			privs = "SELECT"
		case appendOnly[t]:
			privs = "SELECT, INSERT"
		case t == "visit_keys" && version >= 170000:
			// VACUUM after a key is destroyed (vacuumKeys), which
			// before PostgreSQL 17 only the table's owner may run.
			privs += ", MAINTAIN"
		case t == "visit_keys":
			continue // the serving role owns it (below)
		}
		q := pgx.Identifier{schema, t}.Sanitize()
		stmts = append(stmts, `REVOKE ALL ON TABLE `+q+` FROM `+r, `GRANT `+privs+` ON TABLE `+q+` TO `+r)
	}
	if version < 170000 && slices.Contains(tables, "visit_keys") {
		// Before PostgreSQL 17 only a table's owner may VACUUM it, and a
		// destroyed key is proved gone only once a VACUUM has pruned its
		// row (keyGoneFromTable): another role's VACUUM is skipped with a
		// warning, and the table's count of dead rows, read instead, is
		// zero until the delete's statistics arrive, the row still on its
		// page. So the serving role owns visit_keys, which holds no
		// trigger and nothing it may not already read and delete. It
		// takes it with the schema's CREATE right (PostgreSQL's rule for
		// a new owner), given back at once.
		var keysOwner string
		if err := tx.QueryRowContext(ctx, `SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass($1)`,
			pgx.Identifier{schema, "visit_keys"}.Sanitize()).Scan(&keysOwner); err != nil {
			return fmt.Errorf("store: grant: %w", err)
		}
		if keysOwner != role {
			stmts = append(stmts, `GRANT CREATE ON SCHEMA `+sch+` TO `+r,
				`ALTER TABLE `+pgx.Identifier{schema, "visit_keys"}.Sanitize()+` OWNER TO `+r,
				`REVOKE CREATE ON SCHEMA `+sch+` FROM `+r)
		}
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			if strings.Contains(q, " OWNER TO ") {
				return fmt.Errorf("store: before PostgreSQL 17 the serving role %s must own visit_keys, so that it can vacuum a destroyed key's row away; "+
					"make the owner a member of it once, as a role that may (GRANT %s TO <the owner>): %w", role, r, err)
			}
			return fmt.Errorf("store: grant the serving role %s: %s: %w", role, q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: grant: %w", err)
	}
	return nil
}

// AuditPowers lists what the role the store is connected as could do to
// the audit trail or its checkpoints beyond reading them and adding to
// them: be a superuser, own a table (or be a member of the role that
// does), which lets it drop or disable the triggers that keep the trail
// append-only, own the schema that holds it (which lets it drop the
// schema with the tables), hold UPDATE, DELETE, TRUNCATE or TRIGGER on
// one, or may CREATE in that schema or on the database. Each is a
// sentence naming the role. None on SQLite, where the file's owner is the
// process itself.
//
// CREATE in the schema lets the role put its own functions, operators,
// tables and views beside the trail, where the portal's queries (and the
// owner's migrations) look them up: PostgreSQL 13 and 14 give it to PUBLIC
// in public, and an operator may grant it on any version. CREATE on the
// database lets it add schemas. Neither is needed to serve, and either
// sentence says the REVOKE that takes it away (from PUBLIC, where PUBLIC
// holds it). TEMP, which PostgreSQL gives PUBLIC, is left: a temporary
// object lives only in the session that made it, which is the portal's
// own.
func (s *Store) AuditPowers(ctx context.Context) ([]string, error) {
	if !s.db.pg {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT current_user, r.rolsuper, c.relname, pg_get_userbyid(c.relowner),
	pg_has_role(current_user, c.relowner, 'MEMBER'), n.nspname, pg_has_role(current_user, n.nspowner, 'MEMBER'),
	has_table_privilege(c.oid, 'UPDATE'), has_table_privilege(c.oid, 'DELETE'),
	has_table_privilege(c.oid, 'TRUNCATE'), has_table_privilege(c.oid, 'TRIGGER'),
	has_schema_privilege(n.oid, 'CREATE'), has_schema_privilege('public', n.oid, 'CREATE'),
	has_database_privilege(current_database(), 'CREATE'), has_database_privilege('public', current_database(), 'CREATE'),
	pg_has_role(current_user, d.datdba, 'MEMBER'),
	quote_ident(current_user), quote_ident(n.nspname), quote_ident(current_database())
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_roles r ON r.rolname = current_user
	JOIN pg_database d ON d.datname = current_database()
WHERE c.oid IN (to_regclass('audit'), to_regclass('audit_checkpoints'))
ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("store: audit powers: %w", err)
	}
	defer rows.Close()
	var powers []string
	createdIn := map[string]bool{}
	for rows.Next() {
		var role, table, owner, schema, roleQ, schemaQ, dbQ string
		var super, member, schemaOwner, upd, del, trunc, trig, schemaCreate, publicSchemaCreate, dbCreate, publicDBCreate, dbOwner bool
		if err := rows.Scan(&role, &super, &table, &owner, &member, &schema, &schemaOwner, &upd, &del, &trunc, &trig,
			&schemaCreate, &publicSchemaCreate, &dbCreate, &publicDBCreate, &dbOwner, &roleQ, &schemaQ, &dbQ); err != nil {
			return nil, fmt.Errorf("store: audit powers: %w", err)
		}
		if super {
			// Everything, on every table: said once.
			if len(powers) == 0 {
				powers = append(powers, fmt.Sprintf("role %s is a superuser", role))
			}
			continue
		}
		switch {
		case owner == role:
			powers = append(powers, fmt.Sprintf("role %s owns %s", role, table))
		case member:
			powers = append(powers, fmt.Sprintf("role %s is a member of %s, which owns %s", role, owner, table))
		}
		if schemaOwner {
			// DROP SCHEMA … CASCADE drops what it holds, whoever owns it.
			powers = append(powers, fmt.Sprintf("role %s owns the schema %s, which holds %s", role, schema, table))
		}
		var may []string
		for _, p := range []struct {
			name string
			has  bool
		}{{"UPDATE", upd}, {"DELETE", del}, {"TRUNCATE", trunc}, {"TRIGGER", trig}} {
			if p.has {
				may = append(may, p.name)
			}
		}
		if len(may) > 0 && !member {
			powers = append(powers, fmt.Sprintf("role %s may %s %s", role, strings.Join(may, ", "), table))
		}
		// Both tables are in one schema and one database: each said once.
		if schemaCreate && !schemaOwner && !createdIn[schema] {
			createdIn[schema] = true
			powers = append(powers, fmt.Sprintf("role %s may CREATE in the schema %s, which holds the audit trail: %s",
				role, schema, revokeCreate("SCHEMA "+schemaQ, roleQ, publicSchemaCreate)))
		}
		if dbCreate && !dbOwner && !createdIn[""] {
			createdIn[""] = true
			powers = append(powers, fmt.Sprintf("role %s may CREATE schemas in the database: %s",
				role, revokeCreate("DATABASE "+dbQ, roleQ, publicDBCreate)))
		}
	}
	return powers, rows.Err()
}

// revokeCreate is the statement, for the owner of what to run, that takes
// CREATE on what from role: from PUBLIC when PUBLIC holds it, which every
// role then does.
func revokeCreate(what, role string, public bool) string {
	if public {
		return "run REVOKE CREATE ON " + what + " FROM PUBLIC"
	}
	return "run REVOKE CREATE ON " + what + " FROM " + role + ", or from the role it holds it through"
}
