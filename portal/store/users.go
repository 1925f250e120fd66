package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// User is a person as one identity provider knows them. Users are keyed by
// (issuer, subject); the email is only what the provider last told us.
type User struct {
	ID          string
	Issuer      string
	Subject     string
	Email       string
	Name        string
	CreatedAt   time.Time
	LastLoginAt time.Time
	// DisabledAt is when the person was disabled (DisableUsers); zero
	// while they may sign in.
	DisabledAt time.Time
	// SessionEpoch moves on each time the person is disabled: a session
	// signed in under an earlier epoch has ended. Read by
	// UserWithPortalRole and returned by SignIn.
	SessionEpoch int64
}

// ErrUserDisabled is SignIn's refusal of a person who is disabled: nothing
// is written (not the sign-in, not their email), and the caller records the
// refusal.
var ErrUserDisabled = errors.New("store: the person is disabled")

// RoleAdministrator is the portal-wide role that manages visits and members.
const RoleAdministrator = "administrator"

// SignIn records a successful sign-in: it creates or updates the user keyed by
// (issuer, subject), then binds to this user every pending portal role and
// membership granted to that (issuer, subject), or by email for this issuer (each recorded,
// after audit[0], the sign-in's record: member.bound, portal_role.bound). bindable says which visit
// roles may be bound from this issuer, by subject as by email (a
// provider's issuer cannot claim an inspector's membership). Bindings are made once: a row already bound to a
// subject is never taken over by another. A disabled user, or a first
// sign-in with the email of a disabled user of the issuer, is
// ErrUserDisabled.
func (s *Store) SignIn(ctx context.Context, issuer, subject, email, name string, bindable []string, now time.Time, audit ...AuditRecord) (User, error) {
	var u User
	err := s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		bound, err := s.signIn(ctx, tx, &u, issuer, subject, email, name, bindable, now)
		if err != nil || len(audit) == 0 {
			return audit, err
		}
		// Taking up a membership, or a portal-wide role granted by email
		// or subject, is what gives the person access: each is recorded
		// (a membership in its visit's trail) by the person signing in
		// (their sign-in's record, made the binding's).
		out := audit
		for _, b := range bound {
			r := audit[0]
			r.Action, r.VisitID, r.Object, r.Outcome = "member.bound", b.visitID, b.memberID, "success"
			if b.visitID == "" {
				r.Action = "portal_role.bound"
			}
			d, err := json.Marshal(map[string]string{"role": b.role, "by": b.by})
			if err != nil {
				return nil, err
			}
			r.Detail = string(d)
			out = append(out, r)
		}
		return out, nil
	})
	if errors.Is(err, ErrUserDisabled) {
		return User{}, err
	}
	if err != nil {
		return User{}, fmt.Errorf("store: sign in: %w", err)
	}
	return u, nil
}

// boundMember is a membership a sign-in took up, found by the person's
// subject or by their email; or, without a visit, a portal-wide role
// (memberID its grant's id).
type boundMember struct{ visitID, memberID, role, by string }

