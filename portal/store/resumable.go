package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Resumable is an upload sent in pieces (tus). Its segments are committed
// one by one: SegmentsDone segments of SegmentSize plaintext bytes are
// stored, and HashState is the SHA-256 state after them, so the upload can
// resume from there after a dropped connection or a restart.
type Resumable struct {
	ID           string
	VisitID      string
	FileID       string // the file it becomes; its objects are named after it
	CreatedBy    string
	NameSealed   []byte
	Item         string
	Length       int64
	SegmentSize  int64
	SegmentsDone int
	HashState    []byte
	SegmentMACs  []byte // of the committed segments, in order
	CreatedAt    time.Time
	ExpiresAt    time.Time
	CompletedAt  time.Time // zero until the file is committed
	// ActiveAt is when its last segment was committed, or it began; zero
	// when not written since before the store kept it (then its expiry,
	// less PORTAL_UPLOAD_EXPIRY, is the best there is).
	ActiveAt time.Time
	// MemberID is the membership it was begun under: it is finished
	// under that one only. Empty when begun before the store kept it.
	MemberID string
}

// Offset is how many plaintext bytes are committed.
func (r Resumable) Offset() int64 { return min(int64(r.SegmentsDone)*r.SegmentSize, r.Length) }

// Segments is how many segments the finished file has.
func (r Resumable) Segments() int {
	if r.Length == 0 {
		return 1
	}
	return int((r.Length + r.SegmentSize - 1) / r.SegmentSize)
}

const resumableColumns = `id, visit_id, file_id, created_by, name_sealed, item, length, segment_size, segments_done, hash_state, created_at, expires_at, completed_at, segment_macs, active_at, COALESCE(member_id, '')`

func scanResumable(sc scanner) (Resumable, error) {
	var r Resumable
	var created, expires string
	var completed, active sql.NullString
	if err := sc.Scan(&r.ID, &r.VisitID, &r.FileID, &r.CreatedBy, &r.NameSealed, &r.Item, &r.Length, &r.SegmentSize,
		&r.SegmentsDone, &r.HashState, &created, &expires, &completed, &r.SegmentMACs, &active, &r.MemberID); err != nil {
		return Resumable{}, err
	}
	var d dates
	r.CreatedAt, r.ExpiresAt, r.CompletedAt, r.ActiveAt = d.time(created), d.time(expires), d.null(completed), d.null(active)
	return r, d.err
}

// CreateResumable records a new resumable upload, with its pending record
// (so its objects are cleaned up if it is abandoned) and audit records.
func (s *Store) CreateResumable(ctx context.Context, r Resumable, audit ...AuditRecord) error {
	return s.CreateResumableWithin(ctx, r, OpenBound{}, audit...)
}

// OpenBound is how many unfinished resumable uploads of a visit one person
// may have, and how many bytes their declared lengths may add up to, with
// the new one (zero: no bound).
type OpenBound struct {
	Uploads int
	Bytes   int64
}

// ErrNameLost refuses a resumable upload whose name reservation is gone:
// swept as abandoned (SweepNames) before the upload began.
var ErrNameLost = errors.New("store: the upload's name was freed before it began")

// ErrTooManyUploads refuses a resumable upload past its person's
// OpenBound.
var ErrTooManyUploads = errors.New("store: too many unfinished uploads")

