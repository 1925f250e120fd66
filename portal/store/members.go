package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Member is a person's role on one visit. A member added by email is for
// one issuer, and is bound to (issuer, subject) at that person's first
// sign-in from it; one added by (issuer, subject) is bound from the start.
type Member struct {
	ID         string
	VisitID    string
	Role       string
	Email      string
	Issuer     string
	Subject    string
	UserID     string
	Name       string    // the bound user's name, as their provider last gave it
	UserEmail  string    // the bound user's email, as their provider last gave it
	ValidFrom  time.Time // zero: the role's default
	ValidUntil time.Time // zero: the role's default
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// SeatedBy is the user who added the membership, or last changed it
	// (written, never read back: "" for the operator's command and for
	// rows older than it): a sign-in never binds it to that person, by
	// their id or their email (SignIn).
	SeatedBy string
}

// IsBound reports whether the member has signed in (or was added by subject).
func (m Member) IsBound() bool { return m.Subject != "" }

const memberColumns = `id, visit_id, role, COALESCE(email, ''), COALESCE(issuer, ''), COALESCE(subject, ''), COALESCE(user_id, ''),
	COALESCE((SELECT name FROM users WHERE users.id = members.user_id), ''), COALESCE((SELECT email FROM users WHERE users.id = members.user_id), ''), valid_from, valid_until, created_at, updated_at`

func scanMember(sc scanner) (Member, error) {
	var m Member
	var from, until sql.NullString
	var created, updated string
	if err := sc.Scan(&m.ID, &m.VisitID, &m.Role, &m.Email, &m.Issuer, &m.Subject, &m.UserID, &m.Name, &m.UserEmail, &from, &until, &created, &updated); err != nil {
		return Member{}, err
	}
	var d dates
	m.ValidFrom, m.ValidUntil = d.null(from), d.null(until)
	m.CreatedAt, m.UpdatedAt = d.time(created), d.time(updated)
	return m, d.err
}

// PutMember adds a member or changes the role and window of an existing one,
// found by email or by (issuer, subject). It reports whether a row was created.
func (s *Store) PutMember(ctx context.Context, m Member, now time.Time, audit ...AuditRecord) (Member, bool, error) {
	return s.PutMemberChecked(ctx, m, now, nil, audit...)
}

// PutMemberChecked is PutMember with check run on the existing row as the
// transaction reads it (held: a sign-in binding it waits, or is seen), or
// on a new row as it is about to be written (bound at once to a person who
// has signed in; without an ID yet), so that a rule decided on the row
// (the role fits the organisation of the person it is bound to) holds for
// the row it changes; its error is returned and nothing changes.
func (s *Store) PutMemberChecked(ctx context.Context, m Member, now time.Time, check func(row Member) error, audit ...AuditRecord) (Member, bool, error) {
	return s.PutMemberDescribed(ctx, m, now, check, nil, audit...)
}