func (s *Store) signIn(ctx context.Context, tx *Tx, u *User, issuer, subject, email, name string, bindable []string, now time.Time) ([]boundMember, error) {
	var bound []boundMember
	bind := func(by, q string, args ...any) error {
		got, err := queryAll(ctx, tx, func(sc scanner) (boundMember, error) {
			b := boundMember{by: by}
			return b, sc.Scan(&b.memberID, &b.visitID, &b.role)
		}, q+` RETURNING id, visit_id, role`, args...)
		bound = append(bound, got...)
		return err
	}
	err := func() error {
		inserted, err := insertUser(ctx, tx, u, issuer, subject, email, name, now)
		if err != nil {
			return err
		}
		if !u.DisabledAt.IsZero() {
			return ErrUserDisabled
		}
		if inserted && email != "" {
			// A disabled person given a new subject by their provider
			// would sign in as a new user with the same email: refused
			// too. (A user already known is judged by their own row:
			// enabled by subject, they are enabled.)
			var disabled bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE issuer = ? AND email = ? AND disabled_at IS NOT NULL)`,
				issuer, email).Scan(&disabled); err != nil {
				return err
			}
			if disabled {
				return ErrUserDisabled
			}
		}
		if !inserted {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET email = ?, name = ?, last_login_at = ? WHERE id = ?`,
				email, name, formatTime(now), u.ID); err != nil {
				return err
			}
		}
		u.Issuer, u.Subject, u.Email, u.Name, u.LastLoginAt = issuer, subject, email, name, now
		// The visits whose memberships this binds are held first, in
		// order, as PutMember holds its visit: an administrator adding
		// this person by subject at this moment waits, or is waited for,
		// so the binding below sees their membership and leaves the
		// invitation by email alone. Without it, on PostgreSQL, both
		// gave the visit a membership with this subject and the
		// sign-in failed on the unique index. The two halves of the
		// union each read one index (the person's subject, their email):
		// one condition with OR read every membership at the issuer, a
		// cost that grew with every visit the portal holds.
		if _, err := queryAll(ctx, tx, func(sc scanner) (string, error) {
			var id string
			return id, sc.Scan(&id)
		}, `SELECT id FROM visits WHERE id IN (
				SELECT visit_id FROM members WHERE issuer = ? AND subject = ? AND user_id IS NULL
				UNION SELECT visit_id FROM members WHERE email = ? AND issuer = ? AND subject IS NULL AND user_id IS NULL`+tx.h.plainEmailRow()+`)
			ORDER BY id`+tx.h.forUpdate(), issuer, subject, bindingEmail(email), issuer); err != nil {
			return err
		}
		// Roles and memberships granted to this (issuer, subject) bind now.
		bindRole := func(by, q string, args ...any) error {
			got, err := queryAll(ctx, tx, func(sc scanner) (boundMember, error) {
				b := boundMember{by: by}
				return b, sc.Scan(&b.memberID, &b.role)
			}, q+` RETURNING id, role`, args...)
			bound = append(bound, got...)
			return err
		}
		if err := bindRole("subject", `UPDATE portal_roles SET user_id = ? WHERE user_id IS NULL AND issuer = ? AND subject = ?`,
			u.ID, issuer, subject); err != nil {
			return err
		}
		// Never to the person who seated it, under this account or
		// another of theirs (the same email): an administrator may not
		// give themselves a visit role, and an account that had not
		// signed in, or an address not yet theirs, could not be told
		// from another's when the membership was added.
		notSeater := ` AND NOT EXISTS (SELECT 1 FROM users seater WHERE seater.id = members.seated_by AND (seater.id = ? OR ? <> '' AND lower(seater.email) = lower(?)))`
		// Only roles this issuer's organisation may hold, as by email: a
		// row stored under another configuration (the provider's issuer
		// once named the inspectorate's) stays unbound.
		if len(bindable) > 0 {
			args := []any{u.ID, formatTime(now), issuer, subject}
			for _, r := range bindable {
				args = append(args, r)
			}
			args = append(args, u.ID, email, email)
			if err := bind("subject", `UPDATE members SET user_id = ?, updated_at = ? WHERE user_id IS NULL AND issuer = ? AND subject = ?
				AND role IN (?`+strings.Repeat(", ?", len(bindable)-1)+`)`+notSeater, args...); err != nil {
				return err
			}
		}
		if !PlainEmail(email) {
			return nil // binds nothing (PlainEmail)
		}
		if err := bindRole("email", `UPDATE portal_roles SET user_id = ? WHERE user_id IS NULL AND issuer = ? AND email = ?`+tx.h.plainEmailRow(),
			u.ID, issuer, email); err != nil {
			return err
		}
		for _, role := range bindable {
			// An invitation by email names its issuer: another provider
			// may vouch for the same address. One without (stored by an
			// earlier version, and not settled: SettleInvitations) binds
			// to nobody.
			if err := bind("email", `UPDATE members SET user_id = ?, subject = ?, updated_at = ?
				WHERE subject IS NULL AND issuer = ? AND email = ? AND role = ?`+tx.h.plainEmailRow()+`
				AND visit_id NOT IN (SELECT visit_id FROM members WHERE issuer = ? AND subject = ?)`+notSeater,
				u.ID, subject, formatTime(now), issuer, email, role, issuer, subject, u.ID, email, email); err != nil {
				return err
			}
		}
		return nil
	}()
	return bound, err
}

