package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Event is a recorded letter event.
type Event struct {
	ID         string
	VisitID    string
	Event      string
	Date       time.Time
	RecordedBy string
	RecordedAt time.Time
}

// AddEvent records a letter event if check accepts it after the visit's
// events so far. The history is read and the event written in one
// transaction holding the visit, so two events recorded at once are checked
// one after the other, never both against the same history. An error from
// check is returned as it is. The object store's expiry rule, which
// follows the letter, is then to be brought to it: the act is returned,
// for RuleApplied once it is.
func (s *Store) AddEvent(ctx context.Context, e Event, check func(history []Event) error, audit ...AuditRecord) (StoreAct, error) {
	var checkErr error
	var act StoreAct
	err := s.inTx(ctx, func(tx *Tx) error {
		// Holds the visit, as lockVisit would.
		err := tx.QueryRowContext(ctx, `UPDATE visits SET store_rule = NULL, store_gen = store_gen + 1, store_at = ? WHERE id = ? RETURNING store_gen`,
			formatTime(e.RecordedAt), e.VisitID).Scan(&act.Gen)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		history, err := events(ctx, tx, e.VisitID)
		if err != nil {
			return err
		}
		if checkErr = check(history); checkErr != nil {
			return checkErr
		}
		// Kept after the events it was checked against, whatever the
		// clock its request read: one that read it first and waited for
		// the visit comes after the event recorded meanwhile, or the
		// history replayed later (a complaint open, the publication,
		// the destruction date) would not be the one that was checked.
		if n := len(history); n > 0 && !e.RecordedAt.After(history[n-1].RecordedAt) {
			e.RecordedAt = history[n-1].RecordedAt.Add(time.Nanosecond)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO visit_events (id, visit_id, event, date, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?)`,
			NewID(), e.VisitID, e.Event, e.Date.Format(dateFormat), e.RecordedBy, formatTime(e.RecordedAt))
		return err
	}, audit...)
	if checkErr != nil {
		return StoreAct{}, checkErr
	}
	if err != nil {
		return StoreAct{}, fmt.Errorf("store: add event: %w", err)
	}
	act.VisitID = e.VisitID
	return act, nil
}

// WithdrawLastEvent removes a visit's last letter event, recorded in
// error, when it is want (the same event and date: the person withdrawing
// it saw it last, not one recorded since). ErrConflict when the last event
// is another, or there is none; ErrDestructionBegun once the visit's
// destruction has begun, when nothing is changed. The visit's destruction
// notice, and any approval, go with it: they were given for a date that
// was wrong, and the destruction waits for a fresh notice once the letter
// is published again. The audit records keep what was withdrawn. The
// object store's expiry rule, which follows the letter, is then to be
// brought to it: the act is returned, for RuleApplied.
func (s *Store) WithdrawLastEvent(ctx context.Context, visitID string, want Event, at time.Time, audit ...AuditRecord) (StoreAct, Event, error) {
	act := StoreAct{VisitID: visitID}
	var last Event
	err := s.inTx(ctx, func(tx *Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE visits SET store_rule = NULL, store_gen = store_gen + 1, store_at = ? WHERE id = ? AND state = 'active' RETURNING store_gen`,
			formatTime(at), visitID).Scan(&act.Gen)
		if errors.Is(err, sql.ErrNoRows) {
			if _, err := visitState(ctx, tx, visitID); err != nil {
				return err
			}
			return ErrDestructionBegun
		} else if err != nil {
			return err
		}
		history, err := events(ctx, tx, visitID)
		if err != nil {
			return err
		}
		if len(history) == 0 {
			return ErrConflict
		}
		last = history[len(history)-1]
		if last.Event != want.Event || !last.Date.Equal(want.Date) {
			return ErrConflict
		}
		if err := execOne(ctx, tx, `DELETE FROM visit_events WHERE id = ?`, last.ID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM destruction_notices WHERE visit_id = ?`, visitID)
		return err
	}, audit...)
	switch {
	case errors.Is(err, ErrConflict), errors.Is(err, ErrDestructionBegun), errors.Is(err, ErrNotFound):
		return StoreAct{}, last, err
	case err != nil:
		return StoreAct{}, Event{}, fmt.Errorf("store: withdraw event: %w", err)
	}
	return act, last, nil
}

// Events lists a visit's letter events in the order recorded.
func (s *Store) Events(ctx context.Context, visitID string) ([]Event, error) {
	return events(ctx, s.db, visitID)
}

func scanEvent(sc scanner) (Event, error) {
	var e Event
	var day, at string
	if err := sc.Scan(&e.ID, &e.VisitID, &e.Event, &day, &e.RecordedBy, &at); err != nil {
		return e, err
	}
	var d dates
	e.Date, e.RecordedAt = d.date(day), d.time(at)
	return e, d.err
}

func events(ctx context.Context, db querier, visitID string) ([]Event, error) {
	out, err := queryAll(ctx, db, scanEvent, `SELECT id, visit_id, event, date, recorded_by, recorded_at FROM visit_events WHERE visit_id = ? ORDER BY recorded_at, id`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	return out, nil
}

// LegalHold is a visit's hold on destruction.
type LegalHold struct {
	On           bool
	ReasonSealed []byte
	At           time.Time
	// By is the user id of who set it, or lifted it (when not On): the
	// act that changed it, not one that left it as it was.
	By string
}

// StoreAct is an act on a visit whose object store is then to be brought
// to it (a legal hold set or lifted, a letter event that moves the expiry
// rule): the visit and the generation of its store's side the act left.
// Each act, and each carrying of one found to overlap another, takes the
// next generation; a carrying is recorded done (HoldApplied, RuleApplied)
// only while its act's generation is the visit's last. Two acts whose
// store calls overlap, in whichever order the calls land, leave the
// store's side unknown, for the retention run to bring it to the visit as
// it then is (StoreSidesToApply).
type StoreAct struct {
	VisitID string
	Gen     int64
	// Unsettled, for an act on the legal hold, is when the act before it
	// was made, when that act was not recorded carried to the store (its
	// request may still be holding or freeing objects, or stopped
	// part-way): zero when it was.
	Unsettled time.Time
}

// SetLegalHold sets or lifts a visit's legal hold. A hold set again on a
// visit already held (or lifted again) keeps its time, when the hold
// began (or was lifted), and takes the reason given last. Once the visit's
// destruction has begun a hold can no longer stop it:
// ErrDestructionBegun, and nothing is stored. The object store's side of
// the hold, and its expiry rule, are then to be brought to it: the act is
// returned, for HoldApplied and RuleApplied. A lift of a hold that was
// set withdraws the visit's destruction notice and its approval; a lift
// of none (the wrong visit, a lift sent again to carry it to the store)
// leaves them: nothing was decided before a hold.
func (s *Store) SetLegalHold(ctx context.Context, visitID string, h LegalHold, audit ...AuditRecord) (StoreAct, error) {
	act := StoreAct{VisitID: visitID}
	err := s.inTx(ctx, func(tx *Tx) error {
		// The hold as it stands, the visit's row held from here (SQLite's
		// write transaction holds every row) so that two acts at once see
		// each other's.
		var was, unsettled bool
		var at sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT legal_hold, store_hold IS NULL, store_at FROM visits WHERE id = ?`+tx.h.forUpdate(), visitID).Scan(&was, &unsettled, &at)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if unsettled && at.Valid {
			var d dates
			if act.Unsettled = d.time(at.String); d.err != nil {
				return d.err
			}
		}
		// The hold's time is when it began (or was lifted): an act that
		// leaves it as it was (set again, to carry it to the store or with
		// a new reason) keeps it, and is a new act on the store's side.
		// (Each SET reads the row as it was.)
		// A hold set again without its reason (the visit key not
		// opening: portal.SetLegalHold) keeps the reason kept before.
		err = tx.QueryRowContext(ctx, `UPDATE visits SET legal_hold = ?,
			legal_hold_reason_sealed = CASE WHEN ? = 1 AND legal_hold = 1 THEN legal_hold_reason_sealed ELSE ? END,
			legal_hold_at = CASE WHEN legal_hold = ? AND legal_hold_at IS NOT NULL THEN legal_hold_at ELSE ? END,
			legal_hold_by = CASE WHEN legal_hold = ? AND legal_hold_at IS NOT NULL THEN legal_hold_by ELSE ? END,
			store_hold = NULL, store_rule = NULL, store_gen = store_gen + 1, store_at = ?
			WHERE id = ? AND state = 'active' RETURNING store_gen`,
			boolInt(h.On), boolInt(h.On && h.ReasonSealed == nil), h.ReasonSealed, boolInt(h.On), formatTime(h.At), boolInt(h.On), h.By, formatTime(h.At), visitID).Scan(&act.Gen)
		if errors.Is(err, sql.ErrNoRows) {
			if _, err := visitState(ctx, tx, visitID); err != nil {
				return err
			}
			return ErrDestructionBegun
		}
		if err != nil || h.On || !was {
			return err
		}
		// A lift withdraws the notice, and any approval, given before: the
		// destruction waits for a fresh notice to run out, whatever was
		// decided before the hold.
		_, err = tx.ExecContext(ctx, `DELETE FROM destruction_notices WHERE visit_id = ?`, visitID)
		return err
	}, audit...)
	if err != nil && !errors.Is(err, ErrDestructionBegun) && !errors.Is(err, ErrNotFound) {
		return StoreAct{}, fmt.Errorf("store: legal hold: %w", err)
	}
	return act, err
}

