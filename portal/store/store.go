// Package store keeps the portal's metadata in SQLite: users, visits, wrapped
// visit keys, members, files and sessions. It holds no plaintext evidence and
// no plaintext file names: those arrive sealed by the caller.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite" // database/sql driver "sqlite", pure Go
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrNotFound is returned when a row does not exist. Handlers map it to 404.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a write would break a uniqueness rule (a
// reference already used, a member already bound). Handlers map it to 409.
var ErrConflict = errors.New("store: conflict")

// ErrDestructionBegun is returned when an act that would change whether or
// when a visit is destroyed (a legal hold, a letter event) comes after its
// destruction began: it can no longer stop it; and when a file would be
// stored in a visit whose destruction began. Handlers map it to 409.
var ErrDestructionBegun = errors.New("store: destruction has begun")

// ErrUploadTaken is returned when an upload is committed after its
// pending record was taken from it (the janitor took it as cut off, and
// its objects are being removed): no file is stored.
var ErrUploadTaken = errors.New("store: the upload was taken as abandoned: its objects are being removed")

// ErrLeaseLost is returned when an act on a resumable upload is refused
// because its caller no longer holds the upload's lease, or the upload
// moved on since the caller read it (another request took it and
// committed a segment): nothing is changed.
var ErrLeaseLost = errors.New("store: the upload's lease was lost, or the upload moved on")

// ErrOnHold is returned when a destruction would begin on a visit under
// legal hold.
var ErrOnHold = errors.New("store: visit under legal hold")

// ErrDestroyed refuses to record a destruction's failure, or its
// completion again, for a visit whose destruction has completed (another
// process finished it meanwhile).
var ErrDestroyed = errors.New("store: the visit is destroyed")

// ErrNotDue is returned when a destruction would begin on a visit whose
// notice was withdrawn since the sweep found it due: its publication
// withdrawn, recorded in error, or a legal hold set and lifted.
var ErrNotDue = errors.New("store: the visit's destruction notice was withdrawn")

// Store is the metadata database.
type Store struct {
	db   *handle
	path string // the database file
	// onAppend, when set, is told the sequence number of the last audit
	// record each committed transaction appended (checkpoints follow it).
	onAppend atomic.Pointer[func(seq int64)]
	// sessionWrites is the session store's memory of its own writes.
	sessionWrites sync.Map
	// onAudit says which notifications an act's audit records call for
	// (outbox.go).
	onAudit atomic.Pointer[NotesFunc]
	// lostAnswer, when set (tests), is asked after each transaction
	// commits (LoseCommitAnswers).
	lostAnswer atomic.Pointer[func([]AuditRecord) error]
	// rows is the lists of visits' memory of their rows (rowcache.go).
	rows rowCache
}

// Open opens (creating if needed) the database at path and brings its schema
// up to date, with no Defaults: for a database that is new, or that this
// portal has migrated already. The file is made readable by its owner only
// (private.go).
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Defaults{})
}

// OpenWith is Open with the portal's settings that a migration may need
// (Defaults).
func OpenWith(ctx context.Context, path string, d Defaults) (*Store, error) {
	return openSQLite(ctx, path, d, latestVersion())
}

// busyWait is how long a write waits for SQLite's database while another
// process (a portal command beside portal serve) writes it.
var busyWait = 10 * time.Second