// PutMemberDescribed is PutMemberChecked with the details of its unnamed
// audit records written by describe from the membership as it is saved
// (a bound row keeps its issuer and subject, whatever the request named).
func (s *Store) PutMemberDescribed(ctx context.Context, m Member, now time.Time, check func(row Member) error, describe func(row Member) string, audit ...AuditRecord) (Member, bool, error) {
	created := false
	var unnamed []int
	for i := range audit {
		if audit[i].Action == "" {
			unnamed = append(unnamed, i)
		}
	}
	described := func(row Member) {
		if describe == nil {
			return
		}
		for _, i := range unnamed {
			audit[i].Detail = describe(row)
		}
	}
	err := s.inTx(ctx, func(tx *Tx) error {
		// The membership is read, then added or changed: holding the
		// visit makes two puts for one person at once (a double click,
		// two administrators) one after the other, so the second finds
		// the first's row and changes it. Without it, on PostgreSQL,
		// both found none and the second was refused by the unique
		// index, as if the person were a member twice over.
		if err := lockVisit(ctx, tx, m.VisitID); err != nil {
			return err
		}
		var row *sql.Row
		if m.Subject != "" {
			row = tx.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM members WHERE visit_id = ? AND issuer = ? AND subject = ?`+tx.h.forUpdate(), m.VisitID, m.Issuer, m.Subject)
		} else {
			row = tx.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM members WHERE visit_id = ? AND email = ?`+tx.h.forUpdate(), m.VisitID, m.Email)
		}
		old, err := scanMember(row)
		if err == nil && check != nil {
			if err := check(old); err != nil {
				return err
			}
		}
		// An unnamed audit record says which it was.
		name := "member.changed"
		if errors.Is(err, sql.ErrNoRows) {
			name = "member.added"
		}
		for i := range audit {
			if audit[i].Action == "" {
				audit[i].Action = name
			}
		}
		switch {
		case errors.Is(err, sql.ErrNoRows):
			created = true
			m.ID, m.CreatedAt, m.UpdatedAt = NewID(), now, now
			for i := range audit {
				if audit[i].Object == "" {
					audit[i].Object = m.ID // the notification finds the member by it
				}
			}
			if m.Subject != "" {
				// Bind at once when the person has already signed in.
				var uid, email string
				err := tx.QueryRowContext(ctx, `SELECT id, email FROM users WHERE issuer = ? AND subject = ?`, m.Issuer, m.Subject).Scan(&uid, &email)
				if err == nil {
					m.UserID, m.UserEmail = uid, email
					if m.Email == "" {
						m.Email = email
					}
				}
			}
			// The same check on the row as it is about to be: bound
			// to a person, it is theirs.
			if check != nil {
				row := m
				row.ID = ""
				if err := check(row); err != nil {
					return err
				}
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO members (id, visit_id, role, email, issuer, subject, user_id, valid_from, valid_until, created_at, updated_at, seated_by)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				m.ID, m.VisitID, m.Role, nullString(m.Email), nullString(m.Issuer), nullString(m.Subject), nullString(m.UserID),
				nullTime(m.ValidFrom), nullTime(m.ValidUntil), formatTime(now), formatTime(now), nullString(m.SeatedBy))
			if isUnique(err) {
				return ErrConflict
			}
			described(m)
			return err
		case err != nil:
			return err
		default:
			for i := range audit {
				if audit[i].Object == "" {
					audit[i].Object = old.ID // the membership changed, as its adding named it
				}
			}
			old.Role, old.ValidFrom, old.ValidUntil, old.UpdatedAt = m.Role, m.ValidFrom, m.ValidUntil, now
			if !old.IsBound() && m.Issuer != "" {
				old.Issuer = m.Issuer // the invitation's issuer, until someone binds it
			}
			old.SeatedBy = m.SeatedBy
			m = old
			_, err := tx.ExecContext(ctx, `UPDATE members SET role = ?, issuer = ?, valid_from = ?, valid_until = ?, updated_at = ?, seated_by = ? WHERE id = ?`,
				m.Role, nullString(m.Issuer), nullTime(m.ValidFrom), nullTime(m.ValidUntil), formatTime(now), nullString(m.SeatedBy), m.ID)
			described(m)
			return err
		}
	}, audit...)
	if errors.Is(err, ErrConflict) {
		return Member{}, false, ErrConflict
	}
	if err != nil {
		return Member{}, false, fmt.Errorf("store: put member: %w", err)
	}
	return m, created, nil
}

// SettleInvitations gives the issuer iss to the invitations by email with
// one of roles that an earlier version stored without an issuer (they
// bind to nobody until they have one), with the audit record audit makes
// of each; the service calls it for the roles only one identity provider
// can sign in. It returns how many it settled.
func (s *Store) SettleInvitations(ctx context.Context, roles []string, iss string, now time.Time, audit func(Member) AuditRecord) (int, error) {
	var n int
	err := s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		var recs []AuditRecord
		for _, role := range roles {
			ms, err := queryAll(ctx, tx, scanMember, `SELECT `+memberColumns+` FROM members
				WHERE subject IS NULL AND issuer IS NULL AND email IS NOT NULL AND role = ?`, role)
			if err != nil {
				return nil, err
			}
			for _, m := range ms {
				res, err := tx.ExecContext(ctx, `UPDATE members SET issuer = ?, updated_at = ? WHERE id = ? AND subject IS NULL AND issuer IS NULL`,
					iss, formatTime(now), m.ID)
				if err != nil {
					return nil, err
				}
				if n, _ := res.RowsAffected(); n == 0 {
					continue // another instance settled it
				}
				m.Issuer, m.UpdatedAt = iss, now
				recs = append(recs, audit(m))
			}
		}
		n = len(recs)
		return recs, nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: settle invitations: %w", err)
	}
	return n, nil
}

// RemoveMember removes a member from a visit.
func (s *Store) RemoveMember(ctx context.Context, visitID, memberID string, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		// Held as PutMember holds it, so that a change read before this
		// removal does not report a change to a row that is gone.
		if err := lockVisit(ctx, tx, visitID); err != nil {
			return err
		}
		return execOne(ctx, tx, `DELETE FROM members WHERE visit_id = ? AND id = ?`, visitID, memberID)
	}, audit...)
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: remove member: %w", err)
	}
	return nil
}

// Members lists a visit's members.
func (s *Store) Members(ctx context.Context, visitID string) ([]Member, error) {
	out, err := queryAll(ctx, s.db, scanMember, `SELECT `+memberColumns+` FROM members WHERE visit_id = ? ORDER BY role, email`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: members: %w", err)
	}
	return out, nil
}

