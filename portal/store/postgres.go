package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL is the production database; SQLite the embedded default. The
// store speaks to both with the same queries, written with ? placeholders
// (numbered for PostgreSQL when prepared, bind) and the SQL both accept
// (ON CONFLICT, RETURNING, partial indexes). What differs is here and in
// schema.go: the schema's types, how an act that reads before it writes is
// serialised (SQLite's BEGIN IMMEDIATE holds the whole database; on
// PostgreSQL, at READ COMMITTED, a row lock or an advisory lock), errors,
// and how a destroyed key is shown gone.

// PostgresOptions tune the pool (PORTAL_DB_MAX_CONNS,
// PORTAL_DB_STATEMENT_TIMEOUT). TLS is the URL's sslmode.
type PostgresOptions struct {
	MaxConns         int           // 0: 10
	StatementTimeout time.Duration // 0: 30 s; a statement running longer is cancelled
	// PoolWait bounds how long a statement waits for a connection of the
	// pool (0: busyWait); one that waits longer fails as the database
	// unavailable (IsUnavailable).
	PoolWait time.Duration
	// Defaults are the settings a migration may need.
	Defaults Defaults
	// OwnerURL is the role that owns the schema (roles.go): the store
	// migrates as it, grants the role it serves as what that role needs,
	// and closes it. Empty: the serving role migrates, which it can only
	// if it owns the schema (development), or when nothing is due.
	OwnerURL string
}

// OpenPostgres connects to the database at url (postgres://…) and brings
// its schema up to date, one instance at a time (an advisory lock).
func OpenPostgres(ctx context.Context, url string, o PostgresOptions) (*Store, error) {
	return openPostgres(ctx, url, o, latestVersion())
}

func openPostgres(ctx context.Context, url string, o PostgresOptions, version int) (*Store, error) {
	db, err := connectPostgres(ctx, url, o)
	if err != nil {
		return nil, err
	}
	wait := o.PoolWait
	if wait <= 0 {
		wait = busyWait
	}
	s := &Store{db: &handle{DB: db, pg: true, poolWait: wait}}
	if o.OwnerURL != "" {
		err = s.migrateAsOwner(ctx, o, version)
	} else {
		// Two connections: one holds the migration lock while the other
		// migrates. A pool of one (PORTAL_DB_MAX_CONNS=1) would wait for
		// itself, for ever; it is one again once migrated.
		if o.MaxConns == 1 {
			db.SetMaxOpenConns(2)
			defer db.SetMaxOpenConns(1)
		}
		err = s.migrate(ctx, o.Defaults, version)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// connectPostgres opens a pool on the database at url and checks that it
// answers.
func connectPostgres(ctx context.Context, url string, o PostgresOptions) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: PostgreSQL URL: %w", err)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 10
	}
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = 30 * time.Second
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(o.StatementTimeout.Milliseconds(), 10)
	// A transaction of the portal's is never idle for long: it runs its
	// statements one after another, with no request or object store
	// between them. One that is has stopped (its instance frozen, paused,
	// or cut off from the database with the connection still open), and
	// holds its locks, the audit trail's among them, until PostgreSQL
	// ends it: hours, with TCP's keepalive defaults, with every act of
	// every instance refused meanwhile. The snapshot a backup holds open
	// for pg_dump says otherwise for itself (ExportSnapshot).
	cfg.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt((2 * o.StatementTimeout).Milliseconds(), 10)
	cfg.RuntimeParams["application_name"] = "portal"
	// The schema the tables are in, not the role's search_path, whose
	// default ("$user", public) looks first in a schema named after the
	// role: one the serving role may own (PostgreSQL's advice for an
	// ordinary role), where it could create an audit table of its own
	// for later connections to append to. A URL's search_path (another
	// schema for the portal's tables) is kept.
	if cfg.RuntimeParams["search_path"] == "" {
		cfg.RuntimeParams["search_path"] = "public"
	}
	// An error of the connection itself (the server gone, the connection
	// cut) is marked as the database's: PostgreSQL's driver returns some
	// as they are (a bare "unexpected EOF"), which nothing else would
	// tell from an upload's body ending early (IsUnavailable).
	if dial := cfg.DialFunc; dial != nil {
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return markedConn{c}, nil
		}
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(o.MaxConns)
	db.SetMaxIdleConns(o.MaxConns)
	db.SetConnMaxIdleTime(10 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to PostgreSQL at %s: %w", redact(cfg), err)
	}
	return db, nil
}

