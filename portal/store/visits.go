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

// Visit is one focused visit. Its title is sealed under the visit key.
type Visit struct {
	ID               string
	Reference        string
	TitleSealed      []byte
	Provider         string
	NotificationDate time.Time
	FieldworkStart   time.Time
	RetentionDays    int // days kept after publication: the visit's own, set at its creation
	State            string
	Bucket           string
	CreatedAt        time.Time
	CreatedBy        string
}

// VisitKey is a visit's key as stored: wrapped to a key epoch (Epoch), or,
// for keys made before epochs, to the master key (Epoch "").
type VisitKey struct {
	VisitID     string
	Wrapped     []byte
	Epoch       string
	Fingerprint string
	HeaderSize  int64
	CreatedAt   time.Time
}

const dateFormat = "2006-01-02"

// CreateVisit inserts a visit, its wrapped key and its initial item
// restrictions together: a visit never exists without its restrictions,
// nor without its retention period (the database refuses one without).
func (s *Store) CreateVisit(ctx context.Context, v Visit, k VisitKey, restrictions []Restriction, request []RequestItem, audit ...AuditRecord) error {
	if v.RetentionDays < 1 {
		return fmt.Errorf("store: create visit: a retention period of %d days", v.RetentionDays)
	}
	err := s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO visits (id, reference, title_sealed, provider, notification_date, fieldwork_start, retention_days, state, bucket, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			v.ID, v.Reference, v.TitleSealed, v.Provider, v.NotificationDate.Format(dateFormat), v.FieldworkStart.Format(dateFormat),
			v.RetentionDays, v.State, v.Bucket, formatTime(v.CreatedAt), v.CreatedBy); err != nil {
			if isUnique(err) {
				return ErrConflict
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO visit_keys (visit_id, wrapped, epoch, fingerprint, header_size, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			k.VisitID, k.Wrapped, nullString(k.Epoch), k.Fingerprint, k.HeaderSize, formatTime(k.CreatedAt)); err != nil {
			return err
		}
		for _, it := range restrictions {
			if _, err := tx.ExecContext(ctx, `INSERT INTO restrictions (visit_id, code, restricted, roles, updated_at) VALUES (?, ?, ?, ?, ?)`,
				v.ID, it.Code, boolInt(it.Restricted), strings.Join(it.Roles, ","), formatTime(v.CreatedAt)); err != nil {
				return err
			}
		}
		for _, it := range request {
			if _, err := tx.ExecContext(ctx, `INSERT INTO request_items (`+requestColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				v.ID, it.Code, it.Kind, it.TitleSealed, it.Due, it.Position, it.AddedBy, formatTime(v.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	}, audit...)
	if errors.Is(err, ErrConflict) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("store: create visit: %w", err)
	}
	return nil
}

// visitColumns name the two that members share with the table, so that a
// page of visits may join the user's membership.
const visitColumns = `visits.id, reference, title_sealed, provider, notification_date, fieldwork_start, retention_days, state, bucket, visits.created_at, created_by`

func scanVisit(sc scanner) (Visit, error) {
	var v Visit
	if err := scanVisitInto(sc, &v); err != nil {
		return Visit{}, err
	}
	return v, nil
}

// scanVisitInto scans visitColumns into v, and the columns after them
// into more.
func scanVisitInto(sc scanner, v *Visit, more ...any) error {
	var nd, fs, created string
	dest := append([]any{&v.ID, &v.Reference, &v.TitleSealed, &v.Provider, &nd, &fs, &v.RetentionDays, &v.State, &v.Bucket, &created, &v.CreatedBy}, more...)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	var d dates
	v.NotificationDate, v.FieldworkStart, v.CreatedAt = d.date(nd), d.date(fs), d.time(created)
	return d.err
}

// Visit returns one visit.
func (s *Store) Visit(ctx context.Context, id string) (Visit, error) {
	v, err := scanVisit(s.db.QueryRowContext(ctx, `SELECT `+visitColumns+` FROM visits WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Visit{}, ErrNotFound
	}
	if err != nil {
		return Visit{}, fmt.Errorf("store: visit %s: %w", id, err)
	}
	return v, nil
}

// VisitByReference returns the visit with a reference, such as FV-DEMO.
func (s *Store) VisitByReference(ctx context.Context, ref string) (Visit, error) {
	v, err := scanVisit(s.db.QueryRowContext(ctx, `SELECT `+visitColumns+` FROM visits WHERE reference = ?`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return Visit{}, ErrNotFound
	}
	if err != nil {
		return Visit{}, fmt.Errorf("store: visit %s: %w", ref, err)
	}
	return v, nil
}

// Visits returns every visit, newest first.
func (s *Store) Visits(ctx context.Context) ([]Visit, error) {
	return s.queryVisits(ctx, `SELECT `+visitColumns+` FROM visits ORDER BY notification_date DESC, reference`)
}

// VisitsOfUser returns the visits the user is a bound member of.
func (s *Store) VisitsOfUser(ctx context.Context, userID string) ([]Visit, error) {
	return s.queryVisits(ctx, `SELECT `+visitColumns+` FROM visits WHERE id IN (SELECT visit_id FROM members WHERE user_id = ?)
		ORDER BY notification_date DESC, reference`, userID)
}

func (s *Store) queryVisits(ctx context.Context, q string, args ...any) ([]Visit, error) {
	out, err := queryAll(ctx, s.db, scanVisit, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: visits: %w", err)
	}
	return out, nil
}

// WrappedKey returns a visit's wrapped key. ErrNotFound once it is destroyed.
func (s *Store) WrappedKey(ctx context.Context, visitID string) (VisitKey, error) {
	var k VisitKey
	var created string
	var epoch sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT visit_id, wrapped, epoch, fingerprint, header_size, created_at FROM visit_keys WHERE visit_id = ?`, visitID).
		Scan(&k.VisitID, &k.Wrapped, &epoch, &k.Fingerprint, &k.HeaderSize, &created)
	k.Epoch = epoch.String
	if errors.Is(err, sql.ErrNoRows) {
		return VisitKey{}, ErrNotFound
	}
	if err != nil {
		return VisitKey{}, fmt.Errorf("store: visit key %s: %w", visitID, err)
	}
	var d dates
	k.CreatedAt = d.time(created)
	return k, d.err
}

// WrappedKeys returns the stored keys of the visits named, in one
// statement (a page of visits' keys, read together when a list needs
// them unwrapped): those not stored are not in the answer.
func (s *Store) WrappedKeys(ctx context.Context, visitIDs []string) ([]VisitKey, error) {
	if len(visitIDs) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(visitIDs)
	if err != nil {
		return nil, err
	}
	// One statement's text whatever the page's length (inIDs): the
	// statement cache keeps constant texts.
	rows, err := s.db.QueryContext(ctx, `SELECT visit_id, wrapped, epoch, fingerprint, header_size, created_at FROM visit_keys WHERE `+
		s.inIDs("visit_id")+` ORDER BY visit_id`, string(list))
	if err != nil {
		return nil, fmt.Errorf("store: visit keys: %w", err)
	}
	defer rows.Close()
	var out []VisitKey
	for rows.Next() {
		var k VisitKey
		var created string
		var epoch sql.NullString
		if err := rows.Scan(&k.VisitID, &k.Wrapped, &epoch, &k.Fingerprint, &k.HeaderSize, &created); err != nil {
			return nil, fmt.Errorf("store: visit keys: %w", err)
		}
		var d dates
		k.Epoch, k.CreatedAt = epoch.String, d.time(created)
		if d.err != nil {
			return nil, fmt.Errorf("store: visit keys: %w", d.err)
		}
		out = append(out, k)
	}
	countRows(ctx, len(out))
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: visit keys: %w", err)
	}
	return out, nil
}

// isUnique reports whether err is a uniqueness rule refusing a write.
func isUnique(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "UNIQUE constraint failed") || pgCode(err) == "23505")
}

