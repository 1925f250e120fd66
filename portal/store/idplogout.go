package store

import (
	"context"
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
// as a replay.

// ErrLogoutTokenUsed is the refusal of a logout token already taken: a
// replay. Nothing is ended or recorded.
var ErrLogoutTokenUsed = errors.New("store: the logout token has been used already")

// takeLogoutToken keeps the token's key until keepUntil, or fails with
// ErrLogoutTokenUsed when it is kept already. A key whose time has passed
// (the janitor has not yet pruned it) is taken again.
func takeLogoutToken(ctx context.Context, tx *Tx, key string, keepUntil, now time.Time) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO logout_tokens (id, kept_until) VALUES (?, ?)
		ON CONFLICT (id) DO UPDATE SET kept_until = excluded.kept_until WHERE logout_tokens.kept_until <= ?`,
		key, formatTime(keepUntil), formatTime(now))
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

// EndIdPSessions takes the logout token tokenKey (kept until keepUntil)
// and ends the live sessions signed in under the identity provider's
// session idpSession (WithIdPSession) that end approves, appending the
// records end returns for each, in one transaction; an error of end's
// ends nothing and leaves the token untaken. It returns how many sessions
// it ended. The sessions' rows are deleted, so every instance finds them
// gone at their next request. end decides before the transaction begins:
// it reads through the store (whose session it is), and inside the
// transaction each read waited for a second connection of the pool while
// the transaction held one (with a pool of one, forever). A session the
// decision approved and that ended meanwhile is not recorded twice: only
// the rows the transaction deletes are recorded.
func (s *Store) EndIdPSessions(ctx context.Context, tokenKey string, keepUntil time.Time, idpSession string, now time.Time,
	end func(data []byte) ([]AuditRecord, bool, error)) (int, error) {
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
	}, `SELECT token, data FROM sessions WHERE idp_session = ? AND expiry > ?`, idpSession, unixFloat(time.Now()))
	if err != nil {
		return 0, fmt.Errorf("store: end sessions of an identity provider's session: %w", err)
	}
	approved := live[:0]
	for _, e := range live {
		recs, ok, err := end(e.data)
		if err != nil {
			return 0, fmt.Errorf("store: end sessions of an identity provider's session: %w", err)
		}
		if ok {
			e.recs = recs
			approved = append(approved, e)
		}
	}
	var ended int
	err = s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		ended = 0
		if err := takeLogoutToken(ctx, tx, tokenKey, keepUntil, now); err != nil {
			return nil, err
		}
		var recs []AuditRecord
		for _, e := range approved {
			res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token = ? AND idp_session = ?`, e.token, idpSession)
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
		ended = 0
		if !errors.Is(err, ErrLogoutTokenUsed) {
			return 0, fmt.Errorf("store: end sessions of an identity provider's session: %w", err)
		}
		return 0, err
	}
	for _, e := range approved {
		s.sessionWrites.Delete(e.token)
	}
	return ended, nil
}

// EndUserSessions takes the logout token tokenKey (kept until keepUntil)
// and ends every session of the person who signs in from issuer as
// subject, as a disable does (their session epoch moves on, which every
// request reads with the user row), appending the records rec makes of
// them, in one transaction. found is false when nobody has signed in so:
// the token is taken all the same, and nothing else is written.
func (s *Store) EndUserSessions(ctx context.Context, tokenKey string, keepUntil time.Time, issuer, subject string, now time.Time,
	rec func(User) []AuditRecord) (found bool, err error) {
	err = s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		found = false
		if err := takeLogoutToken(ctx, tx, tokenKey, keepUntil, now); err != nil {
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
