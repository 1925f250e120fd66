package portal

import (
	"errors"
	"fmt"
	"time"
)

// Kind is what went wrong, in terms a caller can act on. The doors turn a
// kind into their own answer (an HTTP status, an exit code) in one place.
type Kind int

// The kinds of refusal and failure the domain reports.
const (
	KindInvalid     Kind = iota + 1 // the request is malformed or a value is wrong
	KindNotSignedIn                 // nobody is signed in
	KindForbidden                   // signed in, not allowed
	KindNotFound                    // unknown, or not theirs to know of
	KindConflict                    // clashes with what exists
	KindGone                        // destroyed under the retention schedule
	KindLocked                      // closed for now: a window, a legal hold, uploads closed
	KindTooLarge                    // over a size limit
	KindCorrupt                     // stored evidence failed authentication
	KindUnavailable                 // a part the act needs is down
	KindStorageFull                 // the database's or the object store's disk is full
)

// Error is a refusal or failure of a domain operation. Msg is a sentence for
// a person and never carries an internal error's text; Code is stable for
// programs (the API's "code").
type Error struct {
	Kind  Kind
	Code  string
	Msg   string
	Field string    // KindInvalid: the value at fault, when there is one
	Opens time.Time // KindLocked: when it opens (zero: not known)
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

// Is makes errors.Is(err, ErrNotFound) and the like match any error of the
// same kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == "" && t.Kind == e.Kind
}

// Sentinels for errors.Is: they match any *Error of their kind.
var (
	ErrNotFound    = &Error{Kind: KindNotFound}
	ErrForbidden   = &Error{Kind: KindForbidden}
	ErrNotSignedIn = &Error{Kind: KindNotSignedIn}
	ErrGone        = &Error{Kind: KindGone}
	ErrLocked      = &Error{Kind: KindLocked}
	ErrConflict    = &Error{Kind: KindConflict}
	ErrInvalid     = &Error{Kind: KindInvalid}
)

var (
	errNotSignedIn = &Error{Kind: KindNotSignedIn, Code: "not_signed_in", Msg: "Sign in to continue."}
	errForbidden   = &Error{Kind: KindForbidden, Code: "forbidden", Msg: "You do not have permission to do this."}
	errNotFound    = &Error{Kind: KindNotFound, Code: "not_found", Msg: "Page not found. If you typed the address, check it is correct."}
	errGone        = &Error{Kind: KindGone, Code: "destroyed", Msg: "This visit's evidence has been destroyed under the retention schedule."}
	errCorrupt     = &Error{Kind: KindCorrupt, Code: "corrupt", Msg: "This file is damaged in storage and cannot be downloaded. The portal team has been told. Ask the provider to upload it again."}
)

func invalid(field, msg string) *Error {
	return &Error{Kind: KindInvalid, Code: "bad_request", Field: field, Msg: msg}
}

func invalidf(field, format string, args ...any) *Error {
	return invalid(field, fmt.Sprintf(format, args...))
}

func conflict(msg string) *Error { return &Error{Kind: KindConflict, Code: "conflict", Msg: msg} }

// errFileGone refuses to go on with a download of a file deleted or
// purged since it was allowed.
var errFileGone = notFound("The file was deleted while it was being downloaded.")

func notFound(msg string) *Error { return &Error{Kind: KindNotFound, Code: "not_found", Msg: msg} }

func locked(code, msg string, opens time.Time) *Error {
	return &Error{Kind: KindLocked, Code: code, Msg: msg, Opens: opens}
}

// AsError returns err as an *Error when it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