// Unflushed names the PostgreSQL settings that leave commits unflushed,
// which PostgreSQL's defaults do not: fsync, synchronous_commit or
// full_page_writes off. With any of them, what the portal has answered
// or recorded may be lost, or the cluster damaged, by a power cut or a
// crash of its host. Nil when there are none, and always on SQLite,
// whose flushes the store sets itself (flush.go).
func (s *Store) Unflushed(ctx context.Context) ([]string, error) {
	if !s.db.pg {
		return nil, nil
	}
	var fsync, commit, pages string
	if err := s.db.QueryRowContext(ctx, `SELECT current_setting('fsync'), current_setting('synchronous_commit'), current_setting('full_page_writes')`).Scan(&fsync, &commit, &pages); err != nil {
		return nil, fmt.Errorf("store: durability settings: %w", err)
	}
	return unflushed(fsync, commit, pages), nil
}

func unflushed(fsync, commit, pages string) []string {
	var off []string
	for _, s := range []struct{ name, value string }{{"fsync", fsync}, {"synchronous_commit", commit}, {"full_page_writes", pages}} {
		if s.value == "off" {
			off = append(off, s.name+"=off")
		}
	}
	return off
}

// redact names a database without its password.
func redact(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// Postgres reports whether the store is on PostgreSQL.
func (s *Store) Postgres() bool { return s.db.pg }

// bind numbers the ? placeholders of q for PostgreSQL ($1, $2, …). The
// store's queries hold no ? in literals.
func (h *handle) bind(q string) string {
	if !h.pg || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// auditLock is the advisory lock that serialises appends to the audit
// chain on PostgreSQL (held to the end of the transaction): two
// transactions never read the same head. SQLite's write transactions
// already exclude each other.
const auditLock = 0x706f7274616c // "portal"

func lockAudit(ctx context.Context, tx *Tx) error {
	if !tx.h.pg {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(auditLock))
	return err
}

// forUpdate is appended to a SELECT that must hold its row for the rest
// of the transaction. It holds it as an UPDATE that leaves the key alone
// does (FOR NO KEY UPDATE): that waits for and excludes every other
// change to the row, but not the share a foreign key takes. A visit's row
// is shared so by every file, name or replacement written into the visit,
// and a transaction that has written one asks for the row after it
// (refuseOnHold); FOR UPDATE would wait there for every other such
// transaction's share while they waited for its files_version trigger
// (TestFilesStoredTogether).
func (h *handle) forUpdate() string {
	if h.pg {
		return " FOR NO KEY UPDATE"
	}
	return ""
}

// plainEmailRow is the condition, after another, that a row's email is
// plain (PlainEmail): on PostgreSQL, whose collation of emails takes a
// look-alike for the address it imitates, an invitation or a grant stored
// before addresses had to be plain never binds. (SQLite's NOCASE folds
// ASCII alone: a look-alike there is another address.)
func (h *handle) plainEmailRow() string {
	if h.pg {
		return ` AND email COLLATE "C" ~ '^[!-~]+$'`
	}
	return ""
}

// pgCode is a PostgreSQL error's SQLSTATE, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// migrateLock is the session-level advisory lock held while one instance
// migrates the schema; the others wait for it.
const migrateLock = 0x706f7274616d

// withMigrateLock runs fn holding the migration lock on PostgreSQL.
func (s *Store) withMigrateLock(ctx context.Context, fn func() error) error {
	if !s.db.pg {
		return fn()
	}
	conn, err := s.db.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLock)); err != nil {
		return fmt.Errorf("store: wait for the migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLock))
	return fn()
}

// vacuumKeys asks PostgreSQL to prune the dead versions of visit_keys rows
// now, rather than at autovacuum's convenience, so a destroyed key leaves
// the table's live pages soon (what else keeps it: README).
func (s *Store) vacuumKeys(ctx context.Context) error {
	if !s.db.pg {
		return nil
	}
	_, err := s.db.DB.ExecContext(ctx, `VACUUM visit_keys`)
	return err
}

// Clock reads the database server's clock. On PostgreSQL it is another
// host's, which the portal compares its own with before it destroys
// anything; SQLite's is the portal host's own.
func (s *Store) Clock(ctx context.Context) (time.Time, error) {
	q := `SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`
	if s.db.pg {
		q = `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
	}
	var v string
	if err := s.db.QueryRowContext(ctx, q).Scan(&v); err != nil {
		return time.Time{}, fmt.Errorf("store: the database's clock: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: the database's clock: %q: %w", v, err)
	}
	return t, nil
}