// insertUser finds the user (issuer, subject) into u, or creates it and
// reports true. Two first sign-ins at once for one person (two tabs) meet
// at the unique key: the second finds the first's row.
func insertUser(ctx context.Context, tx *Tx, u *User, issuer, subject, email, name string, now time.Time) (bool, error) {
	find := func() error {
		var created string
		var disabled sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT id, created_at, disabled_at, session_epoch FROM users WHERE issuer = ? AND subject = ?`, issuer, subject).
			Scan(&u.ID, &created, &disabled, &u.SessionEpoch); err != nil {
			return err
		}
		var d dates
		u.CreatedAt, u.DisabledAt = d.time(created), d.null(disabled)
		return d.err
	}
	err := find()
	if !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	id := NewID()
	res, err := tx.ExecContext(ctx, `INSERT INTO users (id, issuer, subject, email, name, created_at, last_login_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (issuer, subject) DO NOTHING`, id, issuer, subject, email, name, formatTime(now), formatTime(now))
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, find()
	}
	u.ID, u.CreatedAt = id, now
	return true, nil
}

// User returns one user by id.
func (s *Store) User(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT id, issuer, subject, email, name, created_at, last_login_at FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user %s: %w", id, err)
	}
	return u, nil
}

// UserIDOf returns the id of the user who signs in from issuer as
// subject (ErrNotFound: none).
func (s *Store) UserIDOf(ctx context.Context, issuer, subject string) (string, error) {
	var id string
	err := s.db.QueryRowContext(ctx, `SELECT id FROM users WHERE issuer = ? AND subject = ?`, issuer, subject).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: user of %s: %w", issuer, err)
	}
	return id, nil
}

// UsersByID returns, by id, those of the given users who exist: one
// statement for a list of people, however many.
func (s *Store) UsersByID(ctx context.Context, ids []string) (map[string]User, error) {
	out := map[string]User{}
	if len(ids) == 0 {
		return out, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	us, err := queryAll(ctx, s.db, scanUser, `SELECT id, issuer, subject, email, name, created_at, last_login_at FROM users WHERE `+s.inIDs("id"), string(list))
	if err != nil {
		return nil, fmt.Errorf("store: users: %w", err)
	}
	for _, u := range us {
		out[u.ID] = u
	}
	return out, nil
}

// UserWithPortalRole is User, with whether the user holds the portal-wide
// role, in one statement: every signed-in request reads both, and asked
// apart (User, then HasPortalRole) they cost two. It reads whether the
// person is disabled and their session epoch with them, so that a
// request's session is judged by the same statement.
func (s *Store) UserWithPortalRole(ctx context.Context, id, role string) (User, bool, error) {
	var u User
	var created string
	var last, disabled sql.NullString
	var has bool
	err := s.db.QueryRowContext(ctx, `SELECT id, issuer, subject, email, name, created_at, last_login_at, disabled_at, session_epoch,
		EXISTS (SELECT 1 FROM portal_roles WHERE portal_roles.user_id = users.id AND portal_roles.role = ?) FROM users WHERE id = ?`, role, id).
		Scan(&u.ID, &u.Issuer, &u.Subject, &u.Email, &u.Name, &created, &last, &disabled, &u.SessionEpoch, &has)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, false, ErrNotFound
	}
	if err != nil {
		return User{}, false, fmt.Errorf("store: user %s: %w", id, err)
	}
	var d dates
	u.CreatedAt, u.LastLoginAt, u.DisabledAt = d.time(created), d.null(last), d.null(disabled)
	if d.err != nil {
		return User{}, false, fmt.Errorf("store: user %s: %w", id, d.err)
	}
	return u, has, nil
}

func scanUser(sc scanner) (User, error) {
	var u User
	var created string
	var last sql.NullString
	if err := sc.Scan(&u.ID, &u.Issuer, &u.Subject, &u.Email, &u.Name, &created, &last); err != nil {
		return u, err
	}
	var d dates
	u.CreatedAt, u.LastLoginAt = d.time(created), d.null(last)
	return u, d.err
}

// Uploaders returns, by id, everyone who uploaded a file of the visit:
// one statement for a list of files, however many.
func (s *Store) Uploaders(ctx context.Context, visitID string) (map[string]User, error) {
	us, err := queryAll(ctx, s.db, scanUser, `SELECT id, issuer, subject, email, name, created_at, last_login_at FROM users
		WHERE id IN (SELECT uploaded_by FROM files WHERE visit_id = ?) OR id IN (SELECT withdrawn_by FROM files WHERE visit_id = ?)`, visitID, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: uploaders: %w", err)
	}
	out := make(map[string]User, len(us))
	for _, u := range us {
		out[u.ID] = u
	}
	return out, nil
}

// GrantPortalRole grants a portal-wide role to the person who signs in from
// issuer with email. It is idempotent.
func (s *Store) GrantPortalRole(ctx context.Context, role, issuer, email string, now time.Time, audit ...AuditRecord) error {
	err := s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO portal_roles (id, role, issuer, email, created_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (role, issuer, email) WHERE email IS NOT NULL DO NOTHING`, NewID(), role, issuer, email, formatTime(now)); err != nil {
			return nil, err
		}
		return namingGrant(ctx, tx, audit, `SELECT id FROM portal_roles WHERE role = ? AND issuer = ? AND email = ?`, role, issuer, email)
	})
	if err != nil {
		return fmt.Errorf("store: grant %s: %w", role, err)
	}
	return nil
}

