package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Restriction says who may see the files filed under one item of a visit.
// An item with no restriction row is unrestricted.
type Restriction struct {
	VisitID    string
	Code       string
	Restricted bool
	Roles      []string // roles that see a restricted item
	UpdatedAt  time.Time
}

// PutRestriction creates or replaces an item's restriction.
func (s *Store) PutRestriction(ctx context.Context, it Restriction, now time.Time, audit ...AuditRecord) error {
	err := s.exec(ctx, audit, `INSERT INTO restrictions (visit_id, code, restricted, roles, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (visit_id, code) DO UPDATE SET restricted = excluded.restricted, roles = excluded.roles, updated_at = excluded.updated_at`,
		it.VisitID, it.Code, boolInt(it.Restricted), strings.Join(it.Roles, ","), formatTime(now))
	if err != nil {
		return fmt.Errorf("store: put restriction: %w", err)
	}
	return nil
}

func scanRestriction(sc scanner) (Restriction, error) {
	var it Restriction
	var roles, updated string
	if err := sc.Scan(&it.VisitID, &it.Code, &it.Restricted, &roles, &updated); err != nil {
		return Restriction{}, err
	}
	if roles != "" {
		it.Roles = strings.Split(roles, ",")
	}
	var d dates
	it.UpdatedAt = d.time(updated)
	return it, d.err
}

// Restriction returns the restriction stored under exactly code; an item
// never configured is unrestricted. Deciding on an item matches every
// stored form of its number (the portal's itemKey): this is for reading
// one row back.
func (s *Store) Restriction(ctx context.Context, visitID, code string) (Restriction, error) {
	it, err := scanRestriction(s.db.QueryRowContext(ctx, `SELECT visit_id, code, restricted, roles, updated_at FROM restrictions WHERE visit_id = ? AND code = ?`, visitID, code))
	if errors.Is(err, sql.ErrNoRows) {
		return Restriction{VisitID: visitID, Code: code}, nil
	}
	if err != nil {
		return Restriction{}, fmt.Errorf("store: restriction: %w", err)
	}
	return it, nil
}

// Restrictions lists a visit's configured restrictions.
func (s *Store) Restrictions(ctx context.Context, visitID string) ([]Restriction, error) {
	return restrictionsIn(ctx, s.db, visitID)
}

func restrictionsIn(ctx context.Context, db querier, visitID string) ([]Restriction, error) {
	out, err := queryAll(ctx, db, scanRestriction, `SELECT visit_id, code, restricted, roles, updated_at FROM restrictions WHERE visit_id = ? ORDER BY code`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: restrictions: %w", err)
	}
	return out, nil
}