// HoldApplied records that the object store was brought to the legal hold
// act set or lifted (its expiry rule taken away, its objects' holds), with
// the audit records, written only by the call that records it (not again
// by another process that carried the same act). When another act came
// since, or another carrying was found to overlap (whose store calls this
// one's may have undone, or the reverse), the store's side is recorded as
// unknown instead, for the retention run to bring it to the hold as it
// then is.
func (s *Store) HoldApplied(ctx context.Context, act StoreAct, now time.Time, audit ...AuditRecord) error {
	err := s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		res, err := tx.ExecContext(ctx, `UPDATE visits SET store_hold = legal_hold WHERE id = ? AND store_gen = ? AND store_hold IS NULL`, act.VisitID, act.Gen)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return audit, nil
		}
		return nil, overlapped(ctx, tx, act, now, `store_hold = NULL, store_rule = NULL`)
	})
	if err != nil {
		return fmt.Errorf("store: legal hold applied: %w", err)
	}
	return nil
}

// RuleApplied records that the object store's expiry rule was brought to
// the visit as it stood after act (RuleApplied is HoldApplied's twin for
// the rule alone).
func (s *Store) RuleApplied(ctx context.Context, act StoreAct, now time.Time) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE visits SET store_rule = 1 WHERE id = ? AND store_gen = ?`, act.VisitID, act.Gen)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		return overlapped(ctx, tx, act, now, `store_rule = NULL`)
	})
	if err != nil {
		return fmt.Errorf("store: expiry rule applied: %w", err)
	}
	return nil
}

// RuleToCheck is an active visit whose object store is recorded as at its
// legal hold and expiry rule: the retention run reads the bucket's rule
// back (RulesToCheck), since a store may lose a change it accepted.
type RuleToCheck struct {
	VisitID, Bucket string
	Act             StoreAct
}

// RulesToCheck reads the next limit active visits after the id after, in
// id order, and returns those whose store side is recorded as done, with
// where the next reading begins ("" once the last visit was read): one
// statement, reading the visits_state index from after, so the destroyed
// are never read.
func (s *Store) RulesToCheck(ctx context.Context, after string, limit int) (checks []RuleToCheck, next string, err error) {
	type row struct {
		RuleToCheck
		known bool
	}
	rows, err := queryAtMost(ctx, s.db, limit, func(sc scanner) (row, error) {
		var r row
		var storeHold, storeRule sql.NullInt64
		var hold bool
		err := sc.Scan(&r.VisitID, &r.Bucket, &r.Act.Gen, &hold, &storeHold, &storeRule)
		r.Act.VisitID = r.VisitID
		r.known = storeRule.Valid && storeHold.Valid && (storeHold.Int64 != 0) == hold
		return r, err
	}, `SELECT id, bucket, store_gen, legal_hold, store_hold, store_rule FROM visits WHERE state = 'active' AND id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, "", fmt.Errorf("store: rules to check: %w", err)
	}
	for _, r := range rows {
		if r.known {
			checks = append(checks, r.RuleToCheck)
		}
	}
	if len(rows) == limit {
		next = rows[len(rows)-1].VisitID
	}
	return checks, next, nil
}