// GrantPortalRoleToSubject grants a portal-wide role to the person with this
// subject at issuer (for providers that give no email). It binds at once when
// they have signed in before, else at their next sign-in. It is idempotent.
func (s *Store) GrantPortalRoleToSubject(ctx context.Context, role, issuer, subject string, now time.Time, audit ...AuditRecord) error {
	err := s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		var uid sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE issuer = ? AND subject = ?`, issuer, subject).Scan(&uid)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		if _, err = tx.ExecContext(ctx, `INSERT INTO portal_roles (id, role, issuer, subject, user_id, created_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (role, issuer, subject) WHERE subject IS NOT NULL DO NOTHING`, NewID(), role, issuer, subject, uid, formatTime(now)); err != nil {
			return nil, err
		}
		return namingGrant(ctx, tx, audit, `SELECT id FROM portal_roles WHERE role = ? AND issuer = ? AND subject = ?`, role, issuer, subject)
	})
	if err != nil {
		return fmt.Errorf("store: grant %s: %w", role, err)
	}
	return nil
}

// namingGrant gives the grant's records (portal_role.granted) the grant's
// id as their object, as its taking up at sign-in (portal_role.bound)
// names it: the grant made, or the one already there that a grant made
// again leaves as it is.
func namingGrant(ctx context.Context, tx *Tx, audit []AuditRecord, q string, args ...any) ([]AuditRecord, error) {
	var id string
	if err := tx.QueryRowContext(ctx, q, args...).Scan(&id); err != nil {
		return nil, err
	}
	out := slices.Clone(audit)
	for i := range out {
		out[i].Object = id
	}
	return out, nil
}

// RevokePortalRole takes a portal-wide role from the person who signs in
// from issuer with this email, or (email "") this subject: the grant made
// to that email or subject, and any grant bound to the user who signs in
// so, in one transaction with the audit records. It is ErrNotFound when
// the person holds no such grant. Every request reads the role afresh, so
// it ends in open sessions at their next request.
func (s *Store) RevokePortalRole(ctx context.Context, role, issuer, email, subject string, audit ...AuditRecord) error {
	return s.revokePortalRole(ctx, role, issuer, email, subject, time.Time{}, audit)
}

// RevokePortalRoleAgain is RevokePortalRole for a revocation recorded at
// at, applied again to a restored database: only the grants made before
// it go (one made after it was made after the revocation too).
func (s *Store) RevokePortalRoleAgain(ctx context.Context, role, issuer, email, subject string, at time.Time, audit ...AuditRecord) error {
	return s.revokePortalRole(ctx, role, issuer, email, subject, at, audit)
}

func (s *Store) revokePortalRole(ctx context.Context, role, issuer, email, subject string, before time.Time, audit []AuditRecord) error {
	q, who := `DELETE FROM portal_roles WHERE role = ? AND (issuer = ? AND subject = ?
		OR user_id IN (SELECT id FROM users WHERE issuer = ? AND subject = ?))`, subject
	if email != "" {
		q, who = `DELETE FROM portal_roles WHERE role = ? AND (issuer = ? AND email = ?
		OR user_id IN (SELECT id FROM users WHERE issuer = ? AND email = ?))`, email
	}
	args := []any{role, issuer, who, issuer, who}
	if !before.IsZero() {
		q += ` AND created_at <= ?`
		args = append(args, formatTime(before))
	}
	err := s.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, ErrNotFound)
		}
		return nil
	}, audit...)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: revoke %s: %w", role, err)
	}
	return err
}

// HasPortalRole reports whether the user holds a portal-wide role.
func (s *Store) HasPortalRole(ctx context.Context, userID, role string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM portal_roles WHERE user_id = ? AND role = ?`, userID, role).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: portal role: %w", err)
	}
	return n > 0, nil
}

// personWhere selects the users who sign in from issuer with this email,
// or (email "") this subject: every user row, since a person whose
// subject changed at their provider signs in as a new user with the same
// email.
func personWhere(issuer, email, subject string) (string, []any) {
	if email != "" {
		return `issuer = ? AND email = ?`, []any{issuer, email}
	}
	return `issuer = ? AND subject = ?`, []any{issuer, subject}
}

