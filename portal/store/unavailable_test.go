package store

import (
	"context"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestUnavailableIsTheDatabases: the database out of reach or too busy is
// told from every other failure, and only the database's own connection
// counts: a bare "unexpected EOF" is also an upload's body ending early.
func TestUnavailableIsTheDatabases(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection lost", fmt.Errorf("store: find session: %w", &connLost{io.EOF}), true},
		{"connection refused", &pgconn.ConnectError{}, true},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, true},
		{"deadlock", fmt.Errorf("store: commit file: %w", &pgconn.PgError{Code: "40P01"}), true},
		{"server shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"disk full", &pgconn.PgError{Code: "53100"}, false},
		{"a body ending early", fmt.Errorf("evidence: %w", io.ErrUnexpectedEOF), false},
		{"a reset of another part", &connectionReset{}, false},
		{"not found", ErrNotFound, false},
		{"cancelled", context.Canceled, false},
		// pgx wraps the request's own context ending in errors that say
		// they are safe to retry: the client went, the database did not.
		{"the request's context ended, in pgx's words", fmt.Errorf("store: find session: %w", &retryable{context.Canceled}), false},
		{"the request's deadline, in pgx's words", &retryable{context.DeadlineExceeded}, false},
		{"none", nil, false},
	} {
		if got := IsUnavailable(c.err); got != c.want {
			t.Errorf("%s (%v): unavailable %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

type connectionReset struct{}

func (connectionReset) Error() string { return syscall.ECONNRESET.Error() }
func (connectionReset) Unwrap() error { return syscall.ECONNRESET }

// retryable is as pgconn's errors of a connection's read or write: safe to
// retry, wrapping its cause.
type retryable struct{ err error }

func (e *retryable) Error() string     { return "receive message failed: " + e.err.Error() }
func (e *retryable) Unwrap() error     { return e.err }
func (e *retryable) SafeToRetry() bool { return true }