// RuleLost records that a visit's bucket was found without the expiry
// rule the store side recorded as done (or with one it should not have),
// as act read it: the rule is unknown again, and the next retention run
// brings it back (StoreSidesToApply picks it from at on). A change to the
// visit since act leaves it alone: that act carries the rule.
func (s *Store) RuleLost(ctx context.Context, act StoreAct, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE visits SET store_rule = NULL, store_at = ? WHERE id = ? AND store_gen = ? AND store_rule = 1`, formatTime(at), act.VisitID, act.Gen); err != nil {
		return fmt.Errorf("store: rule lost: %w", err)
	}
	return nil
}

// StoreSideFailed puts a visit the retention run failed to bring the
// object store to behind the others it has to carry (StoreSidesToApply),
// unless another act came since; it dates act's carrying (under way from
// now, or ended) likewise. It reports whether act was still the last.
func (s *Store) StoreSideFailed(ctx context.Context, act StoreAct, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE visits SET store_at = ? WHERE id = ? AND store_gen = ?`, formatTime(now), act.VisitID, act.Gen)
	if err != nil {
		return false, fmt.Errorf("store: store side failed: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// The columns StoreSideEnded clears for what an act that failed was
// carrying: the hold (which leaves the rule unknown too), or the rule.
const (
	UnknownHoldAndRule = `store_hold = NULL, store_rule = NULL`
	UnknownRule        = `store_rule = NULL`
)

// StoreSideEnded records that a carrying of act to the object store
// failed (ended, at ended: StoreSideFailed). When another act has come
// since, the store is not known to be at that act either: the failed one
// may have changed objects after the later one carried them (its request
// paused past storeSettle, then run on), so the hold and the rule are
// marked unknown (unknown: the columns to clear, `store_hold = NULL,
// store_rule = NULL` for an act on the hold) for the retention run to
// carry again, as an overlap is.
func (s *Store) StoreSideEnded(ctx context.Context, act StoreAct, ended, now time.Time, unknown string) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE visits SET store_at = ? WHERE id = ? AND store_gen = ?`, formatTime(ended), act.VisitID, act.Gen)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		return overlapped(ctx, tx, act, now, unknown)
	})
	if err != nil {
		return fmt.Errorf("store: store side ended: %w", err)
	}
	return nil
}

// FileToHold is a file stored while its visit was under legal hold whose
// own objects are not yet known to be at the visit's hold: written with
// the file (insertFile), in the transaction that stores it, so that an
// upload that stops before it holds them leaves them to the retention run.
// Visit is the visit's id, bucket and state; Hold its legal hold now, and
// Act the store side's generation it was read with.
type FileToHold struct {
	FileID string
	Visit  Visit
	Hold   bool
	Act    StoreAct
}

const fileToHoldColumns = `o.file_id, v.id, v.bucket, v.state, v.legal_hold, v.store_gen FROM objects_to_hold o JOIN visits v ON v.id = o.visit_id`

func scanFileToHold(sc scanner) (FileToHold, error) {
	var f FileToHold
	err := sc.Scan(&f.FileID, &f.Visit.ID, &f.Visit.Bucket, &f.Visit.State, &f.Hold, &f.Act.Gen)
	f.Act.VisitID = f.Visit.ID
	return f, err
}

// FileToHoldOf returns the file's objects to hold; ErrNotFound when there
// are none to (its visit was not held when it was stored, or they are
// held already).
func (s *Store) FileToHoldOf(ctx context.Context, fileID string) (FileToHold, error) {
	f, err := scanFileToHold(s.db.QueryRowContext(ctx, `SELECT `+fileToHoldColumns+` WHERE o.file_id = ?`, fileID))
	if errors.Is(err, sql.ErrNoRows) {
		return f, ErrNotFound
	}
	if err != nil {
		return f, fmt.Errorf("store: file to hold: %w", err)
	}
	return f, nil
}

// FilesToHold returns up to limit files whose objects are still to be
// brought to their visit's hold, stored before settledBefore (a younger
// one's upload may still be holding them), the oldest first.
func (s *Store) FilesToHold(ctx context.Context, settledBefore time.Time, limit int) ([]FileToHold, error) {
	out, err := queryAtMost(ctx, s.db, limit, scanFileToHold, `SELECT `+fileToHoldColumns+` WHERE o.since < ? ORDER BY o.since, o.file_id LIMIT ?`,
		formatTime(settledBefore), limit)
	if err != nil {
		return nil, fmt.Errorf("store: files to hold: %w", err)
	}
	return out, nil
}

// FileHeld records that a file's objects were brought to its visit's
// hold as read with f (FileToHoldOf, FilesToHold). When another act on
// the visit's store side came since (a lift whose store calls may have
// freed the bucket before these objects were held, or the reverse), the
// visit's hold is recorded as unknown, for the retention run to bring the
// whole bucket to the visit as it then is.
func (s *Store) FileHeld(ctx context.Context, f FileToHold, now time.Time) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM objects_to_hold WHERE file_id = ?`, f.FileID); err != nil {
			return err
		}
		return overlapped(ctx, tx, f.Act, now, `store_hold = NULL`)
	})
	if err != nil {
		return fmt.Errorf("store: file held: %w", err)
	}
	return nil
}

