package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Bulk loading, for the benchmark's volume cases and for tests that need a
// portal holding a year of visits: rows go in with multi-row INSERTs in
// large transactions instead of one act at a time. The rows are the same
// rows the acts write (the caller seals names and titles under the visit
// keys as the domain does); the seed writes no audit records of its own
// acts, and the audit records it is given are appended to the chain as
// appendAudit would (SeedAudit), so that verification accepts them.

// seedMaxArgs keeps a statement's placeholders well under both
// databases' limits (SQLite 32,766; PostgreSQL 65,535).
const seedMaxArgs = 30000

// seedRowsPerTx is how many rows one transaction writes.
const seedRowsPerTx = 50000

// bulkInsert inserts rows into table in multi-row INSERTs, seedRowsPerTx
// rows a transaction. The statements vary in their row count, so they are
// not kept in the statement cache.
func (s *Store) bulkInsert(ctx context.Context, table string, cols []string, rows [][]any) error {
	per := max(1, seedMaxArgs/len(cols))
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for start := 0; start < len(rows); start += seedRowsPerTx {
		chunk := rows[start:min(len(rows), start+seedRowsPerTx)]
		err := s.inTx(ctx, func(tx *Tx) error {
			for i := 0; i < len(chunk); i += per {
				part := chunk[i:min(len(chunk), i+per)]
				q := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " + strings.TrimSuffix(strings.Repeat(one+", ", len(part)), ", ")
				args := make([]any, 0, len(part)*len(cols))
				for _, r := range part {
					args = append(args, r...)
				}
				if _, err := tx.Tx.ExecContext(ctx, s.db.bind(q), args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: seed %s: %w", table, err)
		}
	}
	return nil
}

// SeedUsers inserts users as if each had signed in once.
func (s *Store) SeedUsers(ctx context.Context, users []User) error {
	rows := make([][]any, len(users))
	for i, u := range users {
		rows[i] = []any{u.ID, u.Issuer, u.Subject, u.Email, u.Name, formatTime(u.CreatedAt), nullTime(u.LastLoginAt)}
	}
	return s.bulkInsert(ctx, "users", []string{"id", "issuer", "subject", "email", "name", "created_at", "last_login_at"}, rows)
}

// SeedMembers inserts memberships. A member with a UserID is bound; one
// with only an email binds at that person's next sign-in from its Issuer.
func (s *Store) SeedMembers(ctx context.Context, members []Member) error {
	rows := make([][]any, len(members))
	for i, m := range members {
		rows[i] = []any{m.ID, m.VisitID, m.Role, nullString(m.Email), nullString(m.Issuer), nullString(m.Subject), nullString(m.UserID),
			nullTime(m.ValidFrom), nullTime(m.ValidUntil), formatTime(m.CreatedAt), formatTime(m.UpdatedAt)}
	}
	return s.bulkInsert(ctx, "members", []string{"id", "visit_id", "role", "email", "issuer", "subject", "user_id", "valid_from", "valid_until", "created_at", "updated_at"}, rows)
}

// SeededFile is a committed file with the keyed hash of its normalised
// name (crypto NameIndex), which reserves the name in its item as an
// upload would.
type SeededFile struct {
	File
	NameIndex []byte
}

// SeedFiles inserts committed files and their name reservations.
func (s *Store) SeedFiles(ctx context.Context, files []SeededFile) error {
	rows := make([][]any, len(files))
	names := make([][]any, len(files))
	for i, f := range files {
		if err := seededMACs(f.File); err != nil {
			return err
		}
		if f.Scan == "" {
			f.Scan = ScanUnscanned
		}
		rows[i] = []any{f.ID, f.VisitID, f.NameSealed, f.Item, f.Size, f.SHA256, f.SegmentSize, f.Segments, f.HeaderSize, f.UploadedBy, formatTime(f.UploadedAt), f.SegmentMACs,
			f.Scan, f.ScanSignature, nullTime(f.ScannedAt)}
		names[i] = []any{f.ID, f.VisitID, f.Item, f.NameIndex, formatTime(f.UploadedAt), 2} // nameKeyVersion
	}
	if err := s.bulkInsert(ctx, "files", strings.Split(fileInsertColumns, ", "), rows); err != nil {
		return err
	}
	return s.bulkInsert(ctx, "file_names", []string{"file_id", "visit_id", "item", "name_index", "created_at", "key_version"}, names)
}

// SeedReceipts inserts receipts as the uploads and batches that issued
// them left them (no audit records).
func (s *Store) SeedReceipts(ctx context.Context, rs []Receipt) error {
	rows := make([][]any, len(rs))
	for i, r := range rs {
		var of any
		if r.UploadOf != "" {
			of = r.UploadOf
		}
		rows[i] = []any{r.ID, r.VisitID, r.Kind, of, r.IssuedTo, formatTime(r.IssuedAt), r.SignedSealed}
	}
	return s.bulkInsert(ctx, "receipts", strings.Split(receiptColumns, ", "), rows)
}

// seededMACs refuses a seeded file without a MAC for each segment: a row
// shaped as one stored before MACs were recorded is read only whole
// (evidence.wholeCheck), which is not what a portal holding files
// uploaded now does. A test that wants such a row makes it deliberately
// (segment_macs set NULL).
func seededMACs(f File) error {
	const size = 32 // crypto.MACSize
	if len(f.SegmentMACs) != f.Segments*size {
		return fmt.Errorf("store: seed file %s: %d bytes of segment MACs for %d segments", f.ID, len(f.SegmentMACs), f.Segments)
	}
	return nil
}

// SeedLetters records visits' letter events, destruction notices and
// legal holds as the domain leaves them; the histories are the caller's to
// make valid (retention.Check).
func (s *Store) SeedLetters(ctx context.Context, events []Event, notices []Notice, holds map[string]LegalHold) error {
	rows := make([][]any, len(events))
	for i, e := range events {
		rows[i] = []any{e.ID, e.VisitID, e.Event, e.Date.Format(dateFormat), e.RecordedBy, formatTime(e.RecordedAt)}
	}
	if err := s.bulkInsert(ctx, "visit_events", []string{"id", "visit_id", "event", "date", "recorded_by", "recorded_at"}, rows); err != nil {
		return err
	}
	rows = make([][]any, len(notices))
	for i, n := range notices {
		rows[i] = []any{n.VisitID, n.DestroyOn.Format(dateFormat), formatTime(n.GivenAt)}
	}
	if err := s.bulkInsert(ctx, "destruction_notices", []string{"visit_id", "destroy_on", "given_at"}, rows); err != nil {
		return err
	}
	for id, h := range holds {
		act, err := s.SetLegalHold(ctx, id, h)
		if err != nil {
			return err
		}
		// As the domain leaves a hold: carried to the object store.
		if err := s.HoldApplied(ctx, act, h.At); err != nil {
			return err
		}
		if err := s.RuleApplied(ctx, act, h.At); err != nil {
			return err
		}
	}
	return nil
}

// SeedDestroyed marks visits destroyed as a completed destruction leaves
// them: no key, no title, no files or request, a completed record.
func (s *Store) SeedDestroyed(ctx context.Context, visitIDs []string, at time.Time) error {
	return s.inTx(ctx, func(tx *Tx) error {
		for _, id := range visitIDs {
			for _, q := range []string{`DELETE FROM files WHERE visit_id = ?`, `DELETE FROM request_items WHERE visit_id = ?`, `DELETE FROM case_files_removed WHERE visit_id = ?`, `DELETE FROM visit_keys WHERE visit_id = ?`} {
				if _, err := tx.ExecContext(ctx, q, id); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE visits SET state = 'destroyed', title_sealed = ?, store_hold = legal_hold, store_rule = 1 WHERE id = ?`, []byte{}, id); err != nil {
				return err
			}
			t := formatTime(at)
			if _, err := tx.ExecContext(ctx, `INSERT INTO destructions (visit_id, reference, key_fingerprint, files, started_at, key_destroyed_at, objects_deleted_at, objects_deleted, bucket_deleted_at, completed_at)
				SELECT id, reference, '', '[]', ?, ?, ?, 0, ?, ? FROM visits WHERE id = ?`, t, t, t, t, t, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// SeedAudit appends records to the chain in large transactions, each
// chained exactly as appendAudit chains one act's records (sequence
// numbers, previous hash, time truncated to the microsecond), and returns
// the new head.
func (s *Store) SeedAudit(ctx context.Context, recs []AuditRecord) (int64, string, error) {
	cols := []string{"seq", "time", "actor_issuer", "actor_subject", "actor_email", "role", "visit_id", "action", "object", "outcome", "detail",
		"client_ip", "user_agent", "request_id", "prev_hash", "hash", "format"}
	per := seedMaxArgs / len(cols)
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	var seq int64
	var head string
	for start := 0; start < len(recs); start += seedRowsPerTx {
		chunk := recs[start:min(len(recs), start+seedRowsPerTx)]
		err := s.inTx(ctx, func(tx *Tx) error {
			if err := lockAudit(ctx, tx); err != nil {
				return err
			}
			seq, head = 0, GenesisHash
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit`).Scan(&seq); err != nil {
				return err
			}
			if seq > 0 {
				if err := tx.QueryRowContext(ctx, `SELECT hash FROM audit WHERE seq = ?`, seq).Scan(&head); err != nil {
					return err
				}
			}
			for i := 0; i < len(chunk); i += per {
				part := chunk[i:min(len(chunk), i+per)]
				args := make([]any, 0, len(part)*len(cols))
				for _, r := range part {
					seq++
					r.Seq, r.PrevHash, r.Format = seq, head, AuditFormat
					r.Time = r.Time.UTC().Truncate(time.Microsecond)
					if r.Detail == "" {
						r.Detail = "{}"
					}
					r.Hash = ChainHash(r)
					head = r.Hash
					args = append(args, r.Seq, r.Time.Format(timeFormat), r.ActorIssuer, r.ActorSubject, r.ActorEmail, r.Role, r.VisitID, r.Action,
						r.Object, r.Outcome, r.Detail, r.ClientIP, r.UserAgent, r.RequestID, r.PrevHash, r.Hash, r.Format)
				}
				q := "INSERT INTO audit (" + strings.Join(cols, ", ") + ") VALUES " + strings.TrimSuffix(strings.Repeat(one+", ", len(part)), ", ")
				if _, err := tx.Tx.ExecContext(ctx, s.db.bind(q), args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, "", fmt.Errorf("store: seed audit: %w", err)
		}
	}
	if seq == 0 {
		return s.AuditHead(ctx)
	}
	return seq, head, nil
}
