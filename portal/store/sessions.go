package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// SessionStore keeps server-side sessions in the database. It implements
// scs.Store and scs.CtxStore. It is given the hash of each session token (the
// session manager hashes them), so the database holds nothing a browser
// could present.
//
// A session is created once, by a commit whose context carries NewSession
// (sign-in); every other commit only updates a session that still exists. So
// a session that was destroyed (sign-out) or has expired is never brought
// back by a request that loaded it earlier and saves it late: that commit
// fails with ErrSessionEnded.
type SessionStore struct {
	db  *handle
	now func() time.Time
	// written remembers what this process last read or wrote for each
	// token, so that a request that only moves the idle deadline forward
	// by less than touch does not write (scs commits every request
	// when an idle timeout is set). What was read counts as much as what
	// was written: another instance may have written since this one last
	// did, and data this one writes back, the same as its own last write,
	// must still replace that.
	written *sync.Map // token -> committed
	// touch is how far the idle deadline must move before an unchanged
	// session is written again (Touch).
	touch time.Duration
}

type committed struct {
	sum    [32]byte
	expiry time.Time
}

// touchEvery is how far the idle deadline must move before an unchanged
// session is written again, at most: the idle timeout is exact to within
// this.
const touchEvery = time.Minute

// Sessions returns the session store over this database. It writes an
// unchanged session again once its deadline has moved a minute, which
// keeps a session in use only when its idle timeout is well over a minute:
// Touch gives it the idle timeout.
func (s *Store) Sessions(now func() time.Time) *SessionStore {
	return &SessionStore{db: s.db, now: now, written: &s.sessionWrites, touch: touchEvery}
}

// Touch returns the store for sessions whose idle timeout is idle: an
// unchanged session is written again once its deadline has moved a tenth
// of idle, and at most a minute. With a minute for every idle timeout, a
// timeout of a minute or less was never moved by the session's own
// requests: it ended that long after it was last written, in use or not.
func (s *SessionStore) Touch(idle time.Duration) *SessionStore {
	out := *s
	out.touch = min(touchEvery, idle/10)
	return &out
}

func unixFloat(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// ErrSessionEnded is returned by a commit of a session that no longer exists
// (destroyed or expired): it is not re-created.
var ErrSessionEnded = errors.New("store: the session has ended")

type newSessionKey struct{}

// NewSession marks a context whose commit creates the session: only such a
// commit inserts a row.
func NewSession(ctx context.Context) context.Context {
	return context.WithValue(ctx, newSessionKey{}, true)
}

func isNewSession(ctx context.Context) bool {
	v, _ := ctx.Value(newSessionKey{}).(bool)
	return v
}

type idpSessionKey struct{}

// WithIdPSession marks a context whose commit creates a session (NewSession)
// signed in under the identity provider's session key (the digest
// portal.IdPSessionKey makes of the ID token's issuer and sid): a
// back-channel logout naming it ends the session (EndIdPSessions).
func WithIdPSession(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idpSessionKey{}, key)
}

// idpSessionOf is the key WithIdPSession gave, as a column value (NULL
// for none).
func idpSessionOf(ctx context.Context) any {
	if k, _ := ctx.Value(idpSessionKey{}).(string); k != "" {
		return k
	}
	return nil
}

type expiryKey struct{}

// TrackExpiry marks a context whose find and commit set *at to the expiry
// the session's row holds once they are done: the deadline by which the
// store judges the session, which an unchanged session moves only every
// touch (a page's warning counts down to it). It stays zero when no
// session was found or written.
func TrackExpiry(ctx context.Context, at *time.Time) context.Context {
	return context.WithValue(ctx, expiryKey{}, at)
}

func trackExpiry(ctx context.Context, t time.Time) {
	if at, ok := ctx.Value(expiryKey{}).(*time.Time); ok {
		*at = t
	}
}

type idpSessionTrackKey struct{}

// TrackIdPSession marks a context whose find sets *key to the key of the
// identity provider's session the session was signed in under
// (WithIdPSession), "" for none: a transfer of the request stops when a
// back-channel logout ends that provider session (IdPSessionEnded).
func TrackIdPSession(ctx context.Context, key *string) context.Context {
	return context.WithValue(ctx, idpSessionTrackKey{}, key)
}

type sessionKeyTrackKey struct{}

// TrackSessionKey marks a context whose find sets *key to the key the
// session is stored under (the hash of its token), "" when none was
// found: a transfer of the request asks whether that session is still
// held (Live).
func TrackSessionKey(ctx context.Context, key *string) context.Context {
	return context.WithValue(ctx, sessionKeyTrackKey{}, key)
}

func fromUnixFloat(f float64) time.Time {
	return time.Unix(0, int64(f*1e9))
}

