package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// File is one uploaded file: its name sealed, its content in segments.
type File struct {
	ID          string
	VisitID     string
	NameSealed  []byte
	Item        string
	Size        int64
	SHA256      string // hex of the whole plaintext
	SegmentSize int64  // plaintext bytes per segment (the last may be shorter)
	Segments    int
	HeaderSize  int64 // age header size of every segment
	// SegmentMACs are the age header MACs of the segments, in order
	// (crypto.MACSize bytes each), recorded at upload: a segment read back
	// must carry its own. Nil for files stored before they were recorded.
	SegmentMACs []byte
	UploadedBy  string
	UploadedAt  time.Time
	// Scan is the malware scanner's verdict (ScanScanning, ScanClean,
	// ScanInfected or ScanUnscanned); ScanSignature names what was found.
	Scan          string
	ScanSignature string
	ScannedAt     time.Time
	// TeamDownloadedAt is when someone of the inspection team first
	// downloaded the file (zero: no one yet): from then on deleting it
	// withdraws it.
	TeamDownloadedAt time.Time
	// A withdrawn file is kept, marked, when and by whom; a superseded
	// one is kept as an earlier version of the file SupersededBy.
	WithdrawnAt  time.Time
	WithdrawnBy  string
	SupersededBy string
	SupersededAt time.Time
}

// Live reports whether the file is neither withdrawn nor superseded: the
// provider may still correct it.
func (f File) Live() bool { return f.WithdrawnAt.IsZero() && f.SupersededBy == "" }

// PendingUpload is an upload that has started writing objects but has not
// been committed. Its objects are invisible; a janitor deletes them when the
// upload is abandoned.
type PendingUpload struct {
	FileID    string
	VisitID   string
	Kind      string // PendingReceiving, PendingFailed or PendingDeleted
	StartedAt time.Time
	TouchedAt time.Time
}

// Kinds of pending record.
const (
	PendingReceiving = "upload"  // being received (or cut off by a crash: no record yet)
	PendingFailed    = "failed"  // failed, recorded; objects being removed
	PendingDeleted   = "deleted" // a deleted file's objects being removed
)

// BeginUpload records that objects for fileID may be written, by the
// user by (whose upload holds its name: NameUploader). Its flush to disk
// is left to the upload's commit (flush.go): it answers nobody.
func (s *Store) BeginUpload(ctx context.Context, fileID, visitID, by string, now time.Time, audit ...AuditRecord) error {
	err := s.exec(DeferFlush(ctx), audit, `INSERT INTO pending_uploads (file_id, visit_id, uploaded_by, started_at, touched_at) VALUES (?, ?, ?, ?, ?)`,
		fileID, visitID, by, formatTime(now), formatTime(now))
	if err != nil {
		return fmt.Errorf("store: begin upload: %w", err)
	}
	return nil
}

// BeginNamedUpload is ReserveName and BeginUpload in one transaction, the
// common case of an upload whose name is free: ErrNameTaken when it is
// not, and then nothing is written. Like BeginUpload's, its flush is left
// to the upload's commit.
func (s *Store) BeginNamedUpload(ctx context.Context, fileID, visitID, by, item string, index []byte, now time.Time, audit ...AuditRecord) error {
	err := s.inTx(DeferFlush(ctx), func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO file_names (file_id, visit_id, item, name_index, created_at, key_version) VALUES (?, ?, ?, ?, ?, `+nameKeyVersion+`)`,
			fileID, visitID, item, index, formatTime(now))
		if isUnique(err) {
			return ErrNameTaken
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO pending_uploads (file_id, visit_id, uploaded_by, started_at, touched_at) VALUES (?, ?, ?, ?, ?)`,
			fileID, visitID, by, formatTime(now), formatTime(now))
		return err
	}, audit...)
	if errors.Is(err, ErrNameTaken) {
		return err
	}
	if err != nil {
		return fmt.Errorf("store: begin upload: %w", err)
	}
	return nil
}

