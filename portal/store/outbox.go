package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The outbox of mail. A notification is a row written in the transaction of
// the act that causes it (inTx asks the function set with OnAudit what the
// act's audit records call for), so it commits or rolls back with the act.
// A worker claims due rows under a lease, sends them and marks them sent;
// recipients are resolved to addresses only then.

// Outgoing is a notification an act or a scheduled job calls for, before
// it is addressed: the store makes one row per recipient in To.
type Outgoing struct {
	Kind    string
	VisitID string
	To      Audience
	// Period, when set, makes the notification a digest: one row per
	// (kind, visit, recipient, period). Count adds up in a row not yet
	// sent when Accumulate, else a second one is ignored.
	Period     string
	Accumulate bool
	Count      int
	Due        time.Time         // not sent before
	Data       map[string]string // dates and counts only: mail leaves the service
}

// Audience is who is told: members of the visit in Roles, one member, or
// every administrator.
type Audience struct {
	Roles    []string
	MemberID string
	Admins   bool
}

// Notification is one row of the outbox: a message to one recipient.
type Notification struct {
	ID        string
	Kind      string
	VisitID   string
	Recipient string // "member:<members.id>" or "admin:<portal_roles.id>"
	Data      map[string]string
	Count     int
	CreatedAt time.Time // when the row, or its latest round (a digest's late acts), was written
	State     string    // pending, sent, failed, skipped
	Attempts  int
	NextAt    time.Time
	LastError string
	SentAt    time.Time
}

// Notification states.
const (
	NotePending = "pending"
	NoteSent    = "sent"
	NoteFailed  = "failed"
	NoteSkipped = "skipped"
)

// NotesFunc says which notifications an act's audit record calls for. It
// reads, through rd, what deciding who may be told needs, as the act's
// transaction leaves it; an error fails the act.
type NotesFunc func(ctx context.Context, rd NoteReader, r AuditRecord) ([]Outgoing, error)

// OnAudit sets what inTx asks, for the audit records of each act, which
// notifications to write in the act's transaction.
func (s *Store) OnAudit(f NotesFunc) { s.onAudit.Store(&f) }

// NoteReader reads in an act's transaction: a person is told of a file,
// an item or a thread only if they may see it as the act leaves it. Each
// read fails with ErrNotFound for a file or thread not there.
type NoteReader interface {
	File(ctx context.Context, visitID, fileID string) (File, error)
	Restrictions(ctx context.Context, visitID string) ([]Restriction, error)
	Question(ctx context.Context, visitID, id string) (Question, error)
}

// txReader is a NoteReader in a transaction.
type txReader struct{ q *Tx }

func (rd txReader) File(ctx context.Context, visitID, fileID string) (File, error) {
	return fileIn(ctx, rd.q, visitID, fileID)
}

func (rd txReader) Restrictions(ctx context.Context, visitID string) ([]Restriction, error) {
	return restrictionsIn(ctx, rd.q, visitID)
}

func (rd txReader) Question(ctx context.Context, visitID, id string) (Question, error) {
	return questionIn(ctx, rd.q, visitID, id)
}

// notifyFor writes the notifications the act's records call for in tx.
func (s *Store) notifyFor(ctx context.Context, tx *Tx, recs []AuditRecord) error {
	f := s.onAudit.Load()
	if f == nil {
		return nil
	}
	for _, r := range recs {
		outs, err := (*f)(ctx, txReader{q: tx}, r)
		if err != nil {
			return fmt.Errorf("store: who is told of %s: %w", r.Action, err)
		}
		if err := enqueue(ctx, tx, r.Time, outs...); err != nil {
			return err
		}
	}
	return nil
}

// Enqueue writes notifications of no act (the scheduled ones) in a
// transaction of their own.
func (s *Store) Enqueue(ctx context.Context, now time.Time, outs ...Outgoing) error {
	if len(outs) == 0 {
		return nil
	}
	if err := s.inTx(ctx, func(tx *Tx) error { return enqueue(ctx, tx, now, outs...) }); err != nil {
		return fmt.Errorf("store: enqueue notifications: %w", err)
	}
	return nil
}