func (s *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var b []byte
	var expiry float64
	var idpSession sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT data, expiry, idp_session FROM sessions WHERE token = ? AND expiry > ?`, token, unixFloat(s.now())).Scan(&b, &expiry, &idpSession)
	if errors.Is(err, sql.ErrNoRows) {
		s.written.Delete(token) // ended, perhaps by another instance
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: find session: %w", err)
	}
	s.written.Store(token, committed{sha256.Sum256(b), fromUnixFloat(expiry)})
	trackExpiry(ctx, fromUnixFloat(expiry))
	if key, ok := ctx.Value(idpSessionTrackKey{}).(*string); ok {
		*key = idpSession.String
	}
	if key, ok := ctx.Value(sessionKeyTrackKey{}).(*string); ok {
		*key = token
	}
	return b, true, nil
}

// Hold says whether the session stored under key (TrackSessionKey) is
// still held, for a transfer of one of its requests: not ended (signed
// out, disabled, by its identity provider), not past its idle deadline,
// and not past until, its absolute deadline (zero: none). A transfer
// under way is the person's activity: once half the idle time is gone,
// the idle deadline moves on to idle from now (never past until), as a
// request of the session would move it, so that a transfer that keeps
// going does not outlast the session it runs under. A session already
// past its deadline is not brought back.
func (s *SessionStore) Hold(ctx context.Context, key string, idle time.Duration, until time.Time) (bool, error) {
	now := s.now()
	if !until.IsZero() && !now.Before(until) {
		return false, nil
	}
	var expiry float64
	err := s.db.QueryRowContext(ctx, `SELECT expiry FROM sessions WHERE token = ? AND expiry > ?`, key, unixFloat(now)).Scan(&expiry)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: session held: %w", err)
	}
	want := now.Add(idle)
	if !until.IsZero() && until.Before(want) {
		want = until
	}
	if at := fromUnixFloat(expiry); at.Sub(now) < idle/2 && at.Before(want) {
		if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET expiry = ? WHERE token = ? AND expiry > ? AND expiry < ?`,
			unixFloat(want), key, unixFloat(now), unixFloat(want)); err != nil {
			return false, fmt.Errorf("store: session held: %w", err)
		}
	}
	return true, nil
}

func (s *SessionStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	sum := sha256.Sum256(b)
	if v, ok := s.written.Load(token); ok {
		if c := v.(committed); c.sum == sum && !expiry.Before(c.expiry) && expiry.Sub(c.expiry) < s.touch {
			return nil // the same data; the stored deadline is less than s.touch behind
		}
	}
	var err error
	if isNewSession(ctx) {
		// A new token is random: it never meets an existing row.
		_, err = s.db.ExecContext(ctx, `INSERT INTO sessions (token, data, expiry, idp_session) VALUES (?, ?, ?, ?)`, token, b, unixFloat(expiry), idpSessionOf(ctx))
	} else {
		var res sql.Result
		res, err = s.db.ExecContext(ctx, `UPDATE sessions SET data = ?, expiry = ? WHERE token = ? AND expiry > ?`, b, unixFloat(expiry), token, unixFloat(s.now()))
		if n, _ := rowsAffected(res); err == nil && n != 1 {
			s.written.Delete(token)
			return ErrSessionEnded
		}
	}
	if err != nil {
		s.written.Delete(token)
		return fmt.Errorf("store: commit session: %w", err)
	}
	s.written.Store(token, committed{sum, expiry})
	trackExpiry(ctx, expiry)
	return nil
}

func rowsAffected(res sql.Result) (int64, error) {
	if res == nil {
		return 0, nil
	}
	return res.RowsAffected()
}

func (s *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	s.written.Delete(token)
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE token = ?`, token); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

func (s *SessionStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

func (s *SessionStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

func (s *SessionStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// DeleteExpired removes expired sessions, handing each one's data to
// audit so that the expiry of a signed-in session is recorded with the
// deletion; the janitor calls it. With several instances sweeping at once,
// only the one whose delete takes the row records it: one record per
// expired session. audit runs before the deletion's transaction holds a
// connection (it reads whose session it was: inside, with a pool of one,
// it would wait for itself); a session whose record cannot be made is
// left for the next sweep.
func (s *SessionStore) DeleteExpired(ctx context.Context, audit func(data []byte) ([]AuditRecord, error)) error {
	type expired struct {
		token string
		data  []byte
	}
	all, err := queryAll(ctx, s.db, func(sc scanner) (expired, error) {
		var e expired
		return e, sc.Scan(&e.token, &e.data)
	}, `SELECT token, data FROM sessions WHERE expiry <= ?`, unixFloat(s.now()))
	if err != nil {
		return err
	}
	st := &Store{db: s.db}
	for _, e := range all {
		s.written.Delete(e.token)
		recs, err := audit(e.data)
		if err != nil {
			return fmt.Errorf("store: record of an expired session: %w", err)
		}
		err = st.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
			res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token = ? AND expiry <= ?`, e.token, unixFloat(s.now()))
			if err != nil {
				return nil, err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil, nil // another instance took it, or it was renewed
			}
			return recs, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// TakeEnded removes the session token if it has expired but is still
// held (the janitor has not swept it yet), with the audit records audit
// makes of its data, and returns the data; found is false when there was
// no such session (live ones are left alone). A sign-out that arrives
// just after the idle timeout uses it to end what the session started.
// Only one of it and the janitor takes a session, and records it. audit
// runs before the transaction that takes it holds a connection, as in
// DeleteExpired; when it fails, the session is not taken and its data is
// returned with the error.
func (s *SessionStore) TakeEnded(ctx context.Context, token string, audit func(data []byte) ([]AuditRecord, error)) (data []byte, found bool, err error) {
	st := &Store{db: s.db}
	s.written.Delete(token)
	err = s.db.QueryRowContext(ctx, `SELECT data FROM sessions WHERE token = ? AND expiry <= ?`, token, unixFloat(s.now())).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: take ended session: %w", err)
	}
	recs, err := audit(data)
	if err != nil {
		// Not taken (the janitor records its expiry later); its data is
		// returned with the error, for what the caller must end anyway.
		return data, false, fmt.Errorf("store: take ended session: its record: %w", err)
	}
	err = st.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		// Only an expired session: one renewed since the read is live.
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token = ? AND expiry <= ?`, token, unixFloat(s.now()))
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, nil // the janitor took it
		}
		found = true
		return recs, nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: take ended session: %w", err)
	}
	if !found {
		return nil, false, nil
	}
	return data, true, nil
}

// Count returns the number of live sessions; tests use it to prove that a
// refused sign-in leaves none.
func (s *SessionStore) Count(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE expiry > ?`, unixFloat(s.now())).Scan(&n)
	return n, err
}
