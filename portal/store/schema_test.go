package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
)

// column is what both schemas must agree on for one column.
type column struct {
	Type    string // normalised: text, integer, blob, real
	NotNull bool
}

type schemaShape struct {
	Columns  map[string]column // table.column
	Indexes  []string          // named indexes (unique or not), sorted
	Triggers []string
}

func sqliteShape(t *testing.T, s *Store) schemaShape {
	t.Helper()
	sh := schemaShape{Columns: map[string]column{}}
	for _, kind := range []string{"index", "trigger"} {
		rows, err := s.DB().Query(`SELECT name FROM sqlite_master WHERE type = ? AND sql IS NOT NULL ORDER BY name`, kind)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			rows.Scan(&n)
			if kind == "index" {
				sh.Indexes = append(sh.Indexes, n)
			} else {
				sh.Triggers = append(sh.Triggers, n)
			}
		}
		rows.Close()
	}
	var tables []string
	rows, err := s.DB().Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	for _, tb := range tables {
		rows, err := s.DB().Query(fmt.Sprintf(`SELECT name, type, "notnull", pk FROM pragma_table_info('%s')`, tb))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, typ string
			var notNull, pk int
			rows.Scan(&name, &typ, &notNull, &pk)
			sh.Columns[tb+"."+name] = column{strings.ToLower(typ), notNull == 1 || pk > 0}
		}
		rows.Close()
	}
	return sh
}

func postgresShape(t *testing.T, s *Store) schemaShape {
	t.Helper()
	sh := schemaShape{Columns: map[string]column{}}
	norm := map[string]string{"text": "text", "bigint": "integer", "integer": "integer", "bytea": "blob", "double precision": "real"}
	rows, err := s.DB().Query(`SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tb, name, typ, nullable string
		rows.Scan(&tb, &name, &typ, &nullable)
		n, ok := norm[typ]
		if !ok {
			t.Errorf("%s.%s: type %s has no SQLite counterpart", tb, name, typ)
		}
		sh.Columns[tb+"."+name] = column{n, nullable == "NO"}
	}
	rows.Close()
	// Named indexes: not those behind a primary key or UNIQUE constraint
	// (SQLite's are automatic and unnamed).
	rows, err = s.DB().Query(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public'
		AND indexname NOT IN (SELECT conname FROM pg_constraint) ORDER BY indexname`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		sh.Indexes = append(sh.Indexes, n)
	}
	rows.Close()
	rows, err = s.DB().Query(`SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		sh.Triggers = append(sh.Triggers, n)
	}
	rows.Close()
	return sh
}

// TestSchemasInStep: SQLite's migrations and PostgreSQL's bring the two
// databases to the same version, tables, columns (type and nullability),
// named indexes and triggers.
func TestSchemasInStep(t *testing.T) {
	if _, err := pgserver.Find(); err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if want := pgFirstVersion + len(postgresMigrations) - 1; want != latestVersion() {
		t.Fatalf("PostgreSQL's migrations reach version %d, SQLite's %d: write each new migration for both", want, latestVersion())
	}
	ctx := context.Background()
	lite, err := Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	url, err := pgserver.NewTestDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := OpenPostgres(ctx, url, PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	for _, s := range []*Store{lite, pg} {
		if v, err := s.SchemaVersion(ctx); err != nil || v != latestVersion() {
			t.Fatalf("schema version %d (%v), want %d", v, err, latestVersion())
		}
	}
	a, b := sqliteShape(t, lite), postgresShape(t, pg)
	for name, c := range a.Columns {
		if got, ok := b.Columns[name]; !ok {
			t.Errorf("%s: in SQLite, not in PostgreSQL", name)
		} else if got != c {
			t.Errorf("%s: SQLite %+v, PostgreSQL %+v", name, c, got)
		}
	}
	for name := range b.Columns {
		if _, ok := a.Columns[name]; !ok {
			t.Errorf("%s: in PostgreSQL, not in SQLite", name)
		}
	}
	if !slices.Equal(a.Indexes, b.Indexes) {
		t.Errorf("indexes: SQLite %v, PostgreSQL %v", a.Indexes, b.Indexes)
	}
	// PostgreSQL also refuses TRUNCATE of the trail (SQLite has none).
	b.Triggers = slices.DeleteFunc(b.Triggers, func(n string) bool { return n == "audit_no_truncate" })
	if !slices.Equal(a.Triggers, b.Triggers) {
		t.Errorf("triggers: SQLite %v, PostgreSQL %v", a.Triggers, b.Triggers)
	}
}

// TestNewerDatabaseRefused: a database migrated by a newer portal is not
// opened by an older one, with a sentence that says what to do.
func TestNewerDatabaseRefused(t *testing.T) {
	s := openTest(t)
	if _, err := s.DB().Exec(`INSERT INTO schema_version (version) VALUES (?)`, latestVersion()+1); err != nil {
		t.Fatal(err)
	}
	err := s.migrate(context.Background(), Defaults{}, latestVersion())
	if err == nil || !strings.Contains(err.Error(), "newer than this portal") {
		t.Fatalf("a newer database: %v", err)
	}
}

// TestRefusedDatabaseLeftClosed: a database Open refuses is left with no
// file of it open in the process. The writing connection, which the
// refused migration had used, was left open.
func TestRefusedDatabaseLeftClosed(t *testing.T) {
	sqliteOnly(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`INSERT INTO schema_version (version) VALUES (?)`, latestVersion()+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, path); err == nil || !strings.Contains(err.Error(), "newer than this portal") {
		t.Fatalf("a newer database: %v", err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, path) {
			t.Errorf("%s is still open after Open refused it", target)
		}
	}
}
