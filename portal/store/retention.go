package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
// check is returned as it is.
func (s *Store) AddEvent(ctx context.Context, e Event, check func(history []Event) error, audit ...AuditRecord) error {
	var checkErr error
	err := s.inTx(ctx, func(tx *Tx) error {
		if err := lockVisit(ctx, tx, e.VisitID); err != nil {
			return err
		}
		history, err := events(ctx, tx, e.VisitID)
		if err != nil {
			return err
		}
		if checkErr = check(history); checkErr != nil {
			return checkErr
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO visit_events (id, visit_id, event, date, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?)`,
			NewID(), e.VisitID, e.Event, e.Date.Format(dateFormat), e.RecordedBy, formatTime(e.RecordedAt))
		return err
	}, audit...)
	if checkErr != nil {
		return checkErr
	}
	if err != nil {
		return fmt.Errorf("store: add event: %w", err)
	}
	return nil
}

// Events lists a visit's letter events in the order recorded.
func (s *Store) Events(ctx context.Context, visitID string) ([]Event, error) {
	return events(ctx, s.db, visitID)
}

func events(ctx context.Context, db querier, visitID string) ([]Event, error) {
	out, err := queryAll(ctx, db, func(sc scanner) (Event, error) {
		var e Event
		var day, at string
		if err := sc.Scan(&e.ID, &e.VisitID, &e.Event, &day, &e.RecordedBy, &at); err != nil {
			return e, err
		}
		var d dates
		e.Date, e.RecordedAt = d.date(day), d.time(at)
		return e, d.err
	}, `SELECT id, visit_id, event, date, recorded_by, recorded_at FROM visit_events WHERE visit_id = ? ORDER BY recorded_at, id`, visitID)
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
}

// SetLegalHold sets or lifts a visit's legal hold.
func (s *Store) SetLegalHold(ctx context.Context, visitID string, h LegalHold, audit ...AuditRecord) error {
	err := s.exec(ctx, audit, `UPDATE visits SET legal_hold = ?, legal_hold_reason_sealed = ?, legal_hold_at = ? WHERE id = ?`,
		h.On, h.ReasonSealed, formatTime(h.At), visitID)
	if err != nil {
		return fmt.Errorf("store: legal hold: %w", err)
	}
	return nil
}

// GetLegalHold returns a visit's legal hold.
func (s *Store) GetLegalHold(ctx context.Context, visitID string) (LegalHold, error) {
	var h LegalHold
	var at sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT legal_hold, legal_hold_reason_sealed, legal_hold_at FROM visits WHERE id = ?`, visitID).Scan(&h.On, &h.ReasonSealed, &at)
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
	ObjectsDeleted   int
	BucketDeletedAt  time.Time
	Certificate      []byte
	CompletedAt      time.Time
}

// BeginDestruction records step a: the visit is marked destroying and what
// is about to be destroyed is written down, in one transaction. It is a
// no-op when the record exists already.
func (s *Store) BeginDestruction(ctx context.Context, d Destruction, audit ...AuditRecord) error {
	return s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO destructions (visit_id, reference, key_fingerprint, files, started_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (visit_id) DO NOTHING`, d.VisitID, d.Reference, d.KeyFingerprint, d.Files, formatTime(d.StartedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE visits SET state = 'destroying' WHERE id = ? AND state != 'destroyed'`, d.VisitID)
		return err
	}, audit...)
}

// GetDestruction returns the destruction record, or ErrNotFound.
func (s *Store) GetDestruction(ctx context.Context, visitID string) (Destruction, error) {
	var d Destruction
	var started string
	var key, objs, bucket, done sql.NullString
	var n sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT visit_id, reference, key_fingerprint, files, started_at, key_destroyed_at, objects_deleted_at, objects_deleted, bucket_deleted_at, certificate, completed_at
		FROM destructions WHERE visit_id = ?`, visitID).Scan(&d.VisitID, &d.Reference, &d.KeyFingerprint, &d.Files, &started, &key, &objs, &n, &bucket, &d.Certificate, &done)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	}
	if err != nil {
		return d, fmt.Errorf("store: destruction: %w", err)
	}
	var p dates
	d.StartedAt, d.KeyDestroyedAt, d.ObjectsDeletedAt = p.time(started), p.null(key), p.null(objs)
	d.BucketDeletedAt, d.CompletedAt, d.ObjectsDeleted = p.null(bucket), p.null(done), int(n.Int64)
	return d, p.err
}

// DestroyKey is step b: the wrapped key row goes, and the record says when,
// in one transaction; then the WAL is checkpointed so the key's bytes leave
// the log file too (secure_delete has already zeroed its page).
func (s *Store) DestroyKey(ctx context.Context, visitID string, now time.Time, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM visit_keys WHERE visit_id = ?`, visitID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE destructions SET key_destroyed_at = COALESCE(key_destroyed_at, ?) WHERE visit_id = ?`, formatTime(now), visitID)
		return err
	}, audit...)
	if err != nil {
		return fmt.Errorf("store: destroy key: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("store: checkpoint after key destruction: %w", err)
	}
	return nil
}

// MarkObjectsDeleted is step c (objects and bucket gone).
func (s *Store) MarkObjectsDeleted(ctx context.Context, visitID string, n int, now time.Time, audit ...AuditRecord) error {
	return s.exec(ctx, audit, `UPDATE destructions SET objects_deleted_at = ?, objects_deleted = ?, bucket_deleted_at = ? WHERE visit_id = ?`,
		formatTime(now), n, formatTime(now), visitID)
}

// CompleteDestruction is steps d and e: the signed certificate is stored,
// the file rows (sealed names, now unreadable) go, and the visit is marked
// destroyed, in one transaction.
func (s *Store) CompleteDestruction(ctx context.Context, visitID string, certificate []byte, now time.Time, audit ...AuditRecord) error {
	return s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE destructions SET certificate = ?, completed_at = ? WHERE visit_id = ?`, certificate, formatTime(now), visitID); err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM files WHERE visit_id = ?`, `DELETE FROM pending_uploads WHERE visit_id = ?`, `DELETE FROM resumable_uploads WHERE visit_id = ?`, `DELETE FROM request_items WHERE visit_id = ?`, `UPDATE visits SET state = 'destroyed', title_sealed = x'' WHERE id = ?`} {
			if _, err := tx.ExecContext(ctx, q, visitID); err != nil {
				return err
			}
		}
		return nil
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

// ReleaseLease gives a lease up.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
	return err
}