// TouchUpload marks a pending upload as still alive: ErrUploadTaken once
// the janitor has taken it as abandoned.
func (s *Store) TouchUpload(ctx context.Context, fileID string, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE pending_uploads SET touched_at = ? WHERE file_id = ? AND kind = 'upload'`, formatTime(now), fileID)
	if err != nil {
		return fmt.Errorf("store: touch upload: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		// Taken by the janitor (or gone): the upload stops here, rather
		// than write segments nothing would remove.
		return ErrUploadTaken
	}
	return nil
}

// TouchFailed puts off the janitor's next look at a failed upload's
// objects.
func (s *Store) TouchFailed(ctx context.Context, fileID string, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE pending_uploads SET touched_at = ? WHERE file_id = ?`, formatTime(now), fileID); err != nil {
		return fmt.Errorf("store: touch upload: %w", err)
	}
	return nil
}

// EndUpload forgets a pending upload once its objects are deleted, with
// its audit records.
func (s *Store) EndUpload(ctx context.Context, fileID string, audit ...AuditRecord) error {
	if err := s.exec(ctx, audit, `DELETE FROM pending_uploads WHERE file_id = ?`, fileID); err != nil {
		return fmt.Errorf("store: end upload: %w", err)
	}
	return nil
}

// FailUpload records that an upload failed (its record written with it):
// its objects are being removed. It fails with ErrUploadTaken, writing
// nothing, when the upload is no longer being received: the janitor took
// it (AbandonUpload) and recorded its failure.
func (s *Store) FailUpload(ctx context.Context, fileID string, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		return execOne(ctx, tx, `UPDATE pending_uploads SET kind = 'failed' WHERE file_id = ? AND kind = 'upload'`, fileID)
	}, audit...)
	if errors.Is(err, ErrNotFound) {
		return ErrUploadTaken
	}
	if err != nil {
		return fmt.Errorf("store: fail upload: %w", err)
	}
	return nil
}

// AbandonUpload takes a plain upload untouched since before as cut off by
// a crash, with its audit records, before its objects are removed: its
// pending record is marked failed in one statement that finds it still
// being received and still untouched, so that a live upload touching it
// meanwhile keeps it, and an upload taken can no longer commit
// (CommitFileWith): no file can come to need the objects being removed.
// The record stays until they are gone (EndUpload), or for the janitor
// should that fail. It fails with ErrConflict, changing nothing, when the
// upload was touched since, committed or has failed.
//
// The name it reserved goes back with it: its objects may stay for long
// (a legal hold keeps them), and nothing of it can need the name again.
func (s *Store) AbandonUpload(ctx context.Context, fileID string, before time.Time, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if err := execOne(ctx, tx, `UPDATE pending_uploads SET kind = 'failed' WHERE file_id = ? AND kind = 'upload' AND touched_at < ?`, fileID, formatTime(before)); err != nil {
			return err
		}
		return releaseName(ctx, tx, fileID)
	}, audit...)
	if errors.Is(err, ErrNotFound) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("store: abandon upload: %w", err)
	}
	return nil
}

// TouchUploads marks pending uploads as still alive (the heartbeat of
// the process receiving them).
func (s *Store) TouchUploads(ctx context.Context, fileIDs []string, now time.Time) error {
	return s.inTx(ctx, func(tx *Tx) error {
		for _, id := range fileIDs {
			if _, err := tx.ExecContext(ctx, `UPDATE pending_uploads SET touched_at = ? WHERE file_id = ?`, formatTime(now), id); err != nil {
				return err
			}
		}
		return nil
	})
}

// StaleUploads lists pending uploads not touched since before. Resumable
// uploads are left to their own expiry (ExpiredResumables).
func (s *Store) StaleUploads(ctx context.Context, before time.Time) ([]PendingUpload, error) {
	out, err := queryAll(ctx, s.db, func(sc scanner) (PendingUpload, error) {
		var p PendingUpload
		var started, touched string
		if err := sc.Scan(&p.FileID, &p.VisitID, &p.Kind, &started, &touched); err != nil {
			return p, err
		}
		var d dates
		p.StartedAt, p.TouchedAt = d.time(started), d.time(touched)
		return p, d.err
	}, `SELECT file_id, visit_id, kind, started_at, touched_at FROM pending_uploads
		WHERE touched_at < ? AND file_id NOT IN (SELECT file_id FROM resumable_uploads WHERE completed_at IS NULL)`, formatTime(before))
	if err != nil {
		return nil, fmt.Errorf("store: stale uploads: %w", err)
	}
	return out, nil
}

// CommitFile makes an upload visible: the file row appears and the pending
// record goes, in one transaction. It fails with ErrUploadTaken, storing
// nothing, unless the upload is still being received: one the janitor took
// as cut off (AbandonUpload) or forgot has had its objects removed.
func (s *Store) CommitFile(ctx context.Context, f File, audit ...AuditRecord) error {
	_, err := s.CommitFileWith(ctx, f, nil, true, nil, audit...)
	return err
}

