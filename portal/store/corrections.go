package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Corrections to evidence: withdrawn files, new versions, complete items
// and purged files. Nothing the inspection team has downloaded disappears:
// a withdrawn or superseded file keeps its row and its objects; only a
// purge (an administrator from outside the visit) removes a file the team
// may have seen, and its row then keeps its digest and size.

// RecordDownload writes the records of a download of files (one file, or
// a zip's), in one transaction with the first download by the inspection
// team of each file in team, only while every one of files is still the
// visit's: ErrNotFound, and nothing written, when one was deleted or
// purged since the download was allowed. A deletion racing the team's
// first download is decided by the row: the mark waits for a deletion
// under way and then finds no row, or the deletion waits for the mark and
// then finds a file the team has downloaded (it withdraws it). A file
// already marked, or read by the provider's staff, is only looked for:
// deleted a moment later, it was downloaded before its deletion.
func (s *Store) RecordDownload(ctx context.Context, visitID string, files, team []string, now time.Time, audit ...AuditRecord) error {
	list, err := json.Marshal(files)
	if err != nil {
		return err
	}
	teamList, err := json.Marshal(team)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx *Tx) error {
		// One statement marks them all: on PostgreSQL it holds each
		// file's row before its trigger (run at the statement's end)
		// takes the visit's, as a withdrawal or deletion of one file
		// does. Marked one statement each, the first trigger held the
		// visit's row while the next file's was still to take, and a
		// withdrawal of that file, holding it and waiting for the
		// visit's, deadlocked with it.
		if len(team) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE files SET team_downloaded_at = ? WHERE visit_id = ? AND team_downloaded_at IS NULL AND `+s.inIDs("id"),
				formatTime(now), visitID, string(teamList)); err != nil {
				return err
			}
		}
		// Counted after the marks, which waited for a deletion under
		// way: a file gone since the download was allowed is not
		// found, and nothing is written.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM files WHERE visit_id = ? AND `+s.inIDs("id"), visitID, string(list)).Scan(&n); err != nil {
			return err
		}
		if n != len(files) {
			return ErrNotFound
		}
		return nil
	}, audit...)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: record download: %w", err)
	}
	return err
}

// WithdrawFile marks a live file withdrawn and frees its name in its item
// (a corrected file may take it), with its audit records. ErrNotFound when
// the file is gone or no longer live.
func (s *Store) WithdrawFile(ctx context.Context, visitID, fileID, by string, now time.Time, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if err := execOne(ctx, tx, `UPDATE files SET withdrawn_at = ?, withdrawn_by = ? WHERE visit_id = ? AND id = ?
			AND withdrawn_at IS NULL AND superseded_by IS NULL`, formatTime(now), by, visitID, fileID); err != nil {
			return err
		}
		if err := refuseOnHold(ctx, tx, visitID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM file_names WHERE file_id = ?`, fileID)
		return err
	}, audit...)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrOnHold) {
		return fmt.Errorf("store: withdraw file: %w", err)
	}
	return err
}

// ReserveReplacement takes over the name of the live file oldID for a new
// version newID, and records that newID replaces it: when newID is
// committed, oldID becomes superseded (supersede). ErrNotFound when oldID
// is not live. It writes no audit record: nothing is replaced until the
// version is committed, and the record is written then.
func (s *Store) ReserveReplacement(ctx context.Context, visitID, oldID, newID string, now time.Time) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		var item string
		var index []byte
		var keyVersion int
		err := tx.QueryRowContext(ctx, `SELECT n.item, n.name_index FROM file_names n JOIN files f ON f.id = n.file_id
			WHERE n.visit_id = ? AND n.file_id = ? AND f.withdrawn_at IS NULL AND f.superseded_by IS NULL`, visitID, oldID).Scan(&item, &index)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		// Two new versions reserved at once (PostgreSQL, READ
		// COMMITTED) both read the name above; the second's delete
		// waits for the first and then finds the name taken over: it
		// is not live for this one, rather than a second holder of the
		// name refused by the unique index. The item is the one the
		// delete found: a refile committed while it waited moved the
		// row, and the version's name goes with the file.
		err = tx.QueryRowContext(ctx, `DELETE FROM file_names WHERE file_id = ? RETURNING item, name_index, key_version`, oldID).Scan(&item, &index, &keyVersion)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		// The name moves under the key it is held by: one of an earlier
		// version is keyed again where it is (StaleNames).
		if _, err := tx.ExecContext(ctx, `INSERT INTO file_names (file_id, visit_id, item, name_index, created_at, key_version) VALUES (?, ?, ?, ?, ?, ?)`,
			newID, visitID, item, index, formatTime(now), keyVersion); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO file_replacements (new_file_id, old_file_id, visit_id) VALUES (?, ?, ?)`, newID, oldID, visitID); err != nil {
			return err
		}
		return refuseOnHold(ctx, tx, visitID)
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: reserve replacement: %w", err)
	}
	return err
}

