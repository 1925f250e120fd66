package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
// the same upload is a conflict (ErrConflict): the first one stands.
func (s *Store) AddReceipt(ctx context.Context, r Receipt, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error { return insertReceipt(ctx, tx, r) }, audit...)
	if err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("store: add receipt: %w", err)
	}
	return err
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

// Receipts lists a visit's receipts, the latest first.
func (s *Store) Receipts(ctx context.Context, visitID string) ([]Receipt, error) {
	out, err := queryAll(ctx, s.db, scanReceipt, `SELECT `+receiptColumns+` FROM receipts WHERE visit_id = ? ORDER BY issued_at DESC, id`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: receipts: %w", err)
	}
	return out, nil
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
