package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// NotedOutside is the trail's record up to which what is named what has
// been noted outside the database (0 when nothing has).
func (s *Store) NotedOutside(ctx context.Context, what string) (int64, error) {
	var seq int64
	err := s.db.QueryRowContext(ctx, `SELECT seq FROM noted_outside WHERE what = ?`, what).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: noted outside: %w", err)
	}
	return seq, nil
}

// NoteOutsideReached records that what is noted outside the database up
// to the trail's record seq. It never goes back: two processes noting
// side by side leave the further.
func (s *Store) NoteOutsideReached(ctx context.Context, what string, seq int64) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO noted_outside (what, seq) VALUES (?, ?)
		ON CONFLICT (what) DO UPDATE SET seq = excluded.seq WHERE noted_outside.seq < excluded.seq`, what, seq)
	if err != nil {
		return fmt.Errorf("store: note outside reached: %w", err)
	}
	return nil
}

// NoteOutsideFromStart takes back how far what is noted outside the
// database, from the point was (beyond the trail: not one the portal
// wrote) to the start, unless another process has done so first.
func (s *Store) NoteOutsideFromStart(ctx context.Context, what string, was int64) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE noted_outside SET seq = 0 WHERE what = ? AND seq = ?`, what, was); err != nil {
		return fmt.Errorf("store: note outside from the start: %w", err)
	}
	return nil
}

// Identity is one way a person signs in: their subject at an issuer, and
// the email their provider last gave.
type Identity struct {
	Subject string `json:"subject"`
	Email   string `json:"email,omitempty"`
}

// IdentitiesNamed lists the identities of the people who sign in from
// issuer with this email, or (email "") this subject, by subject.
func (s *Store) IdentitiesNamed(ctx context.Context, issuer, email, subject string) ([]Identity, error) {
	where, args := personWhere(issuer, email, subject)
	out, err := queryAll(ctx, s.db, func(sc scanner) (Identity, error) {
		var p Identity
		return p, sc.Scan(&p.Subject, &p.Email)
	}, `SELECT subject, email FROM users WHERE `+where+` ORDER BY subject`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: identities: %w", err)
	}
	return out, nil
}

// DisableIdentityAgain disables, after a restore, the person who signs in
// from issuer as p, as DisableUsers does, recorded with audit; when the
// restored database does not know them (their first sign-in came after
// the backup) it keeps them as a person disabled, so that their sign-in
// is refused, and with it an invitation or a grant to their email taken
// up. It reports whether it disabled anyone; one disabled already is
// left as they are, and nothing is recorded.
func (s *Store) DisableIdentityAgain(ctx context.Context, issuer string, p Identity, now time.Time, sessionUser func(data []byte) string, audit ...AuditRecord) (bool, error) {
	n, err := s.disableUsers(ctx, issuer, "", p.Subject, now, sessionUser, true, audit)
	if err == nil {
		return n > 0, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return false, err
	}
	var added bool
	err = s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		res, err := tx.ExecContext(ctx, `INSERT INTO users (id, issuer, subject, email, name, created_at, disabled_at) VALUES (?, ?, ?, ?, '', ?, ?)
			ON CONFLICT (issuer, subject) DO NOTHING`, NewID(), issuer, p.Subject, p.Email, formatTime(now), formatTime(now))
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, nil // signed in meanwhile: a restore pending serves nobody
		}
		added = true
		return audit, nil
	})
	if err != nil {
		return false, fmt.Errorf("store: disable again: %w", err)
	}
	return added, nil
}

// PortalRoleNamed reports whether a grant of role is held by the person
// who signs in from issuer with this email, or (email "") this subject,
// as RevokePortalRole would take it.
func (s *Store) PortalRoleNamed(ctx context.Context, role, issuer, email, subject string) (bool, error) {
	q, who := `SELECT EXISTS (SELECT 1 FROM portal_roles WHERE role = ? AND (issuer = ? AND subject = ?
		OR user_id IN (SELECT id FROM users WHERE issuer = ? AND subject = ?)))`, subject
	if email != "" {
		q, who = `SELECT EXISTS (SELECT 1 FROM portal_roles WHERE role = ? AND (issuer = ? AND email = ?
		OR user_id IN (SELECT id FROM users WHERE issuer = ? AND email = ?)))`, email
	}
	var held bool
	if err := s.db.QueryRowContext(ctx, q, role, issuer, who, issuer, who).Scan(&held); err != nil {
		return false, fmt.Errorf("store: portal role named: %w", err)
	}
	return held, nil
}

// WaitingFor reports whether a membership or a portal role not yet taken
// up names the person who signs in from issuer with this email, or
// (email "") this subject: what they would take up at their next
// sign-in. A membership of a visit no longer live does not count (nothing
// is served there); one stored without an issuer (settled at start)
// does.
func (s *Store) WaitingFor(ctx context.Context, issuer, email, subject string) (bool, error) {
	col, who := "subject", subject
	if email != "" {
		col, who = "email", strings.ToLower(email)
	}
	q := `SELECT EXISTS (SELECT 1 FROM members m JOIN visits v ON v.id = m.visit_id
			WHERE m.user_id IS NULL AND (m.issuer = ? OR m.issuer IS NULL) AND m.` + col + ` = ? AND v.state = 'active')
		OR EXISTS (SELECT 1 FROM portal_roles WHERE user_id IS NULL AND issuer = ? AND ` + col + ` = ?)`
	var waiting bool
	if err := s.db.QueryRowContext(ctx, q, issuer, who, issuer, who).Scan(&waiting); err != nil {
		return false, fmt.Errorf("store: waiting for: %w", err)
	}
	return waiting, nil
}