// ReplacedFile is the file a version being uploaded (newID) is to
// replace, "" for none.
func (s *Store) ReplacedFile(ctx context.Context, newID string) (string, error) {
	var old string
	err := s.db.QueryRowContext(ctx, `SELECT old_file_id FROM file_replacements WHERE new_file_id = ?`, newID).Scan(&old)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: replaced file: %w", err)
	}
	return old, nil
}

// NameHolder is the file holding a name index in an item: ErrNotFound
// when none does, or an upload in progress does (NameUploader).
func (s *Store) NameHolder(ctx context.Context, visitID, item string, index []byte) (File, error) {
	f, err := scanFile(s.db.QueryRowContext(ctx, `SELECT `+fileColumns+` FROM files
		WHERE visit_id = ? AND id = (SELECT file_id FROM file_names WHERE visit_id = ? AND item = ? AND name_index = ?)`, visitID, visitID, item, index))
	if errors.Is(err, sql.ErrNoRows) {
		return File{}, ErrNotFound
	}
	if err != nil {
		return File{}, fmt.Errorf("store: name holder: %w", err)
	}
	return f, nil
}

// NameUploader is who is sending the upload in progress, plain or
// resumable, that holds a name index in an item: "" when no upload does,
// or its uploader is not known (one begun before uploaders were recorded
// with it, or whose name is reserved and which has not yet begun).
func (s *Store) NameUploader(ctx context.Context, visitID, item string, index []byte) (string, error) {
	var by string
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(p.uploaded_by, r.created_by, '') FROM file_names n
		LEFT JOIN pending_uploads p ON p.file_id = n.file_id
		LEFT JOIN resumable_uploads r ON r.file_id = n.file_id AND r.completed_at IS NULL
		WHERE n.visit_id = ? AND n.item = ? AND n.name_index = ?`, visitID, item, index).Scan(&by)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: name uploader: %w", err)
	}
	return by, nil
}

// ErrMovedSince refuses a new version of a file moved to another item
// since the version began: nothing is committed.
var ErrMovedSince = errors.New("store: the file was moved to another item since its new version began")

// ErrReplacedGone refuses a new version of a file deleted (for good, or
// withdrawn: kept, and shown to the team as withdrawn) or replaced by
// another version since the version began: nothing is committed.
var ErrReplacedGone = errors.New("store: the file a new version replaces was deleted or replaced since it began")

// supersedeFile marks the file that the new version (? three times: the
// new file, the time, the new file again) replaces, and returns its id,
// digest and item. The replaced file is found by key (= one row of the
// replacements, at most), so no planner can choose to read every file for
// it: written as IN (SELECT ...), PostgreSQL planned a scan of all files
// when its statistics were those of a young table, and kept the plan
// while the table grew.
const supersedeFile = `UPDATE files SET superseded_by = ?, superseded_at = ?
	WHERE id = (SELECT old_file_id FROM file_replacements WHERE new_file_id = ?) AND superseded_by IS NULL AND withdrawn_at IS NULL
	RETURNING id, sha256, item`

// ReplacedRecords makes the audit records of a file that a committed
// version replaced (its id, digest and item): they are written in the
// transaction that commits the version, so the trail says a file was
// replaced only once it was.
type ReplacedRecords func(oldID, sha256, item string) []AuditRecord

// supersede marks the file a newly committed version replaces, in the
// commit's transaction, and returns the records replaced makes of it
// (none when the version replaces no file, or replaced is nil).
func supersede(ctx context.Context, tx *Tx, f File, replaced ReplacedRecords) ([]AuditRecord, error) {
	var oldID, sum, item string
	err := tx.QueryRowContext(ctx, supersedeFile, f.ID, formatTime(f.UploadedAt), f.ID).Scan(&oldID, &sum, &item)
	var recs []AuditRecord
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		// A new version may have streamed for minutes since its
		// replacement was allowed; a hold set since then keeps the file
		// as it was, and refuses the version. So does a move of the file
		// to another item (into the restricted child-level data, say):
		// the version, filed under the item the upload began with, would
		// bring its content back out.
		if item != f.Item {
			return nil, ErrMovedSince
		}
		if err := refuseOnHold(ctx, tx, f.VisitID); err != nil {
			return nil, err
		}
		if replaced != nil {
			recs = replaced(oldID, sum, item)
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM file_replacements WHERE new_file_id = ?`, f.ID)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n > 0 && oldID == "" {
		// A version of a file no longer current (deleted, withdrawn or
		// replaced since): found without a statement more for the
		// uploads that replace nothing.
		return nil, ErrReplacedGone
	}
	return recs, nil
}