// DisableUsers disables the people who sign in from issuer with this
// email, or (email "") this subject, in one transaction with the audit
// records: their sign-in is refused from now on, and every session of
// theirs has ended (their session epoch moves on, which every request
// reads with the user row). Disabling a person already disabled ends
// their sessions again and keeps the time they were first disabled. It
// returns how many users it disabled that were enabled; ErrNotFound when
// nobody has signed in so. Their sessions' rows are deleted in the same
// transaction, live ones and those ended but not yet swept: sessionUser
// reads the user a session's data names (the store cannot decode it).
// They would otherwise stay until the idle timeout, or the janitor.
func (s *Store) DisableUsers(ctx context.Context, issuer, email, subject string, now time.Time, sessionUser func(data []byte) string, audit ...AuditRecord) (int, error) {
	return s.disableUsers(ctx, issuer, email, subject, now, sessionUser, false, audit)
}

// DisableUsersAgain is DisableUsers for a disable applied again to a
// restored database: when none of the people it names is enabled it
// does nothing, and records nothing (ErrNotFound when it knows none).
func (s *Store) DisableUsersAgain(ctx context.Context, issuer, email, subject string, now time.Time, sessionUser func(data []byte) string, audit ...AuditRecord) (int, error) {
	return s.disableUsers(ctx, issuer, email, subject, now, sessionUser, true, audit)
}

// errNoneEnabled rolls back a disable applied again to nobody enabled.
var errNoneEnabled = errors.New("store: nobody enabled")

func (s *Store) disableUsers(ctx context.Context, issuer, email, subject string, now time.Time, sessionUser func(data []byte) string, again bool, audit []AuditRecord) (int, error) {
	where, args := personWhere(issuer, email, subject)
	var newly int
	var ended []string
	err := s.inTx(ctx, func(tx *Tx) error {
		ended = nil
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE disabled_at IS NULL AND `+where, args...).Scan(&newly); err != nil {
			return err
		}
		if again && newly == 0 {
			var known int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE `+where, args...).Scan(&known); err != nil {
				return err
			}
			if known == 0 {
				return ErrNotFound
			}
			return errNoneEnabled
		}
		res, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = COALESCE(disabled_at, ?), session_epoch = session_epoch + 1 WHERE `+where,
			append([]any{formatTime(now)}, args...)...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, ErrNotFound)
		}
		ids, err := queryAll(ctx, tx, func(sc scanner) (string, error) {
			var id string
			return id, sc.Scan(&id)
		}, `SELECT id FROM users WHERE `+where, args...)
		if err != nil {
			return err
		}
		type session struct {
			token string
			data  []byte
		}
		all, err := queryAll(ctx, tx, func(sc scanner) (session, error) {
			var e session
			return e, sc.Scan(&e.token, &e.data)
		}, `SELECT token, data FROM sessions`)
		if err != nil {
			return err
		}
		for _, e := range all {
			if !slices.Contains(ids, sessionUser(e.data)) {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token = ?`, e.token); err != nil {
				return err
			}
			ended = append(ended, e.token)
		}
		return nil
	}, audit...)
	if errors.Is(err, errNoneEnabled) {
		return 0, nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("store: disable user: %w", err)
	}
	for _, tok := range ended {
		s.sessionWrites.Delete(tok)
	}
	return newly, err
}

// EnableUsers lets the people DisableUsers names sign in again, in one
// transaction with the audit records. Sessions ended by the disable stay
// ended. It is ErrNotFound when nobody has signed in so, and ErrConflict
// when nobody of them is disabled.
func (s *Store) EnableUsers(ctx context.Context, issuer, email, subject string, audit ...AuditRecord) error {
	where, args := personWhere(issuer, email, subject)
	err := s.inTx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE `+where, args...).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		res, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = NULL WHERE disabled_at IS NOT NULL AND `+where, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, ErrConflict)
		}
		return nil
	}, audit...)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("store: enable user: %w", err)
	}
	return err
}

// PlainEmail reports whether an email address is printable ASCII alone
// (no space, no control). Invitations and grants by email bind at sign-in
// by comparing addresses in the database, which on PostgreSQL compares
// them under a collation that ignores width, soft hyphens, zero-width
// characters and more ("ａｄｍｉｎ@…" is "admin@…" there), where the
// portal's own checks (yourself, the same person) compare them strictly:
// an address outside printable ASCII would be one address to one and
// another to the other. Printable ASCII compares the same in both, but
// for case. Only such an address binds an invitation or a grant, on
// either side.
func PlainEmail(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}

// bindingEmail is the email a sign-in binds invitations by: none when it
// is not plain (PlainEmail).
func bindingEmail(email string) string {
	if !PlainEmail(email) {
		return ""
	}
	return email
}
