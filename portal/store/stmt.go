package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// handle is the database with a cache of prepared statements. SQLite spends
// much of a small request parsing SQL; every query here is a constant
// string, so each is prepared once per connection and reused (database/sql
// re-prepares it on a new connection, and inside transactions through
// Tx.StmtContext). A transaction never prepares into the cache itself:
// that takes a second connection from the pool while it holds one, and
// with every connection held by such a transaction nothing moves. It runs
// a query not yet cached as it is, and the cache takes it once the
// transaction is over.
type handle struct {
	*sql.DB
	pg    bool     // PostgreSQL: placeholders are numbered (bind)
	stmts sync.Map // query -> *sql.Stmt
	count atomic.Int32
	// w, on SQLite, is the one connection every write goes through
	// (transactions and writes of their own), with its own statements;
	// reads stay on the pool (see Open).
	w *handle
	// gate, on that connection, is held by the write that has it: the
	// writes behind it wait here, each for at most busyWait, rather than
	// in database/sql's queue for the connection, which has no bound
	// (each would then wait for all those before it, and for its own
	// busy timeout besides, while another process holds the file).
	gate chan struct{}
	// poolWait, on PostgreSQL, bounds a statement's wait for a
	// connection of the pool (poolwait.go).
	poolWait time.Duration
}

// ErrBusy is returned when a write waited busyWait for SQLite's writing
// connection while the writes before it held it (another process holding
// the database, or a long write of this one): IsUnavailable.
var ErrBusy = errors.New("store: the database is busy: a write waited too long for the writes before it")

// enter waits, at most busyWait, for the writing connection's turn.
func (h *handle) enter(ctx context.Context) error {
	if h.gate == nil {
		return nil
	}
	select {
	case h.gate <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(busyWait)
	defer t.Stop()
	select {
	case h.gate <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leave gives the writing connection's turn to the next write.
func (h *handle) leave() {
	if h.gate != nil {
		<-h.gate
	}
}

// maxCached bounds the cache: the store's queries are a fixed set, so this
// is never reached unless something builds SQL from data.
const maxCached = 256

func (h *handle) stmt(ctx context.Context, q string) (*sql.Stmt, bool) {
	if st, ok := h.cached(q); ok {
		return st, true
	}
	if h.count.Load() >= maxCached {
		return nil, false
	}
	if h.poolWait > 0 {
		// Preparing takes a connection of the pool: not for longer
		// than a statement would wait for one.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.poolWait)
		defer cancel()
	}
	st, err := h.DB.PrepareContext(ctx, h.bind(q))
	if err != nil {
		return nil, false // let the plain call report the error
	}
	if v, loaded := h.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return v.(*sql.Stmt), true
	}
	h.count.Add(1)
	return st, true
}

// cached is q's statement if it is prepared already.
func (h *handle) cached(q string) (*sql.Stmt, bool) {
	if v, ok := h.stmts.Load(q); ok {
		return v.(*sql.Stmt), true
	}
	return nil, false
}

func (h *handle) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	count(ctx, q)
	if h.poolWait > 0 {
		return h.pooledQueryRow(ctx, q, args...)
	}
	if st, ok := h.stmt(ctx, q); ok {
		return st.QueryRowContext(ctx, args...)
	}
	return h.DB.QueryRowContext(ctx, h.bind(q), args...)
}

func (h *handle) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	count(ctx, q)
	if h.poolWait > 0 {
		return h.pooledQuery(ctx, q, args...)
	}
	if st, ok := h.stmt(ctx, q); ok {
		return st.QueryContext(ctx, args...)
	}
	return h.DB.QueryContext(ctx, h.bind(q), args...)
}

func (h *handle) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if h.w != nil {
		return h.w.ExecContext(ctx, q, args...)
	}
	if err := h.enter(ctx); err != nil {
		return nil, err
	}
	defer h.leave()
	count(ctx, q)
	if h.poolWait > 0 {
		return h.pooledExec(ctx, q, args...)
	}
	if st, ok := h.stmt(ctx, q); ok {
		return st.ExecContext(ctx, args...)
	}
	return h.DB.ExecContext(ctx, h.bind(q), args...)
}

func (h *handle) BeginTx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	if h.w != nil {
		return h.w.BeginTx(ctx, opts)
	}
	count(ctx, "BEGIN")
	if err := h.enter(ctx); err != nil {
		return nil, err
	}
	// On SQLite this is the writing connection (the pool passed it on
	// above), whose commits are flushed unless the context defers it.
	var t *Tx
	if !h.pg && flushDeferred(ctx) {
		var err error
		if t, err = h.beginDeferred(ctx, opts); err != nil {
			h.leave()
			return nil, err
		}
	} else if h.poolWait > 0 {
		var err error
		if t, err = h.pooledBegin(ctx, opts); err != nil {
			h.leave()
			return nil, err
		}
	} else {
		tx, err := h.DB.BeginTx(ctx, opts)
		if err != nil {
			h.leave()
			return nil, err
		}
		t = &Tx{Tx: tx, h: h, ctx: ctx}
	}
	t.gated = h.gate != nil
	return t, nil
}