// CommitFileWith is CommitFile that also keeps the upload's receipt (when r
// is not nil) in the same transaction: one write, not two, for each file.
// mayReplace is false only when the file's name was free when its upload
// began (BeginNamedUpload took it): such a file replaces no version, and
// its commit does not look for one. When it replaces one, replaced makes
// the records of that, written with audit. held reports what the
// transaction read of the visit: it was under legal hold, and the file's
// objects are to be held (FileToHoldOf); when it was not, they are not
// (a hold set since is carried by its own act), and there is nothing to
// read back.
func (s *Store) CommitFileWith(ctx context.Context, f File, r *Receipt, mayReplace bool, replaced ReplacedRecords, audit ...AuditRecord) (held bool, err error) {
	err = s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		var err error
		if held, err = insertFile(ctx, tx, f); err != nil {
			return nil, err
		}
		if mayReplace {
			recs, err := supersede(ctx, tx, f, replaced)
			if err != nil {
				return nil, err
			}
			audit = append(audit, recs...)
		}
		// After the file's row, which keeps the file's name (the
		// trigger file_names_upload_failed frees it otherwise).
		err = execOne(ctx, tx, `DELETE FROM pending_uploads WHERE file_id = ? AND kind = 'upload'`, f.ID)
		if errors.Is(err, ErrNotFound) {
			return nil, ErrUploadTaken
		}
		if err != nil {
			return nil, err
		}
		if r != nil {
			return audit, insertReceipt(ctx, tx, *r)
		}
		return audit, nil
	})
	if errors.Is(err, ErrUploadTaken) {
		return false, err
	}
	if err != nil {
		return false, fmt.Errorf("store: commit file: %w", err)
	}
	return held, nil
}

// fileInsertColumns are written when a file is stored; fileColumns are
// read (the corrections' columns are set later).
const (
	fileInsertColumns = `id, visit_id, name_sealed, item, size, sha256, segment_size, segments, header_size, uploaded_by, uploaded_at, segment_macs, scan_status, scan_signature, scanned_at`
	fileColumns       = fileInsertColumns + `, team_downloaded_at, withdrawn_at, COALESCE(withdrawn_by, ''), COALESCE(superseded_by, ''), superseded_at`
)

// insertFile stores a file: its row, and, when its visit is held, the
// file whose objects are to be held (FileToHold). A visit whose
// destruction has begun takes no file (ErrDestructionBegun): the
// destruction listed its files when it began, and its certificate names
// every file it destroys. The visit is read after the row is written: on
// PostgreSQL the row's files_version trigger holds the visit's row by
// then (FOR NO KEY UPDATE), so a destruction beginning meanwhile (which
// changes that row, and checks files_version) waits for this commit, or
// the trigger waited for the destruction and this read, a statement
// later, sees it; SQLite writes one transaction at a time. The read takes
// no lock of its own: FOR UPDATE would wait for the share every other
// commit's foreign key holds on the row while they wait for the trigger's
// (TestFilesStoredTogether). held reports whether the visit was under
// legal hold: the file's objects are then to be held.
func insertFile(ctx context.Context, tx *Tx, f File) (held bool, err error) {
	if err := insertFileRow(ctx, tx, f); err != nil {
		return false, err
	}
	var state string
	var hold int64
	err = tx.QueryRowContext(ctx, `SELECT state, legal_hold FROM visits WHERE id = ?`, f.VisitID).Scan(&state, &hold)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, ErrNotFound
	case err != nil:
		return false, err
	case state != "active":
		return false, ErrDestructionBegun
	}
	if err := caseFileStands(ctx, tx, f.VisitID, f.Item); err != nil {
		return false, err
	}
	if hold != 0 {
		_, err = tx.ExecContext(ctx, `INSERT INTO objects_to_hold (file_id, visit_id, since) VALUES (?, ?, ?)`, f.ID, f.VisitID, formatTime(f.UploadedAt))
	}
	return hold != 0, err
}