// CreateResumableWithin is CreateResumable within bound: the person's
// unfinished uploads of the visit are counted in the transaction that
// records the new one, their person's row held (PostgreSQL; SQLite's
// write transactions hold the database), so uploads created at once are
// counted with each other: ErrTooManyUploads past it.
func (s *Store) CreateResumableWithin(ctx context.Context, r Resumable, bound OpenBound, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if bound != (OpenBound{}) {
			var id string
			if err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE id = ?`+tx.h.forUpdate(), r.CreatedBy).Scan(&id); err != nil {
				return err
			}
			var n int
			var bytes int64
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(length), 0) FROM resumable_uploads
				WHERE visit_id = ? AND created_by = ? AND completed_at IS NULL`, r.VisitID, r.CreatedBy).Scan(&n, &bytes); err != nil {
				return err
			}
			if n >= bound.Uploads || bytes+r.Length > bound.Bytes {
				return ErrTooManyUploads
			}
		}
		// The name reserved for the upload (ReserveName, or a new
		// version's ReserveReplacement) must still be its own: the
		// janitor frees one whose upload has not begun after a while
		// (SweepNames), and the upload may have waited longer than that
		// for room. The row is written, not only read, so that a sweep
		// that chose it before this commits finds it changed, and
		// leaves it (SweepNames takes each name again, under lock).
		res, err := tx.ExecContext(ctx, `UPDATE file_names SET created_at = ? WHERE file_id = ?`, formatTime(r.CreatedAt), r.FileID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, ErrNameLost)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO resumable_uploads (id, visit_id, file_id, created_by, name_sealed, item, length, segment_size, segments_done,
			hash_state, created_at, expires_at, completed_at, segment_macs, active_at, member_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`,
			r.ID, r.VisitID, r.FileID, r.CreatedBy, r.NameSealed, r.Item, r.Length, r.SegmentSize, r.SegmentsDone, r.HashState,
			formatTime(r.CreatedAt), formatTime(r.ExpiresAt), []byte{}, formatTime(r.CreatedAt), nullString(r.MemberID)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO pending_uploads (file_id, visit_id, uploaded_by, started_at, touched_at) VALUES (?, ?, ?, ?, ?)`,
			r.FileID, r.VisitID, r.CreatedBy, formatTime(r.CreatedAt), formatTime(r.CreatedAt))
		return err
	}, audit...)
	if err != nil {
		return fmt.Errorf("store: create resumable upload: %w", err)
	}
	return nil
}

// Resumable returns one resumable upload of a visit.
func (s *Store) Resumable(ctx context.Context, visitID, id string) (Resumable, error) {
	r, err := scanResumable(s.db.QueryRowContext(ctx, `SELECT `+resumableColumns+` FROM resumable_uploads WHERE visit_id = ? AND id = ?`, visitID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Resumable{}, ErrNotFound
	}
	if err != nil {
		return Resumable{}, fmt.Errorf("store: resumable upload: %w", err)
	}
	return r, nil
}

// CommitSegment records that segment done-1 is stored at now, with the
// header MACs of the segments so far and the hash state after it. It fails
// with ErrConflict unless the upload was at done-1 (another request
// committed that segment first). The pending record needs no touch: an
// unfinished resumable upload is left to its own expiry, which moves on
// to expires unless it is later already.
func (s *Store) CommitSegment(ctx context.Context, id string, done int, hashState, macs []byte, expires, now time.Time) error {
	exp := formatTime(expires)
	res, err := s.db.ExecContext(ctx, `UPDATE resumable_uploads SET segments_done = ?, hash_state = ?, segment_macs = ?,
		expires_at = CASE WHEN expires_at < ? THEN ? ELSE expires_at END, active_at = ?
		WHERE id = ? AND segments_done = ? AND completed_at IS NULL`,
		done, hashState, macs, exp, exp, formatTime(now), id, done-1)
	if err != nil {
		return fmt.Errorf("store: commit segment: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrConflict
	}
	return nil
}

// CompleteResumable commits the last segment of a resumable upload (as
// CommitSegment: done, the hash state and MACs after it) and the file the
// upload became, and marks the upload complete, in one transaction with
// its audit records: a completion that fails (a legal hold set since a
// new version began, a busy database) leaves the last segment to be sent
// again, never an upload whose offset says it is all there with no file.
// When the file replaces one, replaced makes the records of that.
func (s *Store) CompleteResumable(ctx context.Context, id string, done int, hashState, macs []byte, f File, now time.Time, replaced ReplacedRecords, audit ...AuditRecord) error {
	err := s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		res, err := tx.ExecContext(ctx, `UPDATE resumable_uploads SET segments_done = ?, hash_state = ?, segment_macs = ?, completed_at = ?
			WHERE id = ? AND segments_done = ? AND completed_at IS NULL`, done, hashState, macs, formatTime(now), id, done-1)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil, ErrConflict
		}
		if _, err := insertFile(ctx, tx, f); err != nil {
			return nil, err
		}
		recs, err := supersede(ctx, tx, f, replaced)
		if err != nil {
			return nil, err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM pending_uploads WHERE file_id = ?`, f.ID)
		return append(audit, recs...), err
	})
	if err != nil {
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrOnHold) || errors.Is(err, ErrMovedSince) || errors.Is(err, ErrReplacedGone) || errors.Is(err, ErrNotRequested) {
			return err
		}
		return fmt.Errorf("store: complete resumable upload: %w", err)
	}
	return nil
}

// AbandonResumable forgets an unfinished resumable upload (terminated or
// expired), with its audit records, before its objects are removed: its
// pending record stays, marked failed, until the caller has removed them
// (EndUpload), or for the janitor should that fail. It fails with
// ErrConflict, changing nothing, once the upload is complete: the objects
// are the file's. Once it is gone no segment of it can be committed
// (CommitSegment, CompleteResumable), so no file can come to need the
// objects being removed.
//
// The caller holds the upload's lease as holder and decided on it with
// done segments committed; the upload is abandoned only if both still
// hold, and ErrLeaseLost, changing nothing, if not: a caller paused past
// its lease must not give up an upload its owner has taken back and
// written since.
func (s *Store) AbandonResumable(ctx context.Context, id, holder string, done int, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		var fileID string
		var completed, held sql.NullString
		var segments int
		err := tx.QueryRowContext(ctx, `SELECT file_id, completed_at, lock_holder, segments_done FROM resumable_uploads WHERE id = ?`, id).Scan(&fileID, &completed, &held, &segments)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if completed.Valid {
			return ErrConflict
		}
		if held.String != holder || segments != done {
			return ErrLeaseLost
		}
		// A new version abandoned: its name goes back to the file.
		if err := giveBackName(ctx, tx, fileID); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM resumable_uploads WHERE id = ? AND completed_at IS NULL AND lock_holder = ? AND segments_done = ?`, id, holder, done)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrLeaseLost
		}
		_, err = tx.ExecContext(ctx, `UPDATE pending_uploads SET kind = 'failed' WHERE file_id = ?`, fileID)
		return err
	}, audit...)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrLeaseLost) {
		return fmt.Errorf("store: abandon resumable upload: %w", err)
	}
	return err
}