// FileHoldFailed puts a file whose objects the run failed to hold behind
// the others (FilesToHold).
func (s *Store) FileHoldFailed(ctx context.Context, fileID string, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE objects_to_hold SET since = ? WHERE file_id = ?`, formatTime(now), fileID); err != nil {
		return fmt.Errorf("store: file hold failed: %w", err)
	}
	return nil
}

// overlapped records, for a carrying of act that another act or carrying
// overlapped, the parts of the store's side it touched as unknown, and
// takes the next generation so that no carrying under way records them
// done either. A destroyed visit is left alone.
func overlapped(ctx context.Context, tx *Tx, act StoreAct, now time.Time, unknown string) error {
	_, err := tx.ExecContext(ctx, `UPDATE visits SET `+unknown+`, store_gen = store_gen + 1, store_at = ? WHERE id = ? AND store_gen <> ? AND state <> 'destroyed'`,
		formatTime(now), act.VisitID, act.Gen)
	return err
}

// StoreSide is a visit not destroyed whose object store is not known to be
// at its legal hold (HoldUnknown) or its expiry rule (RuleUnknown), with
// the hold and the act to carry.
type StoreSide struct {
	Visit
	Hold                     LegalHold
	HoldUnknown, RuleUnknown bool
	Act                      StoreAct
}

// StoreSidesToApply returns up to limit visits not destroyed whose object
// store was not brought to their legal hold or their expiry rule (the act
// stopped part-way, or overlapped another), those whose act is older than
// settledBefore (a younger one may still be under way), the oldest first:
// a visit the run failed to carry waits behind the others
// (StoreSideFailed), so that visits whose store refuses for good never
// keep the rest waiting. They are read from an index of them alone
// (visits_store_side; a destroyed visit leaves it): none, whatever the
// portal holds, once every act has ended. A visit being destroyed is
// among them: a lifted hold that left its objects held would fail its
// destruction.
func (s *Store) StoreSidesToApply(ctx context.Context, settledBefore time.Time, limit int) ([]StoreSide, error) {
	rows, err := queryAtMost(ctx, s.db, limit, func(sc scanner) (StoreSide, error) {
		var h StoreSide
		var at sql.NullString
		var storeHold, storeRule sql.NullInt64
		if err := scanVisitInto(sc, &h.Visit, &h.Hold.On, &at, &storeHold, &storeRule, &h.Act.Gen); err != nil {
			return h, err
		}
		var d dates
		h.Hold.At = d.null(at)
		h.Act.VisitID = h.ID
		h.HoldUnknown = !storeHold.Valid || (storeHold.Int64 != 0) != h.Hold.On
		h.RuleUnknown = !storeRule.Valid
		return h, d.err
	}, `SELECT `+visitColumns+`, legal_hold, legal_hold_at, store_hold, store_rule, store_gen FROM visits
		WHERE (`+s.storeSideUnknown()+`) AND store_at < ? ORDER BY store_at, id LIMIT ?`, formatTime(settledBefore), limit)
	if err != nil {
		return nil, fmt.Errorf("store: store sides to apply: %w", err)
	}
	out := rows[:0]
	for _, h := range rows {
		if h.State != "destroyed" {
			out = append(out, h)
		}
	}
	return out, nil
}

// storeSideUnknown is the condition of the index visits_store_side (a
// visit whose store is not known to be at its legal hold or expiry rule),
// written as the index is, so that the statements that read it use it.
func (s *Store) storeSideUnknown() string {
	if s.db.pg {
		return `store_hold IS DISTINCT FROM legal_hold OR store_rule IS NULL`
	}
	return `store_hold IS NOT legal_hold OR store_rule IS NULL`
}

// StoreBehind counts the visits not destroyed whose object store is not
// known to be at their legal hold or expiry rule (StoreSidesToApply, of
// any age), and the files whose objects are not yet known to be at their
// visit's hold (FilesToHold): one statement, reading the index of the
// first and the table of the second, which hold those alone.
func (s *Store) StoreBehind(ctx context.Context) (visits, files int, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM visits WHERE (`+s.storeSideUnknown()+`) AND state <> 'destroyed'),
		(SELECT COUNT(*) FROM objects_to_hold)`).Scan(&visits, &files)
	if err != nil {
		return 0, 0, fmt.Errorf("store: store behind: %w", err)
	}
	return visits, files, nil
}

// visitState reads a visit's stored state (ErrNotFound: no such visit):
// why a change that asked for another state changed no row.
func visitState(ctx context.Context, tx *Tx, visitID string) (string, error) {
	var state string
	err := tx.QueryRowContext(ctx, `SELECT state FROM visits WHERE id = ?`, visitID).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return state, err
}

// GetLegalHold returns a visit's legal hold.
func (s *Store) GetLegalHold(ctx context.Context, visitID string) (LegalHold, error) {
	var h LegalHold
	var at sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT legal_hold, legal_hold_reason_sealed, legal_hold_at, legal_hold_by FROM visits WHERE id = ?`, visitID).Scan(&h.On, &h.ReasonSealed, &at, &h.By)
	if errors.Is(err, sql.ErrNoRows) {
		return h, ErrNotFound
	}
	if err != nil {
		return h, fmt.Errorf("store: legal hold: %w", err)
	}
	var d dates
	h.At = d.null(at)
	return h, d.err
}

// SetVisitState changes a visit's stored lifecycle state.
func (s *Store) SetVisitState(ctx context.Context, visitID, state string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE visits SET state = ? WHERE id = ?`, state, visitID); err != nil {
		return fmt.Errorf("store: set state: %w", err)
	}
	return nil
}

// Destruction is the record of one visit's destruction, step by step.
type Destruction struct {
	VisitID          string
	Reference        string
	KeyFingerprint   string
	Files            string // JSON: [{id, sha256, size}], taken before anything was destroyed
	StartedAt        time.Time
	KeyDestroyedAt   time.Time
	ObjectsDeletedAt time.Time
	ObjectsDeleted   int // what step c removed in the run that recorded it (for logs)
	BucketDeletedAt  time.Time
	// RemovalStartedAt is when step c began removing the bucket, recorded
	// before the first object went (MarkRemovalStarted).
	RemovalStartedAt time.Time
	// The inventory taken at step a, before anything was destroyed: every
	// object version in the bucket, the segments the files should have,
	// and how many of those were already gone (a lifecycle backstop).
	ObjectsAtStart   int
	SegmentsExpected int
	SegmentsMissing  int
	// InventoryKnown is false for a destruction applied again after a
	// restore, which destroys the key before reading the object store:
	// its bucket is counted once the key is gone (RecordInventory).
	InventoryKnown bool
	Certificate    []byte
	CompletedAt    time.Time
	// The key epoch the visit key was wrapped to when the destruction
	// began ("" for a key wrapped to the master key directly), when that
	// epoch was superseded (every live key moved off it) and from when its
	// key may be destroyed: after that no backup opens the visit key.
	KeyEpoch          string
	EpochSupersededAt time.Time
	EpochRetireAfter  time.Time
	// NoticePeriod is the notice period the destruction was decided with
	// (NoticePeriodKnown: not for one begun before it was kept).
	NoticePeriod      time.Duration
	NoticePeriodKnown bool
	// FilesVersion is the visit's files_version (FilesVersion) read
	// before Files was listed: the destruction begins only if no file has
	// changed since (ErrFilesChanged). It is not kept.
	FilesVersion int64
	// NoticeGivenAt is when the notice the destruction was found due on
	// was given: a destruction that obeys holds begins only while that
	// notice is still the visit's (ErrNotDue). It is not kept.
	NoticeGivenAt time.Time
}