// MembersOf returns the members of each of the visits, by visit, in one
// statement (a page of visits for the scheduled notifications).
func (s *Store) MembersOf(ctx context.Context, visitIDs []string) (map[string][]Member, error) {
	out := map[string][]Member{}
	if len(visitIDs) == 0 {
		return out, nil
	}
	list, err := json.Marshal(visitIDs)
	if err != nil {
		return nil, err
	}
	ms, err := queryAll(ctx, s.db, scanMember, `SELECT `+memberColumns+` FROM members WHERE `+s.inIDs("visit_id")+` ORDER BY visit_id, role, email`, string(list))
	if err != nil {
		return nil, fmt.Errorf("store: members of visits: %w", err)
	}
	for _, m := range ms {
		out[m.VisitID] = append(out[m.VisitID], m)
	}
	return out, nil
}

// MembershipOf returns the user's membership of a visit, or ErrNotFound;
// should there be two, the first by id, as a page of visits shows.
func (s *Store) MembershipOf(ctx context.Context, visitID, userID string) (Member, error) {
	return s.member(ctx, `SELECT `+memberColumns+` FROM members WHERE visit_id = ? AND user_id = ? ORDER BY id LIMIT 1`, visitID, userID)
}

// MembershipsOf returns every membership of a visit bound to the user, by
// id: one, or none, but the schema does not forbid two (one bound by
// subject, one by email), and which applies is the portal's to decide.
func (s *Store) MembershipsOf(ctx context.Context, visitID, userID string) ([]Member, error) {
	out, err := queryAll(ctx, s.db, scanMember, `SELECT `+memberColumns+` FROM members WHERE visit_id = ? AND user_id = ? ORDER BY id`, visitID, userID)
	if err != nil {
		return nil, fmt.Errorf("store: memberships of user: %w", err)
	}
	return out, nil
}

// Invited reports whether the visit has a membership for the person of
// email other than one bound to them: one added by email that no one has
// bound yet (it binds at their next sign-in, SignIn), from any issuer, or
// one bound to another identity of theirs (a new subject at their
// provider, an administrator's account of their own) whose address is
// email. Either is a part in the visit, as PutMember's own-row check
// (isSelf) holds.
func (s *Store) Invited(ctx context.Context, visitID, email string) (bool, error) {
	var invited bool
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM members WHERE visit_id = ? AND email = ?)
		OR EXISTS (SELECT 1 FROM members JOIN users ON users.id = members.user_id WHERE members.visit_id = ? AND users.email = ?)`,
		visitID, email, visitID, email).Scan(&invited)
	if err != nil {
		return false, fmt.Errorf("store: invited: %w", err)
	}
	return invited, nil
}

// InvitedTo lists which of the visits ids email is a member of by
// address (Invited, for a page of visits in one statement).
func (s *Store) InvitedTo(ctx context.Context, email string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := queryAll(ctx, s.db, func(sc scanner) (string, error) {
		var id string
		err := sc.Scan(&id)
		return id, err
	}, `SELECT visit_id FROM members WHERE email = ? AND `+s.inIDs("visit_id")+`
		UNION SELECT members.visit_id FROM members JOIN users ON users.id = members.user_id WHERE users.email = ? AND `+s.inIDs("members.visit_id"),
		email, string(list), email, string(list))
	if err != nil {
		return nil, fmt.Errorf("store: invited: %w", err)
	}
	for _, id := range rows {
		out[id] = true
	}
	return out, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Member returns one member of a visit by id.
func (s *Store) Member(ctx context.Context, visitID, memberID string) (Member, error) {
	return s.member(ctx, `SELECT `+memberColumns+` FROM members WHERE visit_id = ? AND id = ?`, visitID, memberID)
}

func (s *Store) member(ctx context.Context, q string, args ...any) (Member, error) {
	m, err := scanMember(s.db.QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return Member{}, ErrNotFound
	}
	if err != nil {
		return Member{}, fmt.Errorf("store: member: %w", err)
	}
	return m, nil
}

// NarrowMember sets the window of a visit's membership that still has
// role (a restore narrowing it again to what an administrator left it
// after the backup), with its audit records; ErrNotFound when there is no
// such membership.
func (s *Store) NarrowMember(ctx context.Context, visitID, memberID, role string, from, until, now time.Time, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if err := lockVisit(ctx, tx, visitID); err != nil {
			return err
		}
		return execOne(ctx, tx, `UPDATE members SET valid_from = ?, valid_until = ?, updated_at = ? WHERE visit_id = ? AND id = ? AND role = ?`,
			nullTime(from), nullTime(until), formatTime(now), visitID, memberID, role)
	}, audit...)
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: narrow member: %w", err)
	}
	return nil
}
