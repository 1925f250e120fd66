package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Snapshot is a PostgreSQL snapshot held open for pg_dump --snapshot, so
// that the dump is the database as of the moment the audit head here was
// read. Release it once the dump is written.
type Snapshot struct {
	ID            string
	AuditSeq      int64
	AuditHash     string
	SchemaVersion int
	Checkpoint    *Checkpoint
	Release       func()
}

// ExportSnapshot opens a read-only repeatable-read transaction, exports its
// snapshot and reads the audit head and the last checkpoint in it.
func (s *Store) ExportSnapshot(ctx context.Context) (Snapshot, error) {
	if !s.db.pg {
		return Snapshot{}, errors.New("store: snapshots are exported from PostgreSQL only")
	}
	conn, err := s.db.DB.Conn(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		conn.Close()
		return Snapshot{}, err
	}
	snap := Snapshot{AuditHash: GenesisHash, Release: func() { tx.Rollback(); conn.Close() }}
	fail := func(err error) (Snapshot, error) {
		snap.Release()
		return Snapshot{}, fmt.Errorf("store: export snapshot: %w", err)
	}
	// Idle while pg_dump reads from it, for as long as the dump takes.
	if _, err := tx.ExecContext(ctx, `SET LOCAL idle_in_transaction_session_timeout = 0`); err != nil {
		return fail(err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT pg_export_snapshot()`).Scan(&snap.ID); err != nil {
		return fail(err)
	}
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&snap.AuditSeq, &snap.AuditHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fail(err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&snap.SchemaVersion); err != nil {
		return fail(err)
	}
	cps, err := queryAll(ctx, tx, scanCheckpoint, `SELECT seq, hash, signed_at, public_key, signature, format FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`)
	if err != nil {
		return fail(err)
	}
	if len(cps) > 0 {
		snap.Checkpoint = &cps[0]
	}
	return snap, nil
}