// ErrFilesChanged is returned when a destruction would begin on a list of
// files that is no longer the visit's: a file was stored, changed or
// deleted after the list was read. The list is to be read again.
var ErrFilesChanged = errors.New("store: the visit's files changed after they were listed")

// BeginDestruction records step a: the visit is marked destroying and what
// is about to be destroyed is written down, in one transaction. It is a
// no-op when the record exists already. It is refused (ErrOnHold) when the
// visit is active and under legal hold, (ErrNotDue) when its destruction
// notice has been withdrawn since it was found due, and (ErrFilesChanged)
// when the visit's files are no longer those d lists (d.FilesVersion).
func (s *Store) BeginDestruction(ctx context.Context, d Destruction, audit ...AuditRecord) error {
	return s.beginDestruction(ctx, d, true, audit)
}

// BeginDestructionAgain is BeginDestruction for a destruction that began
// before the database was restored from a backup taken earlier: a legal
// hold restored with it is older than that destruction, and does not stop
// it.
func (s *Store) BeginDestructionAgain(ctx context.Context, d Destruction, audit ...AuditRecord) error {
	return s.beginDestruction(ctx, d, false, audit)
}

func (s *Store) beginDestruction(ctx context.Context, d Destruction, obeyHold bool, audit []AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		// The sweep found the visit due before it took the inventory; a
		// legal hold set since then (the one change that can make a due
		// visit not due: no letter event follows publication) stops it
		// here, in the transaction that would begin it. The visit's row
		// orders this with SetLegalHold.
		// A file stored or changed since the files were listed moved
		// files_version on: the list would leave it off the certificate.
		// From here on no file is stored (insertFile).
		q := `UPDATE visits SET state = 'destroying' WHERE id = ? AND state = 'active' AND files_version = ?`
		if obeyHold {
			q += ` AND legal_hold = 0`
		}
		res, err := tx.ExecContext(ctx, q, d.VisitID, d.FilesVersion)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var state string
			var hold int64
			err := tx.QueryRowContext(ctx, `SELECT state, legal_hold FROM visits WHERE id = ?`, d.VisitID).Scan(&state, &hold)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return ErrNotFound
			case err != nil:
				return err
			case state == "active" && obeyHold && hold != 0:
				return ErrOnHold
			case state == "active":
				return ErrFilesChanged
			}
			// Destroying or destroyed already: only the record is missing.
		} else if obeyHold {
			// The visit's row is held from here: a withdrawal of its
			// publication (WithdrawLastEvent) or a lift of a hold
			// (SetLegalHold) since the sweep found it due, each holding
			// the row too, withdrew the notice the destruction rests
			// on, and a sweep elsewhere may have given a fresh one
			// since, whose period has not run. Read now, in a statement
			// of its own, it is as they left it, on PostgreSQL too.
			n, err := scanNotice(tx.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM destruction_notices WHERE visit_id = ?`, d.VisitID))
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotDue
			}
			if err != nil {
				return err
			}
			if !n.GivenAt.Equal(d.NoticeGivenAt) {
				return ErrNotDue
			}
			// An approval committed while this waited for the row,
			// timed after the start the sweep read, came before the
			// start: the certificate never shows one after it.
			if n.ApprovedAt.After(d.StartedAt) {
				d.StartedAt = n.ApprovedAt
			}
		}
		var period sql.NullInt64
		if d.NoticePeriodKnown {
			period = sql.NullInt64{Int64: int64(d.NoticePeriod), Valid: true}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO destructions (visit_id, reference, key_fingerprint, files, started_at, objects_at_start, segments_expected, segments_missing, key_epoch, notice_period_ns)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (visit_id) DO NOTHING`, d.VisitID, d.Reference, d.KeyFingerprint, d.Files, formatTime(d.StartedAt),
			inventoried(d, d.ObjectsAtStart), d.SegmentsExpected, inventoried(d, d.SegmentsMissing), nullString(d.KeyEpoch), period)
		return err
	}, audit...)
	if err != nil && !errors.Is(err, ErrOnHold) && !errors.Is(err, ErrNotDue) && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrFilesChanged) {
		return fmt.Errorf("store: begin destruction: %w", err)
	}
	return err
}

// inventoried is n, or NULL for a destruction whose inventory is not
// known yet.
func inventoried(d Destruction, n int) any {
	if !d.InventoryKnown {
		return nil
	}
	return n
}

// RecordInventory records the inventory of a destruction begun without
// one (applied again after a restore), taken once its key is gone: every
// object version its bucket held, and how many of the segments its files
// should have were gone. A known inventory is left as it is.
func (s *Store) RecordInventory(ctx context.Context, visitID string, objects, segmentsMissing int) error {
	return s.exec(ctx, nil, `UPDATE destructions SET objects_at_start = ?, segments_missing = ? WHERE visit_id = ? AND objects_at_start IS NULL`,
		objects, segmentsMissing, visitID)
}