// CompleteItem marks an item of the information request complete (or, with
// a zero at, not complete), with its audit records. An item already as
// asked is left as it is, without the records: a second mark would move
// when, and by whom, the item was completed (complete on its due date,
// read as completed days after it).
func (s *Store) CompleteItem(ctx context.Context, visitID, code, by string, at time.Time, audit ...AuditRecord) error {
	var who any
	now := `completed_at IS NOT NULL`
	if !at.IsZero() {
		who, now = by, `completed_at IS NULL`
	}
	err := s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		res, err := tx.ExecContext(ctx, `UPDATE request_items SET completed_at = ?, completed_by = ? WHERE visit_id = ? AND code = ? AND `+now,
			nullTime(at), who, visitID, code)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return audit, nil
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM request_items WHERE visit_id = ? AND code = ?`, visitID, code).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: complete item: %w", err)
	}
	return err
}

// PurgedFile is what stays of a purged file: never its name or content.
type PurgedFile struct {
	FileID, VisitID, Item string
	Size                  int64
	SHA256                string
	UploadedBy            string
	UploadedAt            time.Time
	PurgedBy              string
	PurgedAt              time.Time
	ReasonSealed          []byte // under the visit key
	// Lists reports whether a batch receipt issued to the uploader lists
	// the file (they are sealed: only the portal reads them). Those that
	// do go with it, as do the upload's own receipt and the threads on
	// the file. It is asked in the purge's transaction, with the visit's
	// row held, so a batch receipt issued meanwhile (AddReceipt) is
	// either asked about or refused.
	Lists func(Receipt) (bool, error)
	// Again says the purge is one recorded before, applied again after a
	// restore: it was decided, and done, already, so a legal hold the
	// restored database holds does not stop it.
	Again bool
	// Earlier is the name of the version the file superseded, current
	// again once it is purged (reinstateEarlier).
	Earlier EarlierName
}

// PurgeFile moves a file's row to purged_files and records its objects as
// pending removal, in one transaction with its audit records (and so the
// notifications they call for). ErrNotFound when the file is gone.
func (s *Store) PurgeFile(ctx context.Context, p PurgedFile, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if err := reinstateEarlier(ctx, tx, p.VisitID, p.FileID, p.Earlier, p.PurgedAt); err != nil {
			return err
		}
		if err := execOne(ctx, tx, `DELETE FROM files WHERE visit_id = ? AND id = ?`, p.VisitID, p.FileID); err != nil {
			return err
		}
		if !p.Again {
			if err := refuseOnHold(ctx, tx, p.VisitID); err != nil {
				return err
			}
		}
		// A purge's note outside the database is written once this
		// commits (a purge applied again has its note already): pending
		// until then, so that one not written is written later
		// (PurgeNotesPending).
		pending := 1
		if p.Again {
			pending = 0
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO purged_files (file_id, visit_id, item, size, sha256, uploaded_by, uploaded_at, purged_by, purged_at, reason_sealed, note_pending)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, p.FileID, p.VisitID, p.Item, p.Size, p.SHA256, p.UploadedBy, formatTime(p.UploadedAt), p.PurgedBy,
			formatTime(p.PurgedAt), p.ReasonSealed, pending); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO pending_uploads (file_id, visit_id, kind, started_at, touched_at) VALUES (?, ?, 'deleted', ?, ?)`,
			p.FileID, p.VisitID, formatTime(p.PurgedAt), formatTime(time.Time{})); err != nil {
			return err
		}
		return forgetPurged(ctx, tx, p)
	}, audit...)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrOnHold) {
		return fmt.Errorf("store: purge file: %w", err)
	}
	return err
}

