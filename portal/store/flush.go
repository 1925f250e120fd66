package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
)

// On SQLite every commit is flushed to disk before it returns
// (synchronous FULL): what the portal has answered, receipted or audited
// is on disk, and a power cut loses none of it. A flush costs about as
// much as the rest of a small upload's transaction, so the one write an
// upload makes before its objects (its name and pending record) defers
// it to the next flushed commit or checkpoint: that write answers nobody,
// and the upload's own commit, flushed, carries it to disk with it
// (SQLite's log is written in order). If the power goes between them,
// the upload had not been answered; its objects, sealed under the
// visit's key, go with the visit's bucket. PostgreSQL flushes every
// commit, deferred or not.

type deferFlushKey struct{}

// DeferFlush marks a context whose write transactions may leave their
// flush to a later commit.
func DeferFlush(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferFlushKey{}, true)
}

func flushDeferred(ctx context.Context) bool {
	v, _ := ctx.Value(deferFlushKey{}).(bool)
	return v
}

// SQLite refuses to change its safety level inside a transaction, so a
// deferred transaction holds the writing connection from before it begins
// until after it ends: NORMAL for it, FULL again after.
const (
	syncNormal = "PRAGMA synchronous = NORMAL"
	syncFull   = "PRAGMA synchronous = FULL"
)

// beginDeferred begins a transaction whose commit is not flushed.
func (h *handle) beginDeferred(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	conn, err := h.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	t := &Tx{h: h, ctx: ctx, conn: conn}
	if _, err := conn.ExecContext(ctx, syncNormal); err != nil {
		t.release()
		return nil, err
	}
	if t.Tx, err = conn.BeginTx(ctx, opts); err != nil {
		t.release()
		return nil, err
	}
	return t, nil
}

// release gives a transaction's pooled connection back (PostgreSQL), and
// a deferred transaction's connection back, flushing its commits again. A connection that cannot be set back is closed, not
// pooled: no later commit may go unflushed for want of it.
func (t *Tx) release() {
	if t.pooled != nil {
		t.pooled.Close()
		t.pooled = nil
	}
	if t.conn == nil {
		return
	}
	conn := t.conn
	t.conn = nil
	if _, err := conn.ExecContext(context.WithoutCancel(t.ctx), syncFull); err != nil {
		conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	conn.Close()
}
