package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// A file's scan status. A file is stored as ScanScanning when scanning is
// required and its verdict is not in yet (the scanner was down or slow),
// and moves once, to ScanClean or ScanInfected. ScanUnscanned is a file
// stored while scanning was off, or before the portal scanned at all.
const (
	ScanScanning  = "scanning"
	ScanClean     = "clean"
	ScanInfected  = "infected"
	ScanUnscanned = "unscanned"
)

// SetScanResult records the scanner's verdict on a file that is still
// waiting for one (scanning or unscanned), or an infected verdict on a
// file found clean (by another instance, whose scanner's signatures were
// older), with its audit records, in one transaction. It returns
// ErrNotFound when the file is gone or already has a verdict that this
// one does not overturn (another instance got there first): nothing is
// recorded then.
func (s *Store) SetScanResult(ctx context.Context, visitID, fileID, status, signature string, at time.Time, audit ...AuditRecord) error {
	// Only an infected verdict is taken over a clean one (another
	// instance's scanner, its signatures older, found it clean first).
	from := `'scanning', 'unscanned'`
	if status == ScanInfected {
		from += `, 'clean'`
	}
	err := s.inTxAudit(ctx, func(tx *Tx) ([]AuditRecord, error) {
		// The status it had, held: the records say what the verdict
		// replaced (a clean file, perhaps served, found infected).
		var was string
		err := tx.QueryRowContext(ctx, `SELECT scan_status FROM files WHERE visit_id = ? AND id = ?`+tx.h.forUpdate(), visitID, fileID).Scan(&was)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		if err := execOne(ctx, tx, `UPDATE files SET scan_status = ?, scan_signature = ?, scanned_at = ?
			WHERE visit_id = ? AND id = ? AND scan_status IN (`+from+`)`, status, signature, formatTime(at), visitID, fileID); err != nil {
			return nil, err
		}
		return withWas(audit, was), nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: set scan result: %w", err)
	}
	return err
}

// withWas sets the status a verdict replaced, was, in the detail of each
// record of recs that names one ("was"): the caller's is the status it
// read before scanning, which another instance may have changed since.
func withWas(recs []AuditRecord, was string) []AuditRecord {
	out := make([]AuditRecord, len(recs))
	for i, r := range recs {
		var d map[string]any
		if json.Unmarshal([]byte(r.Detail), &d) == nil {
			if _, ok := d["was"]; ok && d["was"] != was {
				d["was"] = was
				if b, err := json.Marshal(d); err == nil {
					r.Detail = string(b)
				}
			}
		}
		out[i] = r
	}
	return out
}

// FilesToScan lists up to limit files, of any visit, with one of the given
// statuses and at most maxSize bytes, in the order of their ids, from the
// first after the id after ("": from the first). A caller pages through
// them all with the last id of each page, so that files that never get a
// verdict do not hide the ones after them.
func (s *Store) FilesToScan(ctx context.Context, statuses []string, maxSize int64, after string, limit int) ([]File, error) {
	if len(statuses) == 0 {
		return nil, nil
	}
	q := `SELECT ` + fileColumns + ` FROM files WHERE scan_status IN (?`
	args := []any{statuses[0]}
	for _, st := range statuses[1:] {
		q += `, ?`
		args = append(args, st)
	}
	q += `) AND size <= ? AND id > ? ORDER BY id LIMIT ?`
	out, err := queryAll(ctx, s.db, scanFile, q, append(args, maxSize, after, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: files to scan: %w", err)
	}
	return out, nil
}

// ScanCounts counts the files of every visit that wait for the scanner or
// were found infected, by status. Clean and unscanned files, nearly all of
// them, are not counted: that would read the whole index on every
// administrator's page, and the cost would grow with the files held.
func (s *Store) ScanCounts(ctx context.Context) (map[string]int, error) {
	type row struct {
		status string
		n      int
	}
	rows, err := queryAll(ctx, s.db, func(sc scanner) (row, error) {
		var r row
		err := sc.Scan(&r.status, &r.n)
		return r, err
	}, `SELECT scan_status, COUNT(*) FROM files WHERE scan_status IN (?, ?) GROUP BY scan_status`, ScanScanning, ScanInfected)
	if err != nil {
		return nil, fmt.Errorf("store: scan counts: %w", err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.status] = r.n
	}
	return out, nil
}
