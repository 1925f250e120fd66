package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// IsUnavailable reports whether err is the database out of reach or too
// busy to answer in time, rather than a fault of the act: PostgreSQL
// down, restarting, refusing connections or cut off (a connection lost,
// too many connections), a statement or lock wait that ran past its
// timeout, a deadlock or serialization failure; SQLite's file held by
// another writer past the busy timeout. The act may be tried again in a
// moment. Whether it was done is not always known: a commit whose answer
// was lost may have been stored, so callers that must know read again.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrBusy) || errors.Is(err, ErrPoolExhausted) || errors.Is(err, ErrConnectSlow) {
		return true
	}
	// The request's own context ended (its client went, or its deadline
	// passed): pgx wraps that in errors it calls safe to retry, but the
	// database was not out of reach. (A statement timeout is the
	// database's own: 57014, below.)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
		return false
	}
	if code := pgCode(err); code != "" {
		switch code {
		case "53300", // too_many_connections
			"57P01", "57P02", "57P03", // shutting down, crashed, starting up
			"57014",          // query_canceled: statement_timeout
			"55P03",          // lock_not_available: lock_timeout
			"40001", "40P01": // serialization failure, deadlock
			return true
		}
		return strings.HasPrefix(code, "08") // connection exception
	}
	var ce *pgconn.ConnectError
	var lost *connLost
	if errors.As(err, &ce) || errors.As(err, &lost) || errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	// pgconn's own errors of the connection (a message not received, not
	// sent, a timeout) say whether they are safe to retry; no other part
	// of the portal's errors do.
	var pe interface{ SafeToRetry() bool }
	return errors.As(err, &pe)
}

// connLost is an error of the database's network connection: a read or
// a write that failed. Its text is the error's own.
type connLost struct{ err error }

func (e *connLost) Error() string { return e.err.Error() }
func (e *connLost) Unwrap() error { return e.err }

// markedConn marks its errors as the database connection's (connLost).
type markedConn struct{ net.Conn }

func (c markedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		err = &connLost{err}
	}
	return n, err
}

func (c markedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil {
		err = &connLost{err}
	}
	return n, err
}