func insertFileRow(ctx context.Context, tx *Tx, f File) error {
	if f.Scan == "" {
		f.Scan = ScanUnscanned
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO files (`+fileInsertColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.VisitID, f.NameSealed, f.Item, f.Size, f.SHA256, f.SegmentSize, f.Segments, f.HeaderSize, f.UploadedBy, formatTime(f.UploadedAt), f.SegmentMACs,
		f.Scan, f.ScanSignature, nullTime(f.ScannedAt))
	return err
}

// SegmentMAC is the recorded header MAC of segment i; nil for a file
// stored before MACs were recorded. A list too short for the file fails
// closed: it yields a MAC no segment has.
func (f File) SegmentMAC(i int) []byte {
	const size = 32 // crypto.MACSize
	switch {
	case f.SegmentMACs == nil:
		return nil
	case len(f.SegmentMACs) < (i+1)*size:
		return make([]byte, size)
	}
	return f.SegmentMACs[i*size : (i+1)*size]
}

// BackfillSegmentMACs records the segment MACs of a file stored before
// they were recorded, read back from a content that matched its SHA-256
// whole. Only a row still without them is written (a row's MACs, once
// recorded, never change): false when there was none to fill.
func (s *Store) BackfillSegmentMACs(ctx context.Context, visitID, fileID string, macs []byte) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE files SET segment_macs = ? WHERE visit_id = ? AND id = ? AND segment_macs IS NULL`, macs, visitID, fileID)
	if err != nil {
		return false, fmt.Errorf("store: backfill segment MACs: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: backfill segment MACs: %w", err)
	}
	return n == 1, nil
}

func scanFile(sc scanner) (File, error) {
	var f File
	var at string
	var scanned, downloaded, withdrawn, superseded sql.NullString
	if err := sc.Scan(&f.ID, &f.VisitID, &f.NameSealed, &f.Item, &f.Size, &f.SHA256, &f.SegmentSize, &f.Segments, &f.HeaderSize, &f.UploadedBy, &at, &f.SegmentMACs,
		&f.Scan, &f.ScanSignature, &scanned, &downloaded, &withdrawn, &f.WithdrawnBy, &f.SupersededBy, &superseded); err != nil {
		return File{}, err
	}
	var d dates
	f.UploadedAt = d.time(at)
	f.ScannedAt = d.null(scanned)
	f.TeamDownloadedAt, f.WithdrawnAt, f.SupersededAt = d.null(downloaded), d.null(withdrawn), d.null(superseded)
	return f, d.err
}

// File returns one file of a visit.
func (s *Store) File(ctx context.Context, visitID, fileID string) (File, error) {
	return fileIn(ctx, s.db, visitID, fileID)
}

// rowQuerier is the store's handle or a transaction.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func fileIn(ctx context.Context, db rowQuerier, visitID, fileID string) (File, error) {
	f, err := scanFile(db.QueryRowContext(ctx, `SELECT `+fileColumns+` FROM files WHERE visit_id = ? AND id = ?`, visitID, fileID))
	if errors.Is(err, sql.ErrNoRows) {
		return File{}, ErrNotFound
	}
	if err != nil {
		return File{}, fmt.Errorf("store: file: %w", err)
	}
	return f, nil
}

// Files lists a visit's files, oldest first.
func (s *Store) Files(ctx context.Context, visitID string) ([]File, error) {
	out, err := queryAll(ctx, s.db, scanFile, `SELECT `+fileColumns+` FROM files WHERE visit_id = ? ORDER BY uploaded_at, id`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: files: %w", err)
	}
	return out, nil
}

// FilesByID returns those of the given files that are the visit's, in no
// particular order: one statement, each found by its key.
func (s *Store) FilesByID(ctx context.Context, visitID string, ids []string) ([]File, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	out, err := queryAll(ctx, s.db, scanFile, `SELECT `+fileColumns+` FROM files WHERE `+s.inIDs("id")+` AND visit_id = ?`, string(list), visitID)
	if err != nil {
		return nil, fmt.Errorf("store: files: %w", err)
	}
	return out, nil
}

// StandingFilesOf returns the visit's standing files (neither withdrawn
// nor superseded) filed under the given items ("" for unfiled), in no
// particular order: from the files_item_standing index, so reading an
// item's files does not read the rest of the visit's.
func (s *Store) StandingFilesOf(ctx context.Context, visitID string, items []string) ([]File, error) {
	if len(items) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	out, err := queryAll(ctx, s.db, scanFile, `SELECT `+fileColumns+` FROM files WHERE visit_id = ? AND `+s.inIDs("item")+`
		AND withdrawn_at IS NULL AND superseded_by IS NULL`, visitID, string(list))
	if err != nil {
		return nil, fmt.Errorf("store: files: %w", err)
	}
	return out, nil
}

