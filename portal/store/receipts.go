package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Receipt is a signed submission receipt, kept as it was signed and sealed
// under the visit key. UploadOf is the file of an upload's receipt ("" for
// a batch's): one per file.
type Receipt struct {
	ID           string
	VisitID      string
	Kind         string
	UploadOf     string
	IssuedTo     string // user id
	IssuedAt     time.Time
	SignedSealed []byte
	// Files are the files a batch receipt lists (not kept: the signed
	// receipt names them). Each must still be the visit's as it is kept:
	// a file purged meanwhile took its receipts with it.
	Files []string
}

const receiptColumns = `id, visit_id, kind, upload_of, issued_to, issued_at, signed_sealed`

func scanReceipt(sc scanner) (Receipt, error) {
	var r Receipt
	var of sql.NullString
	var at string
	if err := sc.Scan(&r.ID, &r.VisitID, &r.Kind, &of, &r.IssuedTo, &at, &r.SignedSealed); err != nil {
		return r, err
	}
	r.UploadOf = of.String
	var d dates
	r.IssuedAt = d.time(at)
	return r, d.err
}

// AddReceipt keeps a receipt with its audit records. A second receipt of
// the same upload is a conflict (ErrConflict): the first one stands. A
// receipt of a file no longer the visit's (an upload's, or one a batch
// lists: purged or deleted since it was signed) is not kept
// (ErrNotFound).
func (s *Store) AddReceipt(ctx context.Context, r Receipt, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		// The files it names must still be the visit's: a purge (or a
		// deletion) since it was signed has taken their receipts.
		files := r.Files
		if r.UploadOf != "" {
			files = append(files[:len(files):len(files)], r.UploadOf)
		}
		if len(files) > 0 {
			if err := s.filesStand(ctx, tx, r.VisitID, files); err != nil {
				return err
			}
		}
		return insertReceipt(ctx, tx, r)
	}, audit...)
	if err != nil && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: add receipt: %w", err)
	}
	return err
}

// filesStand holds the visit's row, as a purge does (PurgeFile), and
// fails with ErrNotFound unless every one of the files is still the
// visit's: a purge either finished before, or waits and then finds the
// receipt kept.
func (s *Store) filesStand(ctx context.Context, tx *Tx, visitID string, ids []string) error {
	if err := lockVisit(ctx, tx, visitID); err != nil {
		return err
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	list, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM files WHERE `+s.inIDs("id")+` AND visit_id = ?`, string(list), visitID).Scan(&n); err != nil {
		return err
	}
	if n != len(ids) {
		return ErrNotFound
	}
	return nil
}

func insertReceipt(ctx context.Context, tx *Tx, r Receipt) error {
	var of any
	if r.UploadOf != "" {
		of = r.UploadOf
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO receipts (`+receiptColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.VisitID, r.Kind, of, r.IssuedTo, formatTime(r.IssuedAt), r.SignedSealed)
	if isUnique(err) {
		return ErrConflict
	}
	return err
}

// Receipt is one receipt of a visit (ErrNotFound when there is none).
func (s *Store) Receipt(ctx context.Context, visitID, id string) (Receipt, error) {
	return s.oneReceipt(ctx, `SELECT `+receiptColumns+` FROM receipts WHERE visit_id = ? AND id = ?`, visitID, id)
}

// UploadReceipt is the receipt of one upload (ErrNotFound when none was
// issued).
func (s *Store) UploadReceipt(ctx context.Context, visitID, fileID string) (Receipt, error) {
	return s.oneReceipt(ctx, `SELECT `+receiptColumns+` FROM receipts WHERE visit_id = ? AND upload_of = ?`, visitID, fileID)
}

func (s *Store) oneReceipt(ctx context.Context, q string, args ...any) (Receipt, error) {
	r, err := scanReceipt(s.db.QueryRowContext(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("store: receipt: %w", err)
	}
	return r, nil
}

// ReceiptCursor is where a page of receipts starts: after the receipt
// with this id, issued at IssuedAt (the list's order: the latest first,
// then by id). The zero cursor is the first page.
type ReceiptCursor struct {
	IssuedAt time.Time
	ID       string
}

// A page of a visit's receipts after a cursor, the latest first; ? are
// the visit, (for receiptPageTo) the person they were issued to, the
// cursor's time three times and id, and the page size. The first
// condition on issued_at, which the second implies, is the one the index
// (migration 32) seeks: a visit receipts every upload, so without it a
// page of the twentieth thousand read the nineteen thousand before it.
const (
	receiptPage = `SELECT ` + receiptColumns + ` FROM receipts WHERE visit_id = ?
		AND issued_at <= ? AND (issued_at < ? OR issued_at = ? AND id > ?) ORDER BY issued_at DESC, id LIMIT ?`
	receiptPageTo = `SELECT ` + receiptColumns + ` FROM receipts WHERE visit_id = ? AND issued_to = ?
		AND issued_at <= ? AND (issued_at < ? OR issued_at = ? AND id > ?) ORDER BY issued_at DESC, id LIMIT ?`
)

// ReceiptPage returns up to limit of a visit's receipts after the cursor,
// the latest first: all of them, or (issuedTo not "") those issued to
// that person.
func (s *Store) ReceiptPage(ctx context.Context, visitID, issuedTo string, after ReceiptCursor, limit int) ([]Receipt, error) {
	at := "9999-12-31T23:59:59.999999999Z"
	if !after.IssuedAt.IsZero() {
		at = formatTime(after.IssuedAt)
	}
	q, args := receiptPage, []any{visitID}
	if issuedTo != "" {
		q, args = receiptPageTo, append(args, issuedTo)
	}
	out, err := queryAtMost(ctx, s.db, limit, scanReceipt, q, append(args, at, at, at, after.ID, limit)...)
	if err != nil {
		return nil, fmt.Errorf("store: receipts: %w", err)
	}
	return out, nil
}

// ReceiptCount counts a visit's receipts, or (issuedTo not "") those
// issued to that person, from the index alone.
func (s *Store) ReceiptCount(ctx context.Context, visitID, issuedTo string) (int, error) {
	q, args := `SELECT COUNT(*) FROM receipts WHERE visit_id = ?`, []any{visitID}
	if issuedTo != "" {
		q, args = q+` AND issued_to = ?`, append(args, issuedTo)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: receipts: %w", err)
	}
	return n, nil
}

// deleteDiscussion removes a visit's receipts and questions with its other
// rows at destruction (their sealed text is already unreadable: the key is
// gone).
func deleteDiscussion(ctx context.Context, tx *Tx, visitID string) error {
	for _, q := range []string{`DELETE FROM question_posts WHERE visit_id = ?`, `DELETE FROM questions WHERE visit_id = ?`, `DELETE FROM receipts WHERE visit_id = ?`} {
		if _, err := tx.ExecContext(ctx, q, visitID); err != nil {
			return err
		}
	}
	return nil
}