// OpenResumables counts userID's unfinished resumable uploads of a visit,
// and the bytes they declared (by index: resumable_uploads_open).
func (s *Store) OpenResumables(ctx context.Context, visitID, userID string) (int, int64, error) {
	var n int
	var bytes int64
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(length), 0) FROM resumable_uploads
		WHERE visit_id = ? AND created_by = ? AND completed_at IS NULL`, visitID, userID).Scan(&n, &bytes)
	if err != nil {
		return 0, 0, fmt.Errorf("store: unfinished resumable uploads: %w", err)
	}
	return n, bytes, nil
}

// OldestOpenResumables lists up to limit of userID's unfinished
// resumable uploads of a visit, oldest first.
func (s *Store) OldestOpenResumables(ctx context.Context, visitID, userID string, limit int) ([]Resumable, error) {
	out, err := queryAll(ctx, s.db, scanResumable, `SELECT `+resumableColumns+` FROM resumable_uploads
		WHERE visit_id = ? AND created_by = ? AND completed_at IS NULL ORDER BY created_at, id LIMIT ?`, visitID, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: oldest unfinished resumable uploads: %w", err)
	}
	return out, nil
}

// ForgetResumable forgets a complete resumable upload past its expiry (its
// objects are the file's, and stay). It fails with ErrNotFound unless the
// upload is there and complete.
func (s *Store) ForgetResumable(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM resumable_uploads WHERE id = ? AND completed_at IS NOT NULL`, id)
	if err != nil {
		return fmt.Errorf("store: forget resumable upload: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrNotFound
	}
	return nil
}