// RecentFiles returns a visit's latest n files, newest first (the
// files_visit index: the cost does not grow with the visit's files).
func (s *Store) RecentFiles(ctx context.Context, visitID string, n int) ([]File, error) {
	out, err := queryAll(ctx, s.db, scanFile, `SELECT `+fileColumns+` FROM files WHERE visit_id = ? ORDER BY uploaded_at DESC, id DESC LIMIT ?`, visitID, n)
	if err != nil {
		return nil, fmt.Errorf("store: recent files: %w", err)
	}
	return out, nil
}

// DeleteFile removes a file's row and records its objects as pending removal,
// in one transaction, so a crash before the objects are gone leaves them to
// the janitor rather than orphaned. Only a live file the inspection team has
// not downloaded is deleted (ErrNotFound otherwise): a download that won a
// race with the deletion makes it a withdrawal instead.
//
// The version it superseded is current again, under its name (earlier:
// reinstateEarlier).
func (s *Store) DeleteFile(ctx context.Context, visitID, fileID string, earlier EarlierName, now time.Time, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if err := reinstateEarlier(ctx, tx, visitID, fileID, earlier, now); err != nil {
			return err
		}
		// An infected file is kept (policy infected-kept), found so
		// since the deletion was decided too.
		err := execOne(ctx, tx, `DELETE FROM files WHERE visit_id = ? AND id = ?
			AND team_downloaded_at IS NULL AND withdrawn_at IS NULL AND superseded_by IS NULL AND scan_status != 'infected'`, visitID, fileID)
		if errors.Is(err, ErrNotFound) {
			var scan string
			if serr := tx.QueryRowContext(ctx, `SELECT scan_status FROM files WHERE visit_id = ? AND id = ?`, visitID, fileID).Scan(&scan); serr == nil && scan == ScanInfected {
				return ErrInfectedKept
			}
		}
		if err != nil {
			return err
		}
		if err := refuseOnHold(ctx, tx, visitID); err != nil {
			return err
		}
		// touched_at in the past: the janitor may take it at once if we fail.
		if _, err := tx.ExecContext(ctx, `INSERT INTO pending_uploads (file_id, visit_id, kind, started_at, touched_at) VALUES (?, ?, 'deleted', ?, ?)`,
			fileID, visitID, formatTime(now), formatTime(time.Time{})); err != nil {
			return err
		}
		return forgetThreadsOn(ctx, tx, visitID, fileID)
	}, audit...)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrOnHold) || errors.Is(err, ErrInfectedKept) {
		return err
	}
	if err != nil {
		return fmt.Errorf("store: delete file: %w", err)
	}
	return nil
}

// EarlierName is the index of the name of the version a file being
// removed superseded (FileID), in its item: what that version is listed
// under once it is current again. The caller works it out (names are
// sealed under the visit's key); nil Index leaves the version unindexed,
// as files stored before names were indexed are.
type EarlierName struct {
	FileID string
	Index  []byte
}