func enqueue(ctx context.Context, tx *Tx, now time.Time, outs ...Outgoing) error {
	for _, o := range outs {
		to, err := recipients(ctx, tx, o)
		if err != nil {
			return err
		}
		data, err := json.Marshal(o.Data)
		if err != nil {
			return err
		}
		// A row to a member for their role says which roles it is for:
		// a member whose role changes before it is sent is not told.
		withRoles := map[string]string{RolesKey: strings.Join(o.To.Roles, " ")}
		for k, v := range o.Data {
			withRoles[k] = v
		}
		roleData, err := json.Marshal(withRoles)
		if err != nil {
			return err
		}
		due := o.Due
		if due.IsZero() {
			due = now
		}
		count := max(o.Count, 1)
		conflict := `DO NOTHING`
		if o.Accumulate {
			// An act of the period that lands once the row was sent (or
			// given up) is told in a mail of its own: the row is pending
			// again, counting only the acts not yet told.
			conflict = `DO UPDATE SET count = CASE WHEN notifications.state = 'pending' THEN notifications.count + excluded.count ELSE excluded.count END,
				attempts = CASE WHEN notifications.state = 'pending' THEN notifications.attempts ELSE 0 END,
				next_attempt_at = CASE WHEN notifications.state = 'pending' THEN notifications.next_attempt_at ELSE excluded.created_at END,
				last_error = CASE WHEN notifications.state = 'pending' THEN notifications.last_error ELSE NULL END,
				created_at = CASE WHEN notifications.state = 'pending' THEN notifications.created_at ELSE excluded.created_at END,
				sent_at = NULL, state = 'pending'`
		}
		for _, r := range to {
			id, key, d := NewID(), "", data
			if r.byRole {
				d = roleData
			}
			if o.Period != "" {
				key = strings.Join([]string{o.Kind, o.VisitID, r.ref, o.Period}, "|")
			} else {
				key = id
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO notifications (id, kind, visit_id, recipient, dedupe_key, data, count, created_at, state, attempts, next_attempt_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?) ON CONFLICT (dedupe_key) `+conflict,
				id, o.Kind, o.VisitID, r.ref, key, string(d), count, formatTime(now), formatTime(due)); err != nil {
				return fmt.Errorf("store: enqueue %s: %w", o.Kind, err)
			}
		}
	}
	return nil
}

// RolesKey is the key of a notification's Data that holds, for a row to a
// member for their role, the roles it is for, separated by spaces.
const RolesKey = "roles"

// addressee is one row's recipient; byRole when a member for their role.
type addressee struct {
	ref    string
	byRole bool
}

// recipients expands an audience to its rows' recipients.
func recipients(ctx context.Context, tx *Tx, o Outgoing) ([]addressee, error) {
	var out []addressee
	if o.To.MemberID != "" {
		out = append(out, addressee{ref: "member:" + o.To.MemberID})
	}
	ids := func(prefix string, byRole bool, q string, args ...any) error {
		got, err := queryAll(ctx, tx, func(sc scanner) (string, error) {
			var id string
			return id, sc.Scan(&id)
		}, q, args...)
		for _, id := range got {
			out = append(out, addressee{ref: prefix + id, byRole: byRole})
		}
		return err
	}
	if len(o.To.Roles) > 0 {
		args := []any{o.VisitID}
		for _, r := range o.To.Roles {
			args = append(args, r)
		}
		q := `SELECT id FROM members WHERE visit_id = ? AND role IN (?` + strings.Repeat(", ?", len(o.To.Roles)-1) + `) ORDER BY id`
		if err := ids("member:", true, q, args...); err != nil {
			return nil, err
		}
	}
	if o.To.Admins {
		if err := ids("admin:", false, `SELECT id FROM portal_roles WHERE role = ? ORDER BY id`, RoleAdministrator); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const noteColumns = `id, kind, visit_id, recipient, data, count, created_at, state, attempts, next_attempt_at, COALESCE(last_error, ''), sent_at`

func scanNote(sc scanner) (Notification, error) {
	var n Notification
	var data, created, next string
	var sent sql.NullString
	if err := sc.Scan(&n.ID, &n.Kind, &n.VisitID, &n.Recipient, &data, &n.Count, &created, &n.State, &n.Attempts, &next, &n.LastError, &sent); err != nil {
		return n, err
	}
	if err := json.Unmarshal([]byte(data), &n.Data); err != nil {
		return n, err
	}
	var d dates
	n.CreatedAt, n.NextAt, n.SentAt = d.time(created), d.time(next), d.null(sent)
	return n, d.err
}

// ClaimNotifications claims up to limit due notifications for holder until
// until. Each row is claimed by a conditional update, so of several
// instances exactly one wins it; a lease that runs out (a crash mid-send)
// lets another claim it again.
func (s *Store) ClaimNotifications(ctx context.Context, holder string, now, until time.Time, limit int) ([]Notification, error) {
	ids, err := queryAll(ctx, s.db, func(sc scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	}, `SELECT id FROM notifications WHERE state = 'pending' AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)
		ORDER BY next_attempt_at LIMIT ?`, formatTime(now), formatTime(now), limit)
	if err != nil {
		return nil, fmt.Errorf("store: due notifications: %w", err)
	}
	var out []Notification
	for _, id := range ids {
		res, err := s.db.ExecContext(ctx, `UPDATE notifications SET claimed_by = ?, claimed_until = ?
			WHERE id = ? AND state = 'pending' AND (claimed_until IS NULL OR claimed_until < ?)`, holder, formatTime(until), id, formatTime(now))
		if err != nil {
			return out, fmt.Errorf("store: claim notification: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			continue // another instance won it
		}
		n, err := scanNote(s.db.QueryRowContext(ctx, `SELECT `+noteColumns+` FROM notifications WHERE id = ?`, id))
		if err != nil {
			return out, fmt.Errorf("store: notification %s: %w", id, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// RenewClaim extends holder's lease on a notification just before it is
// sent, and reports whether holder still has it: a lease that ran out while
// earlier rows were sent may have been taken over, and then the row is not
// sent twice.
func (s *Store) RenewClaim(ctx context.Context, id, holder string, until time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE notifications SET claimed_until = ? WHERE id = ? AND claimed_by = ? AND state = 'pending'`,
		formatTime(until), id, holder)
	if err != nil {
		return false, fmt.Errorf("store: renew notification claim: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// PurgeNotifications deletes sent and skipped notifications created before
// before.
func (s *Store) PurgeNotifications(ctx context.Context, before time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM notifications WHERE state IN ('sent', 'skipped') AND created_at < ?`, formatTime(before)); err != nil {
		return fmt.Errorf("store: purge notifications: %w", err)
	}
	return nil
}

// FinishNotification records the outcome of holder's attempt: state sent,
// skipped or failed is final; pending tries again at next. attempted says
// whether the attempt counts (a notification held back does not). told is
// the count the attempt read at its claim: a digest that counted more acts
// while it was sent stays pending with those alone, to be told next.
func (s *Store) FinishNotification(ctx context.Context, id, holder, state, lastErr string, told int, attempted bool, next, now time.Time) error {
	inc := 0
	if attempted {
		inc = 1
	}
	if state == NoteSent {
		// Counted meanwhile: the acts not told stay pending, due now. One
		// statement: an act that commits between a check and the mark
		// would be counted in a row marked sent, and never told.
		if _, err := s.db.ExecContext(ctx, `UPDATE notifications SET
			state = CASE WHEN count > ? THEN 'pending' ELSE 'sent' END,
			last_error = NULL,
			attempts = CASE WHEN count > ? THEN 0 ELSE attempts + ? END,
			next_attempt_at = CASE WHEN count > ? THEN ? ELSE ? END,
			sent_at = CASE WHEN count > ? THEN NULL ELSE ? END,
			created_at = CASE WHEN count > ? THEN ? ELSE created_at END,
			count = CASE WHEN count > ? THEN count - ? ELSE count END,
			claimed_by = NULL, claimed_until = NULL WHERE id = ? AND claimed_by = ?`,
			told, told, inc, told, formatTime(now), formatTime(next), told, formatTime(now), told, formatTime(now), told, told, id, holder); err != nil {
			return fmt.Errorf("store: finish notification: %w", err)
		}
		return nil
	}
	_, err := s.db.ExecContext(ctx, `UPDATE notifications SET state = ?, last_error = ?, attempts = attempts + ?, next_attempt_at = ?, sent_at = NULL,
		claimed_by = NULL, claimed_until = NULL WHERE id = ? AND claimed_by = ?`,
		state, nullString(lastErr), inc, formatTime(next), id, holder)
	if err != nil {
		return fmt.Errorf("store: finish notification: %w", err)
	}
	return nil
}

// Notifications lists the outbox's rows in a state ("" for all), newest
// first (administrators' list of failed deliveries; tests).
func (s *Store) Notifications(ctx context.Context, state string, limit int) ([]Notification, error) {
	out, err := queryAll(ctx, s.db, scanNote, `SELECT `+noteColumns+` FROM notifications WHERE ? = '' OR state = ? ORDER BY created_at DESC, id LIMIT ?`,
		state, state, limit)
	if err != nil {
		return nil, fmt.Errorf("store: notifications: %w", err)
	}
	return out, nil
}

// Recipient is where a notification goes, resolved when it is sent.
type Recipient struct {
	Email  string
	UserID string // "" for a member who has not signed in
	Role   string // the member's role; administrator for "admin:"
	Member Member // for "member:" recipients
	// Disabled says the person is disabled on the server (DisableUsers):
	// they can no longer sign in, and are not mailed.
	Disabled bool
}

// ResolveRecipient finds a recipient's address now: the email their
// provider last gave, else the one they were added with. ErrNotFound when
// the member or the role is gone.
func (s *Store) ResolveRecipient(ctx context.Context, ref string) (Recipient, error) {
	kind, id, _ := strings.Cut(ref, ":")
	switch kind {
	case "member":
		m, err := s.member(ctx, `SELECT `+memberColumns+` FROM members WHERE id = ?`, id)
		if err != nil {
			return Recipient{}, err
		}
		r := Recipient{Email: m.Email, UserID: m.UserID, Role: m.Role, Member: m}
		if m.UserID == "" && m.Email != "" {
			// Added by email, to bind at a sign-in: a person disabled on
			// the server never makes it, and is mailed nothing.
			if r.Disabled, err = s.disabledByEmail(ctx, m.Issuer, m.Email); err != nil {
				return Recipient{}, err
			}
		}
		if m.UserID != "" {
			var email string
			err := s.db.QueryRowContext(ctx, `SELECT email, disabled_at IS NOT NULL FROM users WHERE id = ?`, m.UserID).Scan(&email, &r.Disabled)
			switch {
			case err == nil && email != "":
				r.Email = email
			case err != nil && !errors.Is(err, sql.ErrNoRows):
				return Recipient{}, fmt.Errorf("store: recipient's person: %w", err)
			}
		}
		return r, nil
	case "admin":
		var r Recipient
		var issuer string
		err := s.db.QueryRowContext(ctx, `SELECT COALESCE(NULLIF(u.email, ''), r.email, ''), COALESCE(r.user_id, ''), u.disabled_at IS NOT NULL, r.issuer FROM portal_roles r
			LEFT JOIN users u ON u.id = r.user_id WHERE r.id = ?`, id).Scan(&r.Email, &r.UserID, &r.Disabled, &issuer)
		if errors.Is(err, sql.ErrNoRows) {
			return Recipient{}, ErrNotFound
		}
		if err == nil && r.UserID == "" && r.Email != "" {
			r.Disabled, err = s.disabledByEmail(ctx, issuer, r.Email) // a grant by email, as a member added by email
		}
		r.Role = RoleAdministrator
		return r, err
	}
	return Recipient{}, fmt.Errorf("store: recipient %q: unknown kind", ref)
}

// disabledByEmail says whether a person known by issuer and email is
// disabled on the server (DisableUsers, which refuses a sign-in with that
// email under any subject).
func (s *Store) disabledByEmail(ctx context.Context, issuer, email string) (bool, error) {
	var disabled bool
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE issuer = ? AND email = ? AND disabled_at IS NOT NULL)`,
		issuer, strings.ToLower(email)).Scan(&disabled)
	if err != nil {
		return false, fmt.Errorf("store: recipient's person: %w", err)
	}
	return disabled, nil
}

// NotificationsOff returns the kinds of notification a user has switched off.
func (s *Store) NotificationsOff(ctx context.Context, userID string) (map[string]bool, error) {
	kinds, err := queryAll(ctx, s.db, func(sc scanner) (string, error) {
		var k string
		return k, sc.Scan(&k)
	}, `SELECT kind FROM notification_prefs WHERE user_id = ? AND off = 1`, userID)
	if err != nil {
		return nil, fmt.Errorf("store: notification preferences: %w", err)
	}
	out := map[string]bool{}
	for _, k := range kinds {
		out[k] = true
	}
	return out, nil
}

// SetNotificationsOff records which of kinds the user has switched off.
func (s *Store) SetNotificationsOff(ctx context.Context, userID string, kinds []string, off map[string]bool, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		for _, k := range kinds {
			if _, err := tx.ExecContext(ctx, `INSERT INTO notification_prefs (user_id, kind, off) VALUES (?, ?, ?)
				ON CONFLICT (user_id, kind) DO UPDATE SET off = excluded.off`, userID, k, boolInt(off[k])); err != nil {
				return err
			}
		}
		return nil
	}, audit...)
	if err != nil {
		return fmt.Errorf("store: set notification preferences: %w", err)
	}
	return nil
}

// PendingNotifications counts the notifications waiting to be sent.
func (s *Store) PendingNotifications(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE state = 'pending'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: pending notifications: %w", err)
	}
	return n, nil
}