func openSQLite(ctx context.Context, path string, d Defaults, version int) (*Store, error) {
	if err := preparePrivate(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyWait.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	// Every commit is flushed to disk before it returns (in WAL mode, the
	// log is synced at each commit): an act answered, a receipt signed,
	// an audit record appended survive a power cut, not only a crash of
	// the process. The few writes that may wait for the next checkpoint
	// say so (DeferFlush).
	q.Add("_pragma", "synchronous(FULL)")
	// Deleted rows are overwritten, not left in free pages: destroying a
	// visit key must remove it from the file itself.
	q.Add("_pragma", "secure_delete(ON)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// SQLite writes one transaction at a time. Every write of this process
	// goes through one connection, so writers queue here, each taking the
	// connection the moment the last lets it go, rather than each on a
	// connection of its own, sleeping in SQLite's busy handler and trying
	// again; and that connection's page cache stays warm, since no other
	// connection of the process changes the file (a connection drops its
	// whole cache whenever another has written). Reads stay on the pool:
	// in WAL mode they never wait for a writer.
	w, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	gate := make(chan struct{}, 1)
	w.SetConnMaxIdleTime(10 * time.Minute)
	// Keep connections (and the statements prepared on them) rather than
	// closing all but two after a burst: database/sql's default would
	// reopen and re-prepare under concurrent load.
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(10 * time.Minute)
	s := &Store{db: &handle{DB: db, w: &handle{DB: w, gate: gate}}, path: path}
	if err := s.migrate(ctx, d, version); err != nil {
		s.db.Close() // the pool and the writing connection
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers; readiness uses it.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// DB is raw access to the database for tests and operator diagnostics:
// queries are written with ? placeholders, as the store's are.
type DB struct{ h *handle }

// DB gives raw access to the database (tests).
func (s *Store) DB() DB { return DB{s.db} }

func (d DB) Exec(q string, args ...any) (sql.Result, error) {
	return d.h.DB.Exec(d.h.bind(q), args...)
}

func (d DB) Query(q string, args ...any) (*sql.Rows, error) {
	return d.h.DB.Query(d.h.bind(q), args...)
}

func (d DB) QueryRow(q string, args ...any) *sql.Row {
	return d.h.DB.QueryRow(d.h.bind(q), args...)
}

// Postgres reports whether the database is PostgreSQL (tests write their
// few dialect-specific statements with it).
func (d DB) Postgres() bool { return d.h.pg }

// Tables lists the portal's tables.
func (d DB) Tables() ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`
	if d.h.pg {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`
	}
	rows, err := d.h.DB.Query(q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Conn is one connection of the pool, for a test that holds a
// transaction open; its queries are the database's own dialect.
func (d DB) Conn(ctx context.Context) (*sql.Conn, error) { return d.h.DB.Conn(ctx) }

// NewID returns a random opaque identifier: 128 bits, lower-case hex.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("store: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// timeFormat is how times are stored, as text in both databases: UTC and
// fixed width, so that text order is time order and the same queries
// compare them everywhere. (Rows written before it used RFC 3339 with
// trailing zeros dropped; both parse.)
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// dates parses the times and dates of one row and keeps the first failure:
// a stored value that does not parse fails the read, rather than becoming a
// zero time that would read as "no end" (an open window, a live session).
type dates struct{ err error }

func (d *dates) fail(s string) {
	if d.err == nil {
		d.err = fmt.Errorf("store: stored time %q does not parse", s)
	}
}

func (d *dates) time(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.fail(s)
	}
	return t
}

func (d *dates) null(s sql.NullString) time.Time {
	if !s.Valid {
		return time.Time{}
	}
	return d.time(s.String)
}

func (d *dates) date(s string) time.Time {
	t, err := time.Parse(dateFormat, s)
	if err != nil {
		d.fail(s)
	}
	return t
}

// boolInt stores a flag as 0 or 1 (an INTEGER column in both databases).
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return formatTime(t)
}

// inTx runs fn in a write transaction, and appends the audit records of
// the act in the same transaction: the act and its record commit together
// or not at all.
func (s *Store) inTx(ctx context.Context, fn func(*Tx) error, audit ...AuditRecord) error {
	return s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) { return audit, fn(tx) })
}

// inTxAudit is inTx for an act whose records depend on what it found (an
// expiry recorded only by the process whose delete took the row).
func (s *Store) inTxAudit(ctx context.Context, fn func(*Tx) ([]AuditRecord, error)) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		// A panic in fn (recovered higher up) must not leave the
		// transaction, and on SQLite the writing connection, held.
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
	}()
	audit, err := fn(tx)
	if err != nil {
		tx.Rollback()
		return err
	}
	seq, err := appendAudit(ctx, tx, audit)
	if err == nil {
		err = s.notifyFor(ctx, tx, audit)
	}
	if err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if f := s.onAppend.Load(); f != nil && seq > 0 {
		(*f)(seq)
	}
	if f := s.lostAnswer.Load(); f != nil {
		return (*f)(audit)
	}
	return nil
}

// LoseCommitAnswers makes every write transaction that commits ask f,
// with its audit records, and return f's error though it committed: the
// database's answer to a COMMIT lost on its way (the connection cut, the
// server stopped, the request's context ended), which leaves the caller
// not knowing whether its act was stored. Tests use it; nil stops it.
func (s *Store) LoseCommitAnswers(f func(audit []AuditRecord) error) {
	if f == nil {
		s.lostAnswer.Store(nil)
		return
	}
	s.lostAnswer.Store(&f)
}

// OnAppend sets what is told, after each commit that appended audit
// records, the last record's sequence number.
func (s *Store) OnAppend(f func(seq int64)) { s.onAppend.Store(&f) }

// exec runs one statement with its audit records in one transaction.
func (s *Store) exec(ctx context.Context, audit []AuditRecord, q string, args ...any) error {
	return s.inTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	}, audit...)
}

// IsFull reports whether err is the database's disk being full (SQLite's
// SQLITE_FULL, PostgreSQL's disk_full): nothing was written, and writing
// more will fail until an operator makes room.
func IsFull(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL || pgCode(err) == "53100"
}