// SetVisitDates changes a visit's notification date and fieldwork start.
func (s *Store) SetVisitDates(ctx context.Context, id string, notification, fieldwork time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE visits SET notification_date = ?, fieldwork_start = ? WHERE id = ?`,
		notification.Format(dateFormat), fieldwork.Format(dateFormat), id)
	if err != nil {
		return fmt.Errorf("store: set visit dates: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// RewrapKeys replaces, in one transaction, every live visit key wrapped to
// the master key directly (made before key epochs) with rewrap(old): either
// every such key moves to the new master key or none does. Keys wrapped to
// an epoch are not touched (the epoch keys are re-wrapped instead).
func (s *Store) RewrapKeys(ctx context.Context, rewrap func(visitID string, wrapped []byte) ([]byte, error), audit ...AuditRecord) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *Tx) error {
		all, err := keysWhere(ctx, tx, `epoch IS NULL`)
		if err != nil {
			return err
		}
		for _, r := range all {
			nw, err := rewrap(r.VisitID, r.Wrapped)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE visit_keys SET wrapped = ? WHERE visit_id = ?`, nw, r.VisitID); err != nil {
				return err
			}
			n++
		}
		return nil
	}, audit...)
	if err != nil {
		return 0, fmt.Errorf("store: rewrap keys: %w", err)
	}
	return n, nil
}

// keysWhere lists the live wrapped keys matching cond (a fixed condition).
func keysWhere(ctx context.Context, tx *Tx, cond string, args ...any) ([]VisitKey, error) {
	return queryAll(ctx, tx, func(sc scanner) (VisitKey, error) {
		var k VisitKey
		var epoch sql.NullString
		err := sc.Scan(&k.VisitID, &k.Wrapped, &epoch, &k.Fingerprint)
		k.Epoch = epoch.String
		return k, err
	}, `SELECT visit_id, wrapped, epoch, fingerprint FROM visit_keys WHERE `+cond+` ORDER BY visit_id`, args...)
}
