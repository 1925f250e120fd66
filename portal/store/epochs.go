package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Epoch is a key epoch: the period during which new and re-wrapped visit
// keys are wrapped to one epoch key. The key itself is kept outside the
// database (the portal's key bucket); its row says when it was superseded
// by the next epoch, when it may be destroyed (RetireAfter: once backups
// taken before it was superseded have expired) and when it was.
type Epoch struct {
	ID           string
	Recipient    string
	CreatedAt    time.Time
	SupersededAt time.Time
	RetireAfter  time.Time
	RetiredAt    time.Time
}

const epochColumns = `id, recipient, created_at, superseded_at, retire_after, retired_at`

func scanEpoch(sc scanner) (Epoch, error) {
	var e Epoch
	var created string
	var superseded, retire, retired sql.NullString
	if err := sc.Scan(&e.ID, &e.Recipient, &created, &superseded, &retire, &retired); err != nil {
		return e, err
	}
	var d dates
	e.CreatedAt, e.SupersededAt, e.RetireAfter, e.RetiredAt = d.time(created), d.null(superseded), d.null(retire), d.null(retired)
	return e, d.err
}

// CurrentEpoch is the epoch new keys are wrapped to (ErrNotFound: none yet).
func (s *Store) CurrentEpoch(ctx context.Context) (Epoch, error) {
	e, err := scanEpoch(s.db.QueryRowContext(ctx, `SELECT `+epochColumns+` FROM key_epochs WHERE superseded_at IS NULL ORDER BY created_at DESC, id LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return e, ErrNotFound
	}
	if err != nil {
		return e, fmt.Errorf("store: current epoch: %w", err)
	}
	return e, nil
}

// GetEpoch returns one epoch.
func (s *Store) GetEpoch(ctx context.Context, id string) (Epoch, error) {
	e, err := scanEpoch(s.db.QueryRowContext(ctx, `SELECT `+epochColumns+` FROM key_epochs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, ErrNotFound
	}
	if err != nil {
		return e, fmt.Errorf("store: epoch: %w", err)
	}
	return e, nil
}

// Epochs lists every epoch, oldest first.
func (s *Store) Epochs(ctx context.Context) ([]Epoch, error) {
	out, err := queryAll(ctx, s.db, scanEpoch, `SELECT `+epochColumns+` FROM key_epochs ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: epochs: %w", err)
	}
	return out, nil
}

// StartEpoch makes e the current epoch, in one transaction: every live visit
// key not already in e is re-wrapped to it (rewrap gets the key as stored),
// and every earlier epoch still current is superseded now and may be
// destroyed from retireAfter. It returns how many keys moved.
func (s *Store) StartEpoch(ctx context.Context, e Epoch, retireAfter time.Time, rewrap func(k VisitKey) ([]byte, error), audit ...AuditRecord) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO key_epochs (id, recipient, created_at) VALUES (?, ?, ?)`, e.ID, e.Recipient, formatTime(e.CreatedAt)); err != nil {
			return err
		}
		// A key wrapped to the master key is taken in by the first epoch
		// only: once epochs began, one was not written by the portal
		// (the master key binds nothing, and its recipient is public).
		// It is left, refused where it is read (KeysOutsideEpochs names
		// it), and blocks no rotation, nor the destructions that start
		// epochs.
		var err error
		if n, err = rewrapKeys(ctx, tx, e.ID, rewrap, `epoch IS NULL AND NOT EXISTS (SELECT 1 FROM key_epochs WHERE id != ?) OR epoch != ?`, e.ID, e.ID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE key_epochs SET superseded_at = ?, retire_after = ? WHERE id != ? AND superseded_at IS NULL`,
			formatTime(e.CreatedAt), formatTime(retireAfter), e.ID)
		return err
	}, audit...)
	if err != nil {
		return 0, fmt.Errorf("store: start key epoch: %w", err)
	}
	return n, nil
}

// KeysInEpoch counts the live visit keys wrapped to an epoch.
func (s *Store) KeysInEpoch(ctx context.Context, id string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM visit_keys WHERE epoch = ?`, id).Scan(&n)
	return n, err
}

// BringEpochForward gives superseded epoch e, as read, the earlier times
// a restore found outside the database: when it was superseded and from
// when its key may be destroyed. Nothing changes when e was retired, or
// changed, since it was read; it says whether it changed.
func (s *Store) BringEpochForward(ctx context.Context, e Epoch, superseded, retireAfter time.Time, audit ...AuditRecord) (bool, error) {
	changed := false
	err := s.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE key_epochs SET superseded_at = ?, retire_after = ?
			WHERE id = ? AND retired_at IS NULL AND superseded_at = ? AND retire_after = ?`,
			formatTime(superseded), formatTime(retireAfter), e.ID, formatTime(e.SupersededAt), formatTime(e.RetireAfter))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if changed = n == 1; !changed {
			return errUnchanged
		}
		return nil
	}, audit...)
	if errors.Is(err, errUnchanged) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: bring key epoch %s forward: %w", e.ID, err)
	}
	return changed, nil
}

// errUnchanged rolls back a transaction whose statement changed nothing
// (so that its audit records are not written).
var errUnchanged = errors.New("store: nothing changed")

// RetireEpoch records that an epoch's key has been destroyed, with its
// audit records; an epoch already retired (by another instance) is left
// as it is, and they are not written.
func (s *Store) RetireEpoch(ctx context.Context, id string, now time.Time, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE key_epochs SET retired_at = ? WHERE id = ? AND retired_at IS NULL`, formatTime(now), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errUnchanged
		}
		return nil
	}, audit...)
	if errors.Is(err, errUnchanged) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: retire key epoch %s: %w", id, err)
	}
	return nil
}

