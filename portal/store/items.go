package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Item is one information-request item of a visit and who may see its files.
// An item with no row is unrestricted.
type Item struct {
	VisitID    string
	Code       string
	Restricted bool
	Roles      []string // roles that see a restricted item
	UpdatedAt  time.Time
}

// PutItem creates or replaces an item's restriction.
func (s *Store) PutItem(ctx context.Context, it Item, now time.Time, audit ...AuditRecord) error {
	err := s.exec(ctx, audit, `INSERT INTO items (visit_id, code, restricted, roles, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (visit_id, code) DO UPDATE SET restricted = excluded.restricted, roles = excluded.roles, updated_at = excluded.updated_at`,
		it.VisitID, it.Code, it.Restricted, strings.Join(it.Roles, ","), formatTime(now))
	if err != nil {
		return fmt.Errorf("store: put item: %w", err)
	}
	return nil
}

func scanItem(sc interface{ Scan(...any) error }) (Item, error) {
	var it Item
	var roles, updated string
	if err := sc.Scan(&it.VisitID, &it.Code, &it.Restricted, &roles, &updated); err != nil {
		return Item{}, err
	}
	if roles != "" {
		it.Roles = strings.Split(roles, ",")
	}
	it.UpdatedAt = parseTime(updated)
	return it, nil
}

// Item returns one item; an item never configured is unrestricted.
func (s *Store) Item(ctx context.Context, visitID, code string) (Item, error) {
	it, err := scanItem(s.db.QueryRowContext(ctx, `SELECT visit_id, code, restricted, roles, updated_at FROM items WHERE visit_id = ? AND code = ?`, visitID, code))
	if errors.Is(err, sql.ErrNoRows) {
		return Item{VisitID: visitID, Code: code}, nil
	}
	if err != nil {
		return Item{}, fmt.Errorf("store: item: %w", err)
	}
	return it, nil
}

// Items lists a visit's configured items.
func (s *Store) Items(ctx context.Context, visitID string) ([]Item, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT visit_id, code, restricted, roles, updated_at FROM items WHERE visit_id = ? ORDER BY code`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: items: %w", err)
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}
