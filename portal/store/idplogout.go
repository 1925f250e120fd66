package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// A back-channel logout (OpenID Connect Back-Channel Logout 1.0) ends
// sessions on an identity provider's word. Each logout token is taken once:
// the key of its issuer and jti is kept in logout_tokens until the token
// would be refused as old anyway, and another token with the same key is
// ErrLogoutTokenUsed, whichever instance it reaches. Taking the token,
// ending the sessions and recording it are one transaction: a logout that
// fails leaves its token untaken, so the provider's retry is not refused
// as a replay. The row also says what the token ended (the provider's
// session, the person) and when the provider issued it: a session whose
// sign-in the provider ended while the portal was finishing it is ended
// as soon as it is saved (LoggedOutSince), and a transfer in flight under
// an ended provider session stops at its next recheck (IdPSessionEnded).

// ErrLogoutTokenUsed is the refusal of a logout token already taken: a
// replay. Nothing is ended or recorded.
var ErrLogoutTokenUsed = errors.New("store: the logout token has been used already")

// Logout is a logout token as the store keeps it.
type Logout struct {
	// TokenKey is the digest of the token's issuer and jti; it is kept
	// until KeepUntil.
	TokenKey  string
	KeepUntil time.Time
	// IdPSession is the key of the provider's session the token ended
	// (WithIdPSession), "" when it names none; Person the key of the
	// person it names, "" when it names none.
	IdPSession, Person string
	// IssuedAt is when the provider issued the token (its iat).
	IssuedAt time.Time
}

// takeLogoutToken keeps the token's key and what it ended until its
// KeepUntil, or fails with ErrLogoutTokenUsed when the key is kept already.
// A key whose time has passed (the janitor has not yet pruned it) is taken
// again.
func takeLogoutToken(ctx context.Context, tx *Tx, l Logout, now time.Time) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO logout_tokens (id, kept_until, idp_session, person, issued_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET kept_until = excluded.kept_until, idp_session = excluded.idp_session, person = excluded.person, issued_at = excluded.issued_at
		WHERE logout_tokens.kept_until <= ?`,
		l.TokenKey, formatTime(l.KeepUntil), nullString(l.IdPSession), nullString(l.Person), formatTime(l.IssuedAt), formatTime(now))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return err
		}
		return ErrLogoutTokenUsed
	}
	return nil
}

// IdPSessionEnded reports whether a logout token kept names the provider's
// session idpSession (of person, when it names a person too): a transfer
// in flight under it stops (its recheck asks).
func (s *Store) IdPSessionEnded(ctx context.Context, idpSession, person string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM logout_tokens WHERE idp_session = ? AND (person IS NULL OR person = ?)`, idpSession, person).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: read the logouts of a provider session: %w", err)
	}
	return n > 0, nil
}