// reinstateEarlier keeps a file's versions whole when one of them,
// fileID, is removed (deleted or purged), in the transaction that removes
// it and before its row goes. fileID's row is held first, before any
// other (the order every change of a file takes: a download's mark holds
// it, then the visit's). The version fileID superseded is then superseded
// by the one that superseded fileID; or, fileID being current, is current
// again under its own name (earlier: the name another file holds, or none
// given, leaves it unindexed); or, fileID being withdrawn, is withdrawn
// with it (the file was withdrawn: no version of it comes back). Left
// superseded by a file no longer there, it would be listed by nobody as
// current, its item read as not received, and nothing could correct or
// move it (only a current version can be). Should the removal itself be
// refused, the transaction takes all this back with it.
func reinstateEarlier(ctx context.Context, tx *Tx, visitID, fileID string, earlier EarlierName, now time.Time) error {
	var next, withdrawnAt, withdrawnBy sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT superseded_by, withdrawn_at, withdrawn_by FROM files WHERE visit_id = ? AND id = ?`+tx.h.forUpdate(),
		visitID, fileID).Scan(&next, &withdrawnAt, &withdrawnBy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the removal finds it gone, and says so
	}
	if err != nil {
		return err
	}
	switch {
	case next.Valid:
		// The version after it held too: one removing that version at
		// the same time waits (or, each holding one, one of the two is
		// refused), rather than both linking to a version the other
		// removes.
		var held string
		if err := tx.QueryRowContext(ctx, `SELECT id FROM files WHERE id = ?`+tx.h.forUpdate(), next.String).Scan(&held); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE files SET superseded_by = ? WHERE visit_id = ? AND superseded_by = ?`, next.String, visitID, fileID)
		return err
	case withdrawnAt.Valid:
		_, err := tx.ExecContext(ctx, `UPDATE files SET superseded_by = NULL, withdrawn_at = ?, withdrawn_by = ? WHERE visit_id = ? AND superseded_by = ?`,
			withdrawnAt, withdrawnBy, visitID, fileID)
		return err
	}
	var id, item string
	err = tx.QueryRowContext(ctx, `UPDATE files SET superseded_by = NULL, superseded_at = NULL WHERE visit_id = ? AND superseded_by = ? RETURNING id, item`,
		visitID, fileID).Scan(&id, &item)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // the first version: nothing before it
	}
	if err != nil {
		return err
	}
	// The name is fileID's, or a new version of fileID's being sent
	// (ReserveReplacement moved it there: that version is refused as it
	// ends, its file gone) and goes; the version current again takes its
	// own, unless another file holds it.
	if _, err := tx.ExecContext(ctx, `DELETE FROM file_names WHERE file_id = ?
		OR file_id = (SELECT new_file_id FROM file_replacements WHERE old_file_id = ? LIMIT 1)`, fileID, fileID); err != nil {
		return err
	}
	if earlier.FileID != id || earlier.Index == nil {
		return nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO file_names (file_id, visit_id, item, name_index, created_at, key_version) VALUES (?, ?, ?, ?, ?, `+nameKeyVersion+`) ON CONFLICT DO NOTHING`,
		id, visitID, item, earlier.Index, formatTime(now))
	return err
}

// EarlierVersion is the version fileID superseded (ErrNotFound for none).
func (s *Store) EarlierVersion(ctx context.Context, visitID, fileID string) (File, error) {
	f, err := scanFile(s.db.QueryRowContext(ctx, `SELECT `+fileColumns+` FROM files WHERE visit_id = ? AND superseded_by = ?`, visitID, fileID))
	if errors.Is(err, sql.ErrNoRows) {
		return File{}, ErrNotFound
	}
	if err != nil {
		return File{}, fmt.Errorf("store: earlier version: %w", err)
	}
	return f, nil
}

// ErrInfectedKept refuses the deletion of a file found infected: it is
// kept for the administrators.
var ErrInfectedKept = errors.New("store: the file was found infected: it is kept")

// refilable is the condition, after a file's visit and id, that it is
// still current and under the item (?) the filing was decided on: a file
// moved, replaced or withdrawn since is ErrNotFound.
const refilable = ` AND item = ? AND withdrawn_at IS NULL AND superseded_by IS NULL`

// refileEarlierVersions files the earlier versions of fileID (each
// superseded by the next, up to it) under item with it: policy decides on
// each version's own item, and a version no longer current cannot be
// re-filed on its own, so one left behind would stay readable under the
// item the file was moved out of (the child-level data moved into, say).
// They keep their names: a version's name is held in its item only while
// it is current.
func refileEarlierVersions(ctx context.Context, tx *Tx, visitID, fileID, item string) error {
	_, err := tx.ExecContext(ctx, `UPDATE files SET item = ? WHERE visit_id = ? AND id IN (
		WITH RECURSIVE earlier (id) AS (
			SELECT id FROM files WHERE superseded_by = ?
			UNION SELECT files.id FROM files JOIN earlier ON files.superseded_by = earlier.id)
		SELECT id FROM earlier) AND item != ?`, item, visitID, fileID, item)
	return err
}

// RefileFile files a committed file under another item (from: the one it
// is under as the filing was decided), with its earlier versions. Its
// name goes with it; one held under a key of an earlier version is held
// in the new item under index, the key of this version (nil: left as it
// is), so that a look-alike there is met (ErrNameTaken).
func (s *Store) RefileFile(ctx context.Context, visitID, fileID, from, item string, index []byte, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if err := execOne(ctx, tx, `UPDATE files SET item = ? WHERE visit_id = ? AND id = ?`+refilable, item, visitID, fileID, from); err != nil {
			return err
		}
		if index != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE file_names SET name_index = ?, key_version = `+nameKeyVersion+` WHERE visit_id = ? AND file_id = ? AND key_version = 1`,
				index, visitID, fileID); err != nil {
				return err
			}
		}
		if err := refileEarlierVersions(ctx, tx, visitID, fileID, item); err != nil {
			return err
		}
		if err := caseFileStands(ctx, tx, visitID, item); err != nil {
			return err
		}
		return refuseOnHold(ctx, tx, visitID)
	}, audit...)
	if isUnique(err) {
		return ErrNameTaken // the item has a file of this name
	}
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrOnHold) && !errors.Is(err, ErrNotRequested) {
		return fmt.Errorf("store: refile: %w", err)
	}
	return err
}