// DropUnfinishedUploads forgets every unfinished resumable upload, with
// its pending record, in one transaction, and returns how many: a
// restore's, before the portal serves the restored database. Their names
// go back to the files they were to replace (the pending records'
// triggers); their objects stay in the bucket, unlisted, as those of
// every upload since the backup do.
//
// Only while a restore is pending, when the portal serves no one: a
// process finishing a restore another finished meanwhile (it paused past
// the restore's lease) must not drop the uploads people have begun since.
func (s *Store) DropUnfinishedUploads(ctx context.Context) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *Tx) error {
		// Held until this commits: on PostgreSQL a restore finished by
		// another process meanwhile waits for the drop, never follows it.
		var pending string
		err := tx.QueryRowContext(ctx, `SELECT id FROM restores WHERE finished_at IS NULL LIMIT 1`+tx.h.forUpdate()).Scan(&pending)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending_uploads WHERE file_id IN (SELECT file_id FROM resumable_uploads WHERE completed_at IS NULL)`); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM resumable_uploads WHERE completed_at IS NULL`)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: drop unfinished uploads: %w", err)
	}
	return int(n), nil
}

// ExpiredResumables lists resumable uploads whose expiry has passed.
func (s *Store) ExpiredResumables(ctx context.Context, now time.Time) ([]Resumable, error) {
	out, err := queryAll(ctx, s.db, scanResumable, `SELECT `+resumableColumns+` FROM resumable_uploads WHERE expires_at <= ?`, formatTime(now))
	if err != nil {
		return nil, fmt.Errorf("store: expired resumable uploads: %w", err)
	}
	return out, nil
}

// ResumablesOfFormerMembers lists the unfinished resumable uploads whose
// uploader is no longer a member of their visit (removed), or no longer
// under the membership they were begun under (removed, then added
// again), whatever their expiry.
func (s *Store) ResumablesOfFormerMembers(ctx context.Context) ([]Resumable, error) {
	out, err := queryAll(ctx, s.db, scanResumable, `SELECT `+resumableColumns+` FROM resumable_uploads
		WHERE completed_at IS NULL AND NOT EXISTS (
			SELECT 1 FROM members WHERE members.visit_id = resumable_uploads.visit_id AND members.user_id = resumable_uploads.created_by
			AND (resumable_uploads.member_id IS NULL OR members.id = resumable_uploads.member_id))`)
	if err != nil {
		return nil, fmt.Errorf("store: resumable uploads of former members: %w", err)
	}
	return out, nil
}

// LockResumable takes (or, for the same holder, renews) the lease that lets
// one request at a time write an upload, whichever instance it reached, until
// until; it reports false when another holder's lease has not run out.
func (s *Store) LockResumable(ctx context.Context, id, holder string, now, until time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE resumable_uploads SET lock_holder = ?, lock_until = ?
		WHERE id = ? AND (lock_holder IS NULL OR lock_holder = ? OR lock_until < ?)`,
		holder, formatTime(until), id, holder, formatTime(now))
	if err != nil {
		return false, fmt.Errorf("store: lock upload: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RenewResumable extends holder's lease on upload id to until, only while
// holder holds it: a lease another request took, and perhaps gave up
// since, is not taken again (KeepLease: the request stops).
func (s *Store) RenewResumable(ctx context.Context, id, holder string, until time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE resumable_uploads SET lock_until = ? WHERE id = ? AND lock_holder = ?`, formatTime(until), id, holder)
	if err != nil {
		return false, fmt.Errorf("store: renew upload lease: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// FenceResumable renews holder's lease on upload id until until, only if
// holder still holds it and the upload still has done segments committed
// and is not complete; it reports whether it did. A request writing
// segment done+1 asks it before the segment's last bytes go to the object
// store: a request that lost the lease (its process paused past it) and
// runs again must not complete an object another request has since
// stored and committed under the same key. Renewed, the lease is the
// request's for a whole term, long enough for those bytes to land.
func (s *Store) FenceResumable(ctx context.Context, id, holder string, done int, until time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE resumable_uploads SET lock_until = ?
		WHERE id = ? AND lock_holder = ? AND segments_done = ? AND completed_at IS NULL`,
		formatTime(until), id, holder, done)
	if err != nil {
		return false, fmt.Errorf("store: fence upload: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// UnlockResumable gives the lease up (only its holder can).
func (s *Store) UnlockResumable(ctx context.Context, id, holder string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE resumable_uploads SET lock_holder = NULL, lock_until = NULL WHERE id = ? AND lock_holder = ?`, id, holder)
	return err
}