// LoggedOutSince reports whether a session signed in under the provider's
// session idpSession ("" for none) by person, with an ID token issued at
// issuedAt, was ended by a logout token before it was saved: one naming
// that provider session (for that person, when it names one), whenever
// issued, or one naming only the person, issued at or after issuedAt.
// The caller saves the session first and asks after, so that a logout
// whose token is taken meanwhile finds the session (EndIdPSessions
// looks again once its token is taken) or is found here.
func (s *Store) LoggedOutSince(ctx context.Context, idpSession, person string, issuedAt time.Time) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM logout_tokens
		WHERE idp_session = ? AND (person IS NULL OR person = ?) OR idp_session IS NULL AND person = ? AND issued_at >= ?`,
		idpSession, person, person, formatTime(issuedAt)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: read the logouts of a new session: %w", err)
	}
	return n > 0, nil
}

// EndIdPSessions takes the logout token l and ends the live sessions
// signed in under the identity provider's session l.IdPSession
// (WithIdPSession) that end approves, appending the records end returns
// for each, in one transaction; an error of end's ends nothing and leaves
// the token untaken. It returns how many sessions it ended. The sessions'
// rows are deleted, so every instance finds them gone at their next
// request. end decides before the transaction begins: it reads through the
// store (whose session it is), and inside the transaction each read
// waited for a second connection of the pool while the transaction held
// one (with a pool of one, forever). A session the decision approved and
// that ended meanwhile is not recorded twice: only the rows the
// transaction deletes are recorded. Once the token is taken, the sessions
// are read again: one whose sign-in was saved after the first read, and
// which did not find the token when it asked (LoggedOutSince), is ended
// too.
func (s *Store) EndIdPSessions(ctx context.Context, l Logout, now time.Time,
	end func(data []byte) ([]AuditRecord, bool, error)) (int, error) {
	seen := map[string]bool{}
	ended, err := s.endIdPSessions(ctx, l, now, end, seen, true)
	if err != nil {
		if !errors.Is(err, ErrLogoutTokenUsed) {
			return 0, fmt.Errorf("store: end sessions of an identity provider's session: %w", err)
		}
		return 0, err
	}
	more, err := s.endIdPSessions(ctx, l, now, end, seen, false)
	if err != nil {
		// The token is taken and the sessions read first are ended: a
		// session that began as the logout came is ended still when it
		// asks (LoggedOutSince), or else by the janitor's next round
		// (EndLoggedOutSessions): the provider's retry is a replay.
		return ended, fmt.Errorf("store: end sessions of an identity provider's session signed in as it ended: %w", err)
	}
	return ended + more, nil
}

// EndLoggedOutSessions ends the live sessions signed in under a provider
// session that a kept logout token ended, as EndIdPSessions does (end
// decides and describes each, with the token), and returns how many it
// ended. The janitor calls it each round: a logout whose second look
// failed (its token taken, so the provider's retry is refused as a
// replay) may have left a session whose sign-in raced it, and the session
// must not live on to its idle timeout. One read finds the tokens that
// still have a live session; there are none but after such a failure.
func (s *Store) EndLoggedOutSessions(ctx context.Context, now time.Time,
	end func(l Logout, data []byte) ([]AuditRecord, bool, error)) (int, error) {
	ls, err := queryAll(ctx, s.db, func(sc scanner) (Logout, error) {
		var l Logout
		var person sql.NullString
		err := sc.Scan(&l.TokenKey, &l.IdPSession, &person)
		l.Person = person.String
		return l, err
	}, `SELECT id, idp_session, person FROM logout_tokens t WHERE kept_until > ? AND idp_session IS NOT NULL
		AND EXISTS (SELECT 1 FROM sessions s WHERE s.idp_session = t.idp_session AND s.expiry > ?)`, formatTime(now), unixFloat(time.Now()))
	if err != nil {
		return 0, fmt.Errorf("store: read the logouts with sessions left: %w", err)
	}
	var errs []error
	ended := 0
	for _, l := range ls {
		n, err := s.endIdPSessions(ctx, l, now, func(data []byte) ([]AuditRecord, bool, error) { return end(l, data) }, map[string]bool{}, false)
		if err != nil {
			errs = append(errs, fmt.Errorf("store: end the sessions left by a logout: %w", err))
		}
		ended += n
	}
	return ended, errors.Join(errs...)
}

// endIdPSessions is one pass of EndIdPSessions over the live sessions not
// in seen (which it adds them to), taking the token when take is set.
func (s *Store) endIdPSessions(ctx context.Context, l Logout, now time.Time,
	end func(data []byte) ([]AuditRecord, bool, error), seen map[string]bool, take bool) (int, error) {
	type session struct {
		token string
		data  []byte
		recs  []AuditRecord
	}
	// Session expiry is stamped by the wall clock (the session
	// manager's), so it is judged by it here too.
	live, err := queryAll(ctx, s.db, func(sc scanner) (session, error) {
		var e session
		return e, sc.Scan(&e.token, &e.data)
	}, `SELECT token, data FROM sessions WHERE idp_session = ? AND expiry > ?`, l.IdPSession, unixFloat(time.Now()))
	if err != nil {
		return 0, err
	}
	var approved []session
	for _, e := range live {
		if seen[e.token] {
			continue
		}
		seen[e.token] = true
		recs, ok, err := end(e.data)
		if err != nil {
			return 0, err
		}
		if ok {
			e.recs = recs
			approved = append(approved, e)
		}
	}
	if !take && len(approved) == 0 {
		return 0, nil
	}
	var ended int
	err = s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		ended = 0
		if take {
			if err := takeLogoutToken(ctx, tx, l, now); err != nil {
				return nil, err
			}
		}
		var recs []AuditRecord
		for _, e := range approved {
			res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token = ? AND idp_session = ?`, e.token, l.IdPSession)
			if err != nil {
				return nil, err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				if err != nil {
					return nil, err
				}
				continue // ended meanwhile: its ending has its own record
			}
			ended++
			recs = append(recs, e.recs...)
		}
		return recs, nil
	})
	if err != nil {
		return 0, err
	}
	for _, e := range approved {
		s.sessionWrites.Delete(e.token)
	}
	return ended, nil
}

// EndUserSessions takes the logout token l and ends every session of the person who signs in from issuer as
// subject, as a disable does (their session epoch moves on, which every
// request reads with the user row), appending the records rec makes of
// them, in one transaction. found is false when nobody has signed in so:
// the token is taken all the same, and nothing else is written.
func (s *Store) EndUserSessions(ctx context.Context, l Logout, issuer, subject string, now time.Time,
	rec func(User) []AuditRecord) (found bool, err error) {
	err = s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		found = false
		if err := takeLogoutToken(ctx, tx, l, now); err != nil {
			return nil, err
		}
		users, err := queryAll(ctx, tx, scanUser, `SELECT id, issuer, subject, email, name, created_at, last_login_at FROM users WHERE issuer = ? AND subject = ?`, issuer, subject)
		if err != nil || len(users) == 0 {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET session_epoch = session_epoch + 1 WHERE issuer = ? AND subject = ?`, issuer, subject); err != nil {
			return nil, err
		}
		found = true
		return rec(users[0]), nil
	})
	if err != nil && !errors.Is(err, ErrLogoutTokenUsed) {
		return false, fmt.Errorf("store: end sessions of a person: %w", err)
	}
	return found, err
}

// PruneLogoutTokens forgets the logout tokens whose time has passed: they
// are refused as old now. The janitor calls it.
func (s *Store) PruneLogoutTokens(ctx context.Context, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM logout_tokens WHERE kept_until <= ?`, formatTime(now)); err != nil {
		return fmt.Errorf("store: prune logout tokens: %w", err)
	}
	return nil
}