// GetDestruction returns the destruction record, or ErrNotFound.
func (s *Store) GetDestruction(ctx context.Context, visitID string) (Destruction, error) {
	var d Destruction
	var started string
	var key, objs, bucket, done, epoch, superseded, retire, removing sql.NullString
	var n, atStart, expected, missing, period sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT visit_id, reference, key_fingerprint, files, started_at, key_destroyed_at, objects_deleted_at, objects_deleted,
		bucket_deleted_at, certificate, completed_at, objects_at_start, segments_expected, segments_missing, key_epoch, epoch_superseded_at, epoch_retire_after,
		notice_period_ns, objects_removal_started_at
		FROM destructions WHERE visit_id = ?`, visitID).Scan(&d.VisitID, &d.Reference, &d.KeyFingerprint, &d.Files, &started, &key, &objs, &n, &bucket,
		&d.Certificate, &done, &atStart, &expected, &missing, &epoch, &superseded, &retire, &period, &removing)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("store: destruction: %w", err)
	}
	var p dates
	d.StartedAt, d.KeyDestroyedAt, d.ObjectsDeletedAt = p.time(started), p.null(key), p.null(objs)
	d.BucketDeletedAt, d.CompletedAt, d.ObjectsDeleted = p.null(bucket), p.null(done), int(n.Int64)
	d.ObjectsAtStart, d.SegmentsExpected, d.SegmentsMissing = int(atStart.Int64), int(expected.Int64), int(missing.Int64)
	d.InventoryKnown = atStart.Valid
	d.KeyEpoch, d.EpochSupersededAt, d.EpochRetireAfter = epoch.String, p.null(superseded), p.null(retire)
	d.NoticePeriod, d.NoticePeriodKnown = time.Duration(period.Int64), period.Valid
	d.RemovalStartedAt = p.null(removing)
	return d, p.err
}

// MarkEpochSuperseded records on a destruction that the key epoch its key
// was wrapped to has been superseded, and from when that epoch's key may
// be destroyed.
//
// Only the first is recorded: a sweep paused past its lease that runs on
// with what it read before leaves what another recorded (and certified)
// meanwhile as it is, and adds no record of its own (onceRecorded).
func (s *Store) MarkEpochSuperseded(ctx context.Context, visitID string, at, retireAfter time.Time, audit ...AuditRecord) error {
	return s.onceRecorded(ctx, audit, `UPDATE destructions SET epoch_superseded_at = ?, epoch_retire_after = ? WHERE visit_id = ? AND epoch_superseded_at IS NULL`,
		formatTime(at), formatTime(retireAfter), visitID)
}

// onceRecorded runs the update q, with the audit records only if it
// changed a row: a step of a destruction recorded already stays as it was
// recorded.
func (s *Store) onceRecorded(ctx context.Context, audit []AuditRecord, q string, args ...any) error {
	return s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, nil
		}
		return audit, nil
	})
}

// DeleteKey is the first half of step b: the wrapped key row goes, and a
// probe of its bytes is kept (inverted, so that the probe itself is not
// what is searched for) to prove later that no copy is left in the
// database files. The step is not recorded until VerifyKeyGone has proved
// it. It is a no-op when the row is already gone.
//
// The key epoch the key is wrapped to as it is deleted replaces the one
// recorded when the destruction began: the key may have moved to a newer
// epoch since (another destruction, a rotation, the janitor), and that
// newer epoch is the one every later backup holds it under, so the one
// to supersede and to name on the certificate. The row is read locked
// (PostgreSQL: FOR UPDATE; SQLite's write transaction excludes every
// other writer) so that what is probed and recorded is what is deleted,
// not a wrapping a concurrent move has replaced.
func (s *Store) DeleteKey(ctx context.Context, visitID string) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		var wrapped []byte
		var epoch sql.NullString
		lock := ""
		if tx.h.pg {
			lock = " FOR UPDATE"
		}
		err := tx.QueryRowContext(ctx, `SELECT wrapped, epoch FROM visit_keys WHERE visit_id = ?`+lock, visitID).Scan(&wrapped, &epoch)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE destructions SET key_probe = ?, key_epoch = ? WHERE visit_id = ?`, keyProbe(wrapped), epoch, visitID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM visit_keys WHERE visit_id = ?`, visitID)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: delete key: %w", err)
	}
	return nil
}

// probeSize is how many bytes of a wrapped key are searched for.
const probeSize = 32

// keyProbe is probeSize bytes from the end of the wrapped key's age
// payload, inverted.
func keyProbe(wrapped []byte) []byte {
	start := max(0, len(wrapped)-probeSize-16)
	p := append([]byte(nil), wrapped[start:min(len(wrapped), start+probeSize)]...)
	for i := range p {
		p[i] = ^p[i]
	}
	return p
}

// ErrKeyNotGone is returned while a destroyed key's bytes can still be
// found in the database's files (a reader kept the log from being
// checkpointed): the step is not recorded, and is retried.
var ErrKeyNotGone = errors.New("store: the destroyed key's bytes may still be in the database files")

// VerifyKeyGone is the second half of step b: it checkpoints the log (and
// waits, up to wait, for readers that hold it), then proves the key's
// bytes are in none of the database's files. Only then may the step be
// recorded (RecordKeyDestroyed), at the time read after the proof: the
// wait may be long, and the record must not date the key's end before it.
func (s *Store) VerifyKeyGone(ctx context.Context, visitID string, wait time.Duration) error {
	var probe []byte
	err := s.db.QueryRowContext(ctx, `SELECT key_probe FROM destructions WHERE visit_id = ?`, visitID).Scan(&probe)
	if err != nil {
		return fmt.Errorf("store: key probe: %w", err)
	}
	if s.db.pg {
		if err := s.keyGoneFromTable(ctx, visitID, wait); err != nil {
			return err
		}
	} else if err := s.checkpointLog(ctx, wait); err != nil {
		return err
	}
	if len(probe) > 0 && !s.db.pg {
		want := make([]byte, len(probe))
		for i := range probe {
			want[i] = ^probe[i]
		}
		for _, f := range []string{s.path, s.path + "-wal"} {
			found, err := fileContains(f, want)
			if err != nil {
				return fmt.Errorf("store: search %s: %w", f, err)
			}
			if found {
				return fmt.Errorf("%w (found in %s)", ErrKeyNotGone, f)
			}
		}
	}
	return nil
}

// RecordKeyDestroyed records step b, once VerifyKeyGone has proved the
// key gone, with its audit records, and forgets the probe.
func (s *Store) RecordKeyDestroyed(ctx context.Context, visitID string, now time.Time, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE destructions SET key_destroyed_at = COALESCE(key_destroyed_at, ?), key_probe = NULL WHERE visit_id = ?`, formatTime(now), visitID)
		return err
	}, audit...)
	if err != nil {
		return fmt.Errorf("store: record key destroyed: %w", err)
	}
	return nil
}

