package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Notice is the notice of a visit's coming destruction: when it was given
// (the notice period counts from then) and, once an administrator has
// reviewed it, who approved the destruction and when.
type Notice struct {
	VisitID    string
	DestroyOn  time.Time // the destruction date the notice was given for
	GivenAt    time.Time
	ApprovedBy struct{ Issuer, Subject, Email string }
	ApprovedAt time.Time // zero: not approved
	// Period is the notice period announced when it was given (zero: given
	// before it was kept): a shorter setting later does not shorten it.
	Period time.Duration
}

const noticeColumns = `visit_id, destroy_on, given_at, COALESCE(approved_by_issuer, ''), COALESCE(approved_by_subject, ''), COALESCE(approved_by_email, ''), approved_at, COALESCE(period_ns, 0)`

func scanNotice(sc scanner) (Notice, error) {
	var n Notice
	var on, given string
	var approved sql.NullString
	var period int64
	if err := sc.Scan(&n.VisitID, &on, &given, &n.ApprovedBy.Issuer, &n.ApprovedBy.Subject, &n.ApprovedBy.Email, &approved, &period); err != nil {
		return n, err
	}
	n.Period = time.Duration(period)
	var d dates
	n.DestroyOn, n.GivenAt, n.ApprovedAt = d.date(on), d.time(given), d.null(approved)
	return n, d.err
}

// GiveNotice records, once, that a visit's destruction on destroyOn has
// been announced; the audit records are written only by the call that
// gives it. It reports whether this call gave it. published is the
// publication date destroyOn was worked out from: the notice is given
// only while the visit still has that publication and no legal hold, read
// with the visit held (ErrNotDue, ErrOnHold), so that a sweep deciding on
// a page read minutes before gives none for a publication withdrawn since.
func (s *Store) GiveNotice(ctx context.Context, visitID string, published, destroyOn, now time.Time, period time.Duration, audit ...AuditRecord) (bool, error) {
	given := false
	err := s.inTx(ctx, func(tx *Tx) error {
		// The visit's row first: the notice's trigger writes it
		// (row_version), and every act that writes both takes the visit
		// first, so that no two wait for each other.
		if err := lockVisit(ctx, tx, visitID); err != nil {
			return err
		}
		var held bool
		var current int
		err := tx.QueryRowContext(ctx, `SELECT legal_hold, (SELECT COUNT(*) FROM visit_events WHERE visit_id = visits.id AND event = 'published' AND date = ?)
			FROM visits WHERE id = ?`, published.Format(dateFormat), visitID).Scan(&held, &current)
		switch {
		case err != nil:
			return err
		case held:
			return ErrOnHold
		case current == 0:
			return ErrNotDue
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO destruction_notices (visit_id, destroy_on, given_at, period_ns) VALUES (?, ?, ?, ?) ON CONFLICT (visit_id) DO NOTHING`,
			visitID, destroyOn.Format(dateFormat), formatTime(now), int64(period))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if given = n == 1; !given {
			return errNoChange
		}
		return nil
	}, audit...)
	if errors.Is(err, errNoChange) {
		return false, nil
	}
	if errors.Is(err, ErrNotDue) || errors.Is(err, ErrOnHold) {
		return false, err
	}
	if err != nil {
		return false, fmt.Errorf("store: give notice: %w", err)
	}
	return given, nil
}

// errNoChange rolls back a transaction that found nothing to do (and so
// must not write its audit records).
var errNoChange = errors.New("store: no change")

// GetNotice returns a visit's destruction notice, or ErrNotFound.
func (s *Store) GetNotice(ctx context.Context, visitID string) (Notice, error) {
	n, err := scanNotice(s.db.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM destruction_notices WHERE visit_id = ?`, visitID))
	if errors.Is(err, sql.ErrNoRows) {
		return Notice{}, ErrNotFound
	}
	if err != nil {
		return Notice{}, fmt.Errorf("store: notice: %w", err)
	}
	return n, nil
}

// Notices lists every destruction notice, oldest first.
func (s *Store) Notices(ctx context.Context) ([]Notice, error) {
	out, err := queryAll(ctx, s.db, scanNotice, `SELECT `+noticeColumns+` FROM destruction_notices ORDER BY given_at, visit_id`)
	if err != nil {
		return nil, fmt.Errorf("store: notices: %w", err)
	}
	return out, nil
}

// ErrOwnDecision is returned by ApproveDestruction to the person who
// recorded the visit's publication, or lifted its legal hold last: the
// destruction they let go on is approved by someone else, or waits for
// its notice to run.
var ErrOwnDecision = errors.New("store: the approver decided the destruction's date")

// ApproveDestruction records the approval of the destruction notice given
// at givenAt (the one the approver read) by the administrator userID.
// ErrNotFound when the visit has no such notice not yet approved;
// ErrDestructionBegun once its destruction has begun, ErrOnHold under a
// legal hold;
// ErrOwnDecision when userID recorded the visit's publication, or lifted
// its hold last, after the publication was recorded (read with the visit
// held, so neither can change between the check and the approval).
func (s *Store) ApproveDestruction(ctx context.Context, visitID string, givenAt time.Time, userID, issuer, subject, email string, now time.Time, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if err := lockVisit(ctx, tx, visitID); err != nil { // as GiveNotice
			return err
		}
		var own int
		// The lift counts once the publication was recorded before it:
		// a hold lifted long before the letter let nothing go on.
		err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM visits WHERE id = ? AND legal_hold = 0 AND legal_hold_by = ?
				AND legal_hold_at > (SELECT MIN(recorded_at) FROM visit_events WHERE visit_id = ? AND event = 'published'))
			+ (SELECT COUNT(*) FROM visit_events WHERE visit_id = ? AND event = 'published' AND recorded_by = ?)`,
			visitID, userID, visitID, visitID, userID).Scan(&own)
		if err != nil {
			return err
		}
		if own > 0 || userID == "" {
			return ErrOwnDecision
		}
		// Begun (the notice ran, and the sweep went ahead on it) or held
		// since it was read: an approval now would be recorded, and
		// certified, as what let it go on.
		var state string
		var hold int64
		if err := tx.QueryRowContext(ctx, `SELECT state, legal_hold FROM visits WHERE id = ?`, visitID).Scan(&state, &hold); err != nil {
			return err
		}
		switch {
		case state != "active":
			return ErrDestructionBegun
		case hold != 0:
			return ErrOnHold
		}
		return execOne(ctx, tx, `UPDATE destruction_notices SET approved_by_issuer = ?, approved_by_subject = ?, approved_by_email = ?, approved_at = ?
			WHERE visit_id = ? AND approved_at IS NULL AND given_at = ?`, issuer, subject, email, formatTime(now), visitID, formatTime(givenAt))
	}, audit...)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrOwnDecision) && !errors.Is(err, ErrDestructionBegun) && !errors.Is(err, ErrOnHold) {
		return fmt.Errorf("store: approve destruction: %w", err)
	}
	return err
}
