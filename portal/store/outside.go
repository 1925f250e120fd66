package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// NotedOutside is the trail's record up to which what is named what has
// been noted outside the database (0 when nothing has).
func (s *Store) NotedOutside(ctx context.Context, what string) (int64, error) {
	var seq int64
	err := s.db.QueryRowContext(ctx, `SELECT seq FROM noted_outside WHERE what = ?`, what).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: noted outside: %w", err)
	}
	return seq, nil
}

// NoteOutsideReached records that what is noted outside the database up
// to the trail's record seq. It never goes back: two processes noting
// side by side leave the further.
func (s *Store) NoteOutsideReached(ctx context.Context, what string, seq int64) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO noted_outside (what, seq) VALUES (?, ?)
		ON CONFLICT (what) DO UPDATE SET seq = excluded.seq WHERE noted_outside.seq < excluded.seq`, what, seq)
	if err != nil {
		return fmt.Errorf("store: note outside reached: %w", err)
	}
	return nil
}