// keyGoneFromTable is PostgreSQL's proof: the row is gone from the table
// as every instance sees it, and a vacuum has removed its dead version
// (the table reports no dead row versions left). A transaction that holds
// an older snapshot keeps the dead version (as a SQLite reader keeps the
// log): wait and retry, up to wait. What PostgreSQL keeps elsewhere (its
// write-ahead log, archives, base backups, replicas) is for the operator:
// README.
func (s *Store) keyGoneFromTable(ctx context.Context, visitID string, wait time.Duration) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM visit_keys WHERE visit_id = ?`, visitID).Scan(&n); err != nil {
		return fmt.Errorf("store: key gone: %w", err)
	}
	if n != 0 {
		return fmt.Errorf("%w (the row is still in visit_keys)", ErrKeyNotGone)
	}
	deadline := time.Now().Add(wait)
	for {
		if err := s.vacuumKeys(ctx); err != nil {
			return fmt.Errorf("%w: vacuum visit_keys: %v", ErrKeyNotGone, err)
		}
		var dead int64
		if err := s.db.QueryRowContext(ctx, `SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'visit_keys'`).Scan(&dead); err != nil {
			return fmt.Errorf("store: key gone: %w", err)
		}
		if dead == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %d dead row versions of visit_keys could not be vacuumed (a transaction holds an older snapshot)", ErrKeyNotGone, dead)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// checkpointLog moves the write-ahead log into the database file and
// truncates it. A reader holding an old snapshot keeps the log from being
// checkpointed ("busy"): wait and retry, up to wait.
func (s *Store) checkpointLog(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		var busy, logFrames, done int
		if err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
			return fmt.Errorf("store: checkpoint: %w", err)
		}
		if busy == 0 && logFrames == done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: the log could not be checkpointed (a reader holds it)", ErrKeyNotGone)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// fileContains reports whether the file holds want; a missing file holds
// nothing.
func fileContains(path string, want []byte) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20+len(want))
	keep := 0
	for {
		n, err := io.ReadFull(f, buf[keep:])
		if bytes.Contains(buf[:keep+n], want) {
			return true, nil
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		keep = copy(buf, buf[keep+n-(len(want)-1):keep+n])
	}
}

// KeyFingerprint is the fingerprint of a visit's live wrapped key, or
// ErrNotFound once it is destroyed: the cheap check that lets every
// process stop using a destroyed key at once.
func (s *Store) KeyFingerprint(ctx context.Context, visitID string) (string, error) {
	var fp string
	err := s.db.QueryRowContext(ctx, `SELECT fingerprint FROM visit_keys WHERE visit_id = ?`, visitID).Scan(&fp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: key fingerprint: %w", err)
	}
	return fp, nil
}

// KeyFingerprints returns the fingerprints of the stored keys of the
// visits named (those whose key is gone are absent), in one statement.
func (s *Store) KeyFingerprints(ctx context.Context, visitIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(visitIDs))
	if len(visitIDs) == 0 {
		return out, nil
	}
	list, err := json.Marshal(visitIDs)
	if err != nil {
		return nil, err
	}
	type row struct{ id, fp string }
	rows, err := queryAll(ctx, s.db, func(sc scanner) (row, error) {
		var r row
		return r, sc.Scan(&r.id, &r.fp)
	}, `SELECT visit_id, fingerprint FROM visit_keys WHERE `+s.inIDs("visit_id"), string(list))
	if err != nil {
		return nil, fmt.Errorf("store: key fingerprints: %w", err)
	}
	for _, r := range rows {
		out[r.id] = r.fp
	}
	return out, nil
}

// MarkRemovalStarted records that step c is about to remove the visit's
// bucket (once: a later run keeps the first time).
func (s *Store) MarkRemovalStarted(ctx context.Context, visitID string, now time.Time) error {
	return s.exec(ctx, nil, `UPDATE destructions SET objects_removal_started_at = ? WHERE visit_id = ? AND objects_removal_started_at IS NULL`,
		formatTime(now), visitID)
}

// MarkObjectsDeleted is step c (objects and bucket gone).
// Only the first is recorded (MarkEpochSuperseded).
func (s *Store) MarkObjectsDeleted(ctx context.Context, visitID string, n int, now time.Time, audit ...AuditRecord) error {
	return s.onceRecorded(ctx, audit, `UPDATE destructions SET objects_deleted_at = ?, objects_deleted = ?, bucket_deleted_at = ? WHERE visit_id = ? AND objects_deleted_at IS NULL`,
		formatTime(now), n, formatTime(now), visitID)
}

// CompleteDestruction is steps d and e: the signed certificate is stored,
// the file rows (sealed names, now unreadable) go, and the visit is marked
// destroyed, in one transaction. A visit already destroyed (by another
// process finishing the same destruction) is ErrDestroyed, and nothing is
// written: its certificate is the one issued first.
func (s *Store) CompleteDestruction(ctx context.Context, visitID string, certificate []byte, now time.Time, audit ...AuditRecord) error {
	return s.inTx(ctx, func(tx *Tx) error {
		var state string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM visits WHERE id = ?`+tx.h.forUpdate(), visitID).Scan(&state); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if state == "destroyed" {
			return ErrDestroyed
		}
		if _, err := tx.ExecContext(ctx, `UPDATE destructions SET certificate = ?, completed_at = ? WHERE visit_id = ?`, certificate, formatTime(now), visitID); err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM files WHERE visit_id = ?`, `DELETE FROM pending_uploads WHERE visit_id = ?`, `DELETE FROM resumable_uploads WHERE visit_id = ?`, `DELETE FROM request_items WHERE visit_id = ?`, `DELETE FROM case_files_removed WHERE visit_id = ?`,
			`DELETE FROM file_replacements WHERE visit_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, visitID); err != nil {
				return err
			}
		}
		if err := deleteDiscussion(ctx, tx, visitID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE visits SET state = 'destroyed', title_sealed = ?, store_hold = legal_hold, store_rule = 1 WHERE id = ?`, []byte{}, visitID); err != nil {
			return err
		}
		// Its failures are over (after the visit's row, as ClearFailure
		// takes them): no sweep reads a destroyed visit again to clear
		// them, and left they would be reported for ever.
		_, err := tx.ExecContext(ctx, `DELETE FROM retention_failures WHERE visit_id = ?`, visitID)
		return err
	}, audit...)
}

// TakeLease takes or renews a named lease for holder until expires; it
// reports false when someone else holds it. Two processes sweeping at once
// therefore never run the same destruction.
func (s *Store) TakeLease(ctx context.Context, name, holder string, now, expires time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at < ?`, name, holder, formatTime(expires), formatTime(now))
	if err != nil {
		return false, fmt.Errorf("store: lease: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RenewLease extends holder's lease name to expires, only while holder
// holds it: the row is theirs, run out or not, since no one else has
// taken it. A lease another holder took (and perhaps gave up since) is
// not taken again: the work it covered may have been done meanwhile, and
// the renewer is to stop (KeepLease).
func (s *Store) RenewLease(ctx context.Context, name, holder string, expires time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?`, formatTime(expires), name, holder)
	if err != nil {
		return false, fmt.Errorf("store: renew lease: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// scanRequiredLease is the row by which instances that scan say, each
// round, that the deployment requires scanning, until when.
const scanRequiredLease = "scan-required"

// NoteScanRequired records that the deployment requires scanning until at
// least until (never moving an earlier instance's word back).
func (s *Store) NoteScanRequired(ctx context.Context, until time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, 'deployment', ?)
		ON CONFLICT (name) DO UPDATE SET expires_at = excluded.expires_at WHERE leases.expires_at < excluded.expires_at`, scanRequiredLease, formatTime(until))
	if err != nil {
		return fmt.Errorf("store: note scanning required: %w", err)
	}
	return nil
}

// ScanRequiredUntil is until when an instance last said the deployment
// requires scanning (zero: none ever did).
func (s *Store) ScanRequiredUntil(ctx context.Context) (time.Time, error) {
	var until string
	err := s.db.QueryRowContext(ctx, `SELECT expires_at FROM leases WHERE name = ?`, scanRequiredLease).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: scanning required: %w", err)
	}
	var d dates
	t := d.time(until)
	return t, d.err
}