// forgetPurged removes what named or discussed a purged file: the receipt
// of its upload, the batch receipts that list it, and the threads on it
// with their posts. What stays of the file is purged_files' row.
func forgetPurged(ctx context.Context, tx *Tx, p PurgedFile) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM receipts WHERE visit_id = ? AND upload_of = ?`, p.VisitID, p.FileID); err != nil {
		return err
	}
	batches, err := queryAll(ctx, tx, scanReceipt, `SELECT `+receiptColumns+` FROM receipts WHERE visit_id = ? AND issued_to = ? AND kind = 'batch'`,
		p.VisitID, p.UploadedBy)
	if err != nil {
		return err
	}
	for _, r := range batches {
		listed := true // not asked: it goes, rather than the name stay
		if p.Lists != nil {
			if listed, err = p.Lists(r); err != nil {
				return err
			}
		}
		if listed {
			if err := execOne(ctx, tx, `DELETE FROM receipts WHERE visit_id = ? AND id = ?`, p.VisitID, r.ID); err != nil {
				return err
			}
		}
	}
	return forgetThreadsOn(ctx, tx, p.VisitID, p.FileID)
}

// forgetThreadsOn removes the threads on a file that is no longer the
// visit's (deleted or purged), with their posts: a thread is seen by
// those who may see its file, so nobody could read them again.
func forgetThreadsOn(ctx context.Context, tx *Tx, visitID, fileID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM question_posts WHERE visit_id = ? AND question_id IN (SELECT id FROM questions WHERE visit_id = ? AND file_id = ?)`,
		visitID, visitID, fileID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM questions WHERE visit_id = ? AND file_id = ?`, visitID, fileID)
	return err
}

const purgedColumns = `file_id, visit_id, item, size, sha256, uploaded_by, uploaded_at, purged_by, purged_at, reason_sealed`

func scanPurged(sc scanner) (PurgedFile, error) {
	var p PurgedFile
	var up, at string
	if err := sc.Scan(&p.FileID, &p.VisitID, &p.Item, &p.Size, &p.SHA256, &p.UploadedBy, &up, &p.PurgedBy, &at, &p.ReasonSealed); err != nil {
		return p, err
	}
	var d dates
	p.UploadedAt, p.PurgedAt = d.time(up), d.time(at)
	return p, d.err
}

// PurgeNotesPending lists, by index, at most limit purges whose note
// outside the database is still to be written.
func (s *Store) PurgeNotesPending(ctx context.Context, limit int) ([]PurgedFile, error) {
	out, err := queryAll(ctx, s.db, scanPurged, `SELECT `+purgedColumns+` FROM purged_files WHERE note_pending = 1 ORDER BY visit_id, file_id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: purge notes pending: %w", err)
	}
	return out, nil
}

// PurgeNoted records that a purge's note outside the database is written.
func (s *Store) PurgeNoted(ctx context.Context, visitID, fileID string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE purged_files SET note_pending = 0 WHERE visit_id = ? AND file_id = ? AND note_pending = 1`, visitID, fileID); err != nil {
		return fmt.Errorf("store: purge noted: %w", err)
	}
	return nil
}

// PurgedFiles lists a visit's purged files, in the order they were purged.
func (s *Store) PurgedFiles(ctx context.Context, visitID string) ([]PurgedFile, error) {
	out, err := queryAll(ctx, s.db, scanPurged, `SELECT `+purgedColumns+` FROM purged_files WHERE visit_id = ? ORDER BY purged_at, file_id`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: purged files: %w", err)
	}
	return out, nil
}