// EpochsDue lists the superseded, unretired epochs whose key may now be
// destroyed.
func (s *Store) EpochsDue(ctx context.Context, now time.Time) ([]Epoch, error) {
	out, err := queryAll(ctx, s.db, scanEpoch, `SELECT `+epochColumns+` FROM key_epochs
		WHERE superseded_at IS NOT NULL AND retired_at IS NULL AND retire_after <= ? ORDER BY created_at, id`, formatTime(now))
	if err != nil {
		return nil, fmt.Errorf("store: epochs due: %w", err)
	}
	return out, nil
}

// MoveEpochKeys re-wraps, in one transaction, every live key still wrapped
// to epoch from (a visit created while the epoch moved) to epoch to.
func (s *Store) MoveEpochKeys(ctx context.Context, from, to string, rewrap func(k VisitKey) ([]byte, error)) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *Tx) error {
		var err error
		n, err = rewrapKeys(ctx, tx, to, rewrap, `epoch = ?`, from)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: move keys off epoch %s: %w", from, err)
	}
	return n, nil
}

// rewrapKeys re-wraps, in tx, the live keys that where (with args) selects
// to epoch to, each only if it is still wrapped as it was read.
//
// The key of a destroyed visit is never re-wrapped: its row was deleted
// when the visit was destroyed (or its destruction deleted it, and goes
// on), and one there now was put back (from a
// copy of the database) by someone writing to it. Moved, it would outlive
// the epoch whose retirement the visit's certificate promises; left, it
// goes with that epoch's key (DestroyedVisitKeys names it).
func rewrapKeys(ctx context.Context, tx *Tx, to string, rewrap func(k VisitKey) ([]byte, error), where string, args ...any) (int, error) {
	keys, err := keysWhere(ctx, tx, `visit_id NOT IN (`+keyDeletedVisits+`) AND (`+where+`)`, args...)
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		nw, err := rewrap(k)
		if err != nil {
			return 0, fmt.Errorf("visit %s: %w", k.VisitID, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE visit_keys SET wrapped = ?, epoch = ? WHERE visit_id = ? AND wrapped = ?`, nw, to, k.VisitID, k.Wrapped); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// keyDeletedVisits selects the visits whose key the portal deleted: those
// destroyed, and those whose destruction deleted the key row (DeleteKey
// keeps its probe until VerifyKeyGone records it gone) while the rest of
// it goes on.
const keyDeletedVisits = `SELECT id FROM visits WHERE state = 'destroyed'
	UNION SELECT visit_id FROM destructions WHERE key_probe IS NOT NULL OR key_destroyed_at IS NOT NULL`

// DestroyedVisitKeys lists the visits destroyed whose key row is stored
// again: put back from a copy of the database, never by the portal.
func (s *Store) DestroyedVisitKeys(ctx context.Context) ([]string, error) {
	out, err := queryAll(ctx, s.db, func(sc scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	}, `SELECT visit_id FROM visit_keys WHERE visit_id IN (`+keyDeletedVisits+`) ORDER BY visit_id`)
	if err != nil {
		return nil, fmt.Errorf("store: keys of destroyed visits: %w", err)
	}
	return out, nil
}

// KeysOutsideEpochs lists the visits whose key is wrapped to the master key
// (epoch NULL) though key epochs began: not written by the portal.
func (s *Store) KeysOutsideEpochs(ctx context.Context) ([]string, error) {
	out, err := queryAll(ctx, s.db, func(sc scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	}, `SELECT visit_id FROM visit_keys WHERE epoch IS NULL AND EXISTS (SELECT 1 FROM key_epochs) ORDER BY visit_id`)
	if err != nil {
		return nil, fmt.Errorf("store: keys outside the epochs: %w", err)
	}
	return out, nil
}