// ReleaseLease gives a lease up.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
	return err
}

// DropLease removes a lease whoever holds it (a record that served its
// purpose: a self-test's bucket removed).
func (s *Store) DropLease(ctx context.Context, name string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM leases WHERE name = ?`, name)
	return err
}

// LeasesEnded names the leases whose name begins with prefix and that
// ran out before now, oldest first, at most limit.
func (s *Store) LeasesEnded(ctx context.Context, prefix string, now time.Time, limit int) ([]string, error) {
	out, err := queryAll(ctx, s.db, func(sc scanner) (string, error) {
		var name string
		err := sc.Scan(&name)
		return name, err
	}, `SELECT name FROM leases WHERE substr(name, 1, ?) = ? AND expires_at < ? ORDER BY expires_at LIMIT ?`, len(prefix), prefix, formatTime(now), limit)
	if err != nil {
		return nil, fmt.Errorf("store: leases: %w", err)
	}
	return out, nil
}

// LeaseHolder says who holds a lease and until when (ErrNotFound: nobody).
func (s *Store) LeaseHolder(ctx context.Context, name string) (string, time.Time, error) {
	var holder, until string
	err := s.db.QueryRowContext(ctx, `SELECT holder, expires_at FROM leases WHERE name = ?`, name).Scan(&holder, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, ErrNotFound
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("store: lease: %w", err)
	}
	var d dates
	return holder, d.time(until), d.err
}

// Failure is a destruction that could not finish, and when it is tried
// again.
type Failure struct {
	VisitID       string
	Attempts      int
	FirstFailedAt time.Time
	LastFailedAt  time.Time
	NextAttemptAt time.Time
	Reason        string
}

// RecordFailure records (another) failed attempt at a visit's destruction
// and when to try again, with its audit records; it returns the attempts
// so far. A visit destroyed meanwhile (another process finished it while
// this one failed) is ErrDestroyed, and nothing is recorded: its failure
// would be shown, and alerted on, for ever.
func (s *Store) RecordFailure(ctx context.Context, visitID, reason string, now time.Time, next func(attempts int) time.Time, audit ...AuditRecord) (int, error) {
	attempts := 0
	err := s.inTx(ctx, func(tx *Tx) error {
		// The visit's row first, as GiveNotice takes it.
		state, err := lockVisitState(ctx, tx, visitID)
		if err != nil {
			return err
		}
		if state == "destroyed" {
			return ErrDestroyed
		}
		// The count goes up in the row itself (no read first to race with).
		err = tx.QueryRowContext(ctx, `INSERT INTO retention_failures (visit_id, attempts, first_failed_at, last_failed_at, next_attempt_at, reason) VALUES (?, 1, ?, ?, ?, ?)
			ON CONFLICT (visit_id) DO UPDATE SET attempts = retention_failures.attempts + 1, last_failed_at = excluded.last_failed_at, reason = excluded.reason
			RETURNING attempts`,
			visitID, formatTime(now), formatTime(now), formatTime(now), reason).Scan(&attempts)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE retention_failures SET next_attempt_at = ? WHERE visit_id = ?`, formatTime(next(attempts)), visitID)
		return err
	}, audit...)
	if err != nil {
		return 0, fmt.Errorf("store: record destruction failure: %w", err)
	}
	return attempts, nil
}

// GetFailure returns a visit's destruction failure, or ErrNotFound.
func (s *Store) GetFailure(ctx context.Context, visitID string) (Failure, error) {
	f, err := scanFailure(s.db.QueryRowContext(ctx, `SELECT visit_id, attempts, first_failed_at, last_failed_at, next_attempt_at, reason FROM retention_failures WHERE visit_id = ?`, visitID))
	if errors.Is(err, sql.ErrNoRows) {
		return f, ErrNotFound
	}
	if err != nil {
		return f, fmt.Errorf("store: destruction failure: %w", err)
	}
	return f, nil
}

func scanFailure(sc scanner) (Failure, error) {
	var f Failure
	var first, last, next string
	if err := sc.Scan(&f.VisitID, &f.Attempts, &first, &last, &next, &f.Reason); err != nil {
		return f, err
	}
	var d dates
	f.FirstFailedAt, f.LastFailedAt, f.NextAttemptAt = d.time(first), d.time(last), d.time(next)
	return f, d.err
}

// ClearFailure forgets a visit's failures once its destruction finished.
func (s *Store) ClearFailure(ctx context.Context, visitID string) error {
	return s.inTx(ctx, func(tx *Tx) error {
		// The visit's row first, as GiveNotice; a visit that is gone has
		// no failure to forget.
		if err := lockVisit(ctx, tx, visitID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM retention_failures WHERE visit_id = ?`, visitID)
		return err
	})
}
