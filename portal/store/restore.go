package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Restore is a database brought back from a backup. Its row is written
// before the database is put in place and stays pending (FinishedAt zero)
// until every destruction recorded outside the database since the backup
// has been applied again: a portal that finds one pending finishes it
// before it serves, so a crash part-way through a restore never serves a
// visit that was destroyed.
type Restore struct {
	ID              string
	BackupCreatedAt time.Time
	BackupSeq       int64 // the last audit record the backup held
	BackupHash      string
	StartedAt       time.Time
	MarkSeq         int64 // the audit.restored record; 0 until it is appended
	FinishedAt      time.Time
}

// BeginRestore records a restore as pending and ends every session the
// backup held, in one transaction: nobody is signed in to a restored
// portal. The object store may have been brought to acts the backup does
// not hold (a hold lifted since, whose rule would then expire evidence
// the restored database holds): every live visit's expiry rule, and the
// objects' holds of every visit held, are marked unknown, for the
// retention run to bring the store to the database as restored
// (StoreSidesToApply). The holds of a visit not held are left as the
// store has them: a restore never frees evidence.
func (s *Store) BeginRestore(ctx context.Context, r Restore) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE visits SET store_rule = NULL, store_hold = CASE WHEN legal_hold = 1 THEN NULL ELSE store_hold END,
			store_gen = store_gen + 1, store_at = ? WHERE state <> 'destroyed'`, formatTime(r.BackupCreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO restores (id, backup_created_at, backup_seq, backup_hash, started_at) VALUES (?, ?, ?, ?, ?)`,
			r.ID, formatTime(r.BackupCreatedAt), r.BackupSeq, r.BackupHash, formatTime(r.StartedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: begin restore: %w", err)
	}
	return nil
}

// PendingRestore returns the restore not yet finished, or ErrNotFound.
func (s *Store) PendingRestore(ctx context.Context) (Restore, error) {
	var r Restore
	var created, started string
	var mark sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT id, backup_created_at, backup_seq, backup_hash, started_at, mark_seq FROM restores
		WHERE finished_at IS NULL ORDER BY started_at LIMIT 1`).Scan(&r.ID, &created, &r.BackupSeq, &r.BackupHash, &started, &mark)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("store: pending restore: %w", err)
	}
	var d dates
	r.BackupCreatedAt, r.StartedAt, r.MarkSeq = d.time(created), d.time(started), mark.Int64
	return r, d.err
}

// AppendRestoreMark appends rec, the audit.restored record, as the record
// after afterSeq (whose hash is afterHash): when the anchors outside the
// database reach beyond the restored trail, the numbers between are those
// of the lost records, and the trail goes on after the last one anchored,
// linked to its anchored hash. The restore notes the mark in the same
// transaction, so it is appended once.
func (s *Store) AppendRestoreMark(ctx context.Context, restoreID string, afterSeq int64, afterHash string, rec AuditRecord) (int64, error) {
	var seq int64
	err := s.inTx(ctx, func(tx *Tx) error {
		if err := lockAudit(ctx, tx); err != nil {
			return err
		}
		var head int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit`).Scan(&head); err != nil {
			return err
		}
		if afterSeq < head {
			return fmt.Errorf("the trail has records after %d", afterSeq)
		}
		rec.Seq, rec.PrevHash, rec.Format = afterSeq+1, afterHash, AuditFormat
		rec.Time = rec.Time.UTC().Truncate(time.Microsecond)
		rec.Hash = ChainHash(rec)
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit (seq, time, actor_issuer, actor_subject, actor_email, role, visit_id, action, object, outcome, detail, client_ip, user_agent, request_id, prev_hash, hash, format)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			rec.Seq, rec.Time.Format(timeFormat), rec.ActorIssuer, rec.ActorSubject, rec.ActorEmail, rec.Role, rec.VisitID, rec.Action, rec.Object, rec.Outcome, rec.Detail,
			rec.ClientIP, rec.UserAgent, rec.RequestID, rec.PrevHash, rec.Hash, rec.Format); err != nil {
			return err
		}
		seq = rec.Seq
		return execOne(ctx, tx, `UPDATE restores SET mark_seq = ? WHERE id = ? AND mark_seq IS NULL`, seq, restoreID)
	})
	if err != nil {
		return 0, fmt.Errorf("store: restore mark: %w", err)
	}
	if f := s.onAppend.Load(); f != nil {
		(*f)(seq)
	}
	return seq, nil
}

// FinishRestore records that a restore's work is done.
//
// Every visit still live loses its destruction notice, and its approval,
// as the restore finishes: a legal hold set after the backup is not in
// it, and the notice the backup held may have run. The sweep gives the
// notice again, with its period (mailed to the administrators), before it
// destroys anything: time to set the hold again. The destructions the
// restore did again (recorded outside the database) were done first, on
// what their notes outside the database say they were decided on (notes
// that say so), which their certificates name.
func (s *Store) FinishRestore(ctx context.Context, restoreID string, now time.Time, audit ...AuditRecord) error {
	return s.inTx(ctx, func(tx *Tx) error {
		if err := execOne(ctx, tx, `UPDATE restores SET finished_at = ? WHERE id = ? AND finished_at IS NULL`, formatTime(now), restoreID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM destruction_notices WHERE visit_id IN (SELECT id FROM visits WHERE state = 'active')`)
		return err
	}, audit...)
}

// Empty reports whether the database holds no visit and no audit record:
// the only kind a restore goes into unless forced.
func (s *Store) Empty(ctx context.Context) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM visits) + (SELECT COUNT(*) FROM audit)`).Scan(&n); err != nil {
		return false, fmt.Errorf("store: empty: %w", err)
	}
	return n == 0, nil
}

// BackupTo writes a consistent copy of a SQLite database to path, which
// must not exist (VACUUM INTO: one read transaction, so the copy is the
// database as of one moment, while the portal goes on writing), and
// removes the sessions from the copy: a backup holds no one's sign-in.
func (s *Store) BackupTo(ctx context.Context, path string) error {
	if s.db.pg {
		return errors.New("store: BackupTo is for SQLite; PostgreSQL is backed up with pg_dump")
	}
	if _, err := s.db.DB.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	c, err := sql.Open("sqlite", "file:"+path+"?_pragma=secure_delete(ON)")
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `DELETE FROM sessions`); err != nil {
		return fmt.Errorf("store: backup: clear sessions: %w", err)
	}
	return c.Close()
}