// RefileFileRenamed files a committed file under another item with
// another name, nameSealed, whose index in that item is index: for a name
// taken there, under the index held, by a file, or an upload, that the
// person filing may not see. The name and the item change together, in
// one transaction, or neither does (ErrNameTaken when the item has that
// name too). When held is not nil and no longer taken in the item (its
// file deleted or withdrawn since, its upload ended without a file), the
// file is not renamed: ErrNameFree, and the caller files it under its own
// name.
func (s *Store) RefileFileRenamed(ctx context.Context, visitID, fileID, from, item string, held, index, nameSealed []byte, now time.Time, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if held != nil {
			// Read and held to the end: a deletion of the holder waits
			// for this filing on PostgreSQL, or this filing sees it
			// gone, so that no file is renamed for a name already free.
			var holder string
			err := tx.QueryRowContext(ctx, `SELECT file_id FROM file_names WHERE visit_id = ? AND item = ? AND name_index = ?`+tx.h.forUpdate(),
				visitID, item, held).Scan(&holder)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNameFree
			}
			if err != nil {
				return err
			}
		}
		err := execOne(ctx, tx, `DELETE FROM file_names WHERE visit_id = ? AND file_id = ?`, visitID, fileID)
		if errors.Is(err, ErrNotFound) {
			// Its name is held by a new version of it being sent
			// (ReserveReplacement): the version, which can no longer be
			// committed once the file moves (ErrMovedSince), gives it up.
			err = execOne(ctx, tx, `DELETE FROM file_names WHERE visit_id = ? AND file_id = (SELECT new_file_id FROM file_replacements WHERE old_file_id = ? LIMIT 1)`, visitID, fileID)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO file_names (file_id, visit_id, item, name_index, created_at, key_version) VALUES (?, ?, ?, ?, ?, `+nameKeyVersion+`)`,
			fileID, visitID, item, index, formatTime(now)); err != nil {
			return err
		}
		if err := execOne(ctx, tx, `UPDATE files SET item = ?, name_sealed = ? WHERE visit_id = ? AND id = ?`+refilable, item, nameSealed, visitID, fileID, from); err != nil {
			return err
		}
		if err := refileEarlierVersions(ctx, tx, visitID, fileID, item); err != nil {
			return err
		}
		if err := caseFileStands(ctx, tx, visitID, item); err != nil {
			return err
		}
		return refuseOnHold(ctx, tx, visitID)
	}, audit...)
	if isUnique(err) {
		return ErrNameTaken
	}
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrOnHold) && !errors.Is(err, ErrNameFree) && !errors.Is(err, ErrNotRequested) {
		return fmt.Errorf("store: refile: %w", err)
	}
	return err
}

// InsertFiles writes file rows in one transaction (volume seeding: see
// portal.SeedFiles), as a portal leaves them once each upload has ended:
// none is left with objects to hold, and each has its segment MACs.
func (s *Store) InsertFiles(ctx context.Context, fs []File) error {
	for _, f := range fs {
		if err := seededMACs(f); err != nil {
			return err
		}
	}
	return s.inTx(ctx, func(tx *Tx) error {
		for _, f := range fs {
			if err := insertFileRow(ctx, tx, f); err != nil {
				return err
			}
		}
		return nil
	})
}

// FilesVersion is a number that changes whenever any file of the visit is
// added, changed or removed (triggers keep it): one small read tells a
// cache of the visit's files whether it is still current.
func (s *Store) FilesVersion(ctx context.Context, visitID string) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT files_version FROM visits WHERE id = ?`, visitID).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: files version: %w", err)
	}
	return v, nil
}
