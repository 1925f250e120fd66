package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
)

// ErrPoolExhausted is returned when a statement waited the pool's bound
// (PostgresOptions.PoolWait) for a connection while every one was in
// use: IsUnavailable, as PostgreSQL refusing a connection would be.
var ErrPoolExhausted = errors.New("store: the database is busy: every connection of the pool stayed in use")

// ErrConnectSlow is returned when a statement waited the pool's bound
// for a connection the pool had room for and was opening: PostgreSQL
// did not accept a new connection in time (its host overloaded, or
// unreachable with nothing refusing). IsUnavailable; a larger pool would
// not help.
var ErrConnectSlow = errors.New("store: the database did not accept a new connection in time (the pool had room for it)")

// On PostgreSQL a statement takes its connection from the pool itself
// (database/sql's Conn), with a wait of its own bound: database/sql waits
// for a connection for as long as the context lets it, which for a
// request is until its client gives up, so a pool held by long
// statements or stalled transactions hung every request rather than
// answering 503. The statement then runs under the request's context as
// before; a connection found broken is given up and another taken, as
// database/sql does (at most twice).

// pooled takes a connection of the pool, waiting at most h.poolWait.
func (h *handle) pooled(ctx context.Context) (*sql.Conn, error) {
	full := h.poolFull()
	wctx, cancel := context.WithTimeout(ctx, h.poolWait)
	defer cancel()
	c, err := h.DB.Conn(wctx)
	if err != nil && ctx.Err() == nil && wctx.Err() != nil {
		if full || h.poolFull() {
			return nil, ErrPoolExhausted
		}
		return nil, ErrConnectSlow
	}
	return c, err
}

// poolFull reports whether every connection the pool may open is open
// and in use (a connection being opened counts as one).
func (h *handle) poolFull() bool {
	st := h.DB.Stats()
	return st.MaxOpenConnections > 0 && st.InUse >= st.MaxOpenConnections
}

// badConnTries is how many connections a statement tries when each it
// takes turns out broken (after PostgreSQL restarted, say).
const badConnTries = 3

func (h *handle) pooledQueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	for try := 1; ; try++ {
		c, err := h.pooled(ctx)
		if err != nil {
			return h.DB.QueryRowContext(failedContext{ctx, err}, q)
		}
		row := c.QueryRowContext(ctx, h.bind(q), args...)
		if errors.Is(row.Err(), driver.ErrBadConn) && try < badConnTries {
			c.Close()
			continue
		}
		// The connection goes back once the row is scanned (Conn.Close
		// waits for its rows).
		go c.Close()
		return row
	}
}

func (h *handle) pooledQuery(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	for try := 1; ; try++ {
		c, err := h.pooled(ctx)
		if err != nil {
			return nil, err
		}
		rows, err := c.QueryContext(ctx, h.bind(q), args...)
		if err != nil {
			c.Close()
			if errors.Is(err, driver.ErrBadConn) && try < badConnTries {
				continue
			}
			return nil, err
		}
		go c.Close() // once the rows are closed
		return rows, nil
	}
}

func (h *handle) pooledExec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	for try := 1; ; try++ {
		c, err := h.pooled(ctx)
		if err != nil {
			return nil, err
		}
		res, err := c.ExecContext(ctx, h.bind(q), args...)
		c.Close()
		if errors.Is(err, driver.ErrBadConn) && try < badConnTries {
			continue
		}
		return res, err
	}
}

func (h *handle) pooledBegin(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	for try := 1; ; try++ {
		c, err := h.pooled(ctx)
		if err != nil {
			return nil, err
		}
		tx, err := c.BeginTx(ctx, opts)
		if err != nil {
			c.Close()
			if errors.Is(err, driver.ErrBadConn) && try < badConnTries {
				continue
			}
			return nil, err
		}
		return &Tx{Tx: tx, h: h, ctx: ctx, pooled: c}, nil
	}
}

// failedContext is a context already ended with err: database/sql gives
// a *sql.Row asked for under it that error, before it takes a
// connection.
type failedContext struct {
	context.Context
	err error
}

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (c failedContext) Done() <-chan struct{} { return closed }
func (c failedContext) Err() error            { return c.err }