// Close closes the cached statements and the database.
func (h *handle) Close() error {
	h.stmts.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	err := h.DB.Close()
	if h.w != nil {
		err = errors.Join(err, h.w.Close())
	}
	return err
}

// Tx is a transaction that uses the cached statements.
type Tx struct {
	*sql.Tx
	h      *handle
	ctx    context.Context // the context it began in: its commit is counted there
	missed []string        // queries it ran that were not cached
	// conn, for a transaction whose flush is deferred, is the connection
	// it holds, to be flushed again once it ends (flush.go).
	conn *sql.Conn
	// gated: the transaction holds the writing connection's turn (enter),
	// given back once, when it ends.
	gated bool
	// pooled, on PostgreSQL, is the connection it took from the pool
	// (poolwait.go), given back when it ends.
	pooled *sql.Conn
}

// Commit ends the transaction (one more statement).
func (t *Tx) Commit() error {
	count(t.ctx, "COMMIT")
	err := t.Tx.Commit()
	t.release()
	t.leave()
	t.prepareMissed()
	return err
}

// Rollback ends the transaction without its writes.
func (t *Tx) Rollback() error {
	err := t.Tx.Rollback()
	t.release()
	t.leave()
	t.prepareMissed()
	return err
}

// leave gives the writing connection's turn back, once.
func (t *Tx) leave() {
	if t.gated {
		t.gated = false
		t.h.leave()
	}
}

// prepareMissed caches the queries the transaction ran as they were, now
// that it holds no connection.
func (t *Tx) prepareMissed() {
	for _, q := range t.missed {
		t.h.stmt(t.ctx, q)
	}
	t.missed = nil
}

// stmt is q's cached statement bound to the transaction, or nil (q is
// then run as it is, and cached after the transaction).
func (t *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	if st, ok := t.h.cached(q); ok {
		return t.Tx.StmtContext(ctx, st)
	}
	t.missed = append(t.missed, q)
	return nil
}

func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	count(ctx, q)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, t.h.bind(q), args...)
}

func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	count(ctx, q)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, t.h.bind(q), args...)
}

func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	count(ctx, q)
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, t.h.bind(q), args...)
}

// scanner is a row to scan: *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// querier runs queries: the store's handle or a transaction.
type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, db querier, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	return queryAtMost(ctx, db, 0, scan, q, args...)
}

// queryAtMost is queryAll for a query of at most n rows (a page): the
// rows' slice is made once, not grown a row at a time. Like queryAll it
// returns nil for no rows when n is 0.
func queryAtMost[T any](ctx context.Context, db querier, n int, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	if n > 0 {
		out = make([]T, 0, min(n, 1000))
	}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	countRows(ctx, len(out))
	return out, rows.Err()
}

// execOne runs a statement that must change a row: ErrNotFound when it
// changes none.
func execOne(ctx context.Context, tx *Tx, q string, args ...any) error {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// refuseOnHold fails a transaction that changes a visit's evidence
// (deletes, withdraws, replaces, purges or re-files a file) when the visit
// is under legal hold (ErrOnHold), and holds the visit's row for the rest
// of it, so that a hold set meanwhile waits for it: the request was
// allowed on the hold as it read it, and this applies the same rule where
// the change is written. It comes after the transaction's change to the
// file: on PostgreSQL the visit's row is then locked after the file's, in
// the order every other change to a file takes them (the files_version
// triggers), so two such transactions on one file cannot deadlock.
//
// A visit whose destruction has begun takes no change to its files either
// (ErrDestructionBegun): the destruction listed them when it began, and
// its certificate states them as they were (a file purged now would be
// listed destroyed and purged both).
func refuseOnHold(ctx context.Context, tx *Tx, visitID string) error {
	var hold int64
	var state string
	err := tx.QueryRowContext(ctx, `SELECT legal_hold, state FROM visits WHERE id = ?`+tx.h.forUpdate(), visitID).Scan(&hold, &state)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case err != nil:
		return err
	case state != "active":
		return ErrDestructionBegun
	case hold != 0:
		return ErrOnHold
	}
	return nil
}

// lockVisit holds a visit's row for the rest of a write transaction, so
// that an act which reads before it writes (letter events) is serialised
// with any other on the same visit: SQLite's write transactions (BEGIN
// IMMEDIATE) already hold the whole database, PostgreSQL takes the row
// (FOR NO KEY UPDATE). The read also fails the act when the visit is gone.
func lockVisit(ctx context.Context, tx *Tx, visitID string) error {
	_, err := lockVisitState(ctx, tx, visitID)
	return err
}

// lockVisitState is lockVisit, returning the visit's state as it holds it.
func lockVisitState(ctx context.Context, tx *Tx, visitID string) (string, error) {
	var state string
	if err := tx.QueryRowContext(ctx, `SELECT state FROM visits WHERE id = ?`+tx.h.forUpdate(), visitID).Scan(&state); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", ErrNotFound
		}
		return "", err
	}
	return state, nil
}
