package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RequestItem is one line of a visit's information request: a child-level
// data list, the audited cases list, an Annex A item or a case file asked
// for by the lead inspector. Its title is sealed under the visit key (case
// file requests name children). Due is a timeline anchor
// ("data_lists_due", "annex_a_due", "fieldwork_start") or a date
// (YYYY-MM-DD).
type RequestItem struct {
	VisitID     string
	Code        string
	Kind        string
	TitleSealed []byte
	Due         string
	Position    int
	AddedBy     string
	AddedAt     time.Time
}

const requestColumns = `visit_id, code, kind, title_sealed, due, position, added_by, added_at`

// RequestItems lists a visit's information request in order.
func (s *Store) RequestItems(ctx context.Context, visitID string) ([]RequestItem, error) {
	out, err := queryAll(ctx, s.db, func(sc scanner) (RequestItem, error) {
		var it RequestItem
		var added string
		err := sc.Scan(&it.VisitID, &it.Code, &it.Kind, &it.TitleSealed, &it.Due, &it.Position, &it.AddedBy, &added)
		it.AddedAt = parseTime(added)
		return it, err
	}, `SELECT `+requestColumns+` FROM request_items WHERE visit_id = ? ORDER BY position, code`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: information request: %w", err)
	}
	return out, nil
}

// PutRequestItems adds or replaces items of a visit's information request,
// with their audit records, in one transaction.
func (s *Store) PutRequestItems(ctx context.Context, items []RequestItem, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		for _, it := range items {
			if _, err := tx.ExecContext(ctx, `INSERT INTO request_items (`+requestColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (visit_id, code) DO UPDATE SET title_sealed = excluded.title_sealed, due = excluded.due`,
				it.VisitID, it.Code, it.Kind, it.TitleSealed, it.Due, it.Position, it.AddedBy, formatTime(it.AddedAt)); err != nil {
				return err
			}
		}
		return nil
	}, audit...)
	if err != nil {
		return fmt.Errorf("store: put information request: %w", err)
	}
	return nil
}

// DeleteRequestItem removes one item from the information request. Files
// filed under it keep their item.
func (s *Store) DeleteRequestItem(ctx context.Context, visitID, code string, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		return execOne(ctx, tx, `DELETE FROM request_items WHERE visit_id = ? AND code = ?`, visitID, code)
	}, audit...)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: delete request item: %w", err)
	}
	return err
}

// ItemFileCounts counts a visit's committed files by item.
func (s *Store) ItemFileCounts(ctx context.Context, visitID string) (map[string]int, error) {
	type count struct {
		item string
		n    int
	}
	counts, err := queryAll(ctx, s.db, func(sc scanner) (count, error) {
		var c count
		return c, sc.Scan(&c.item, &c.n)
	}, `SELECT item, COUNT(*) FROM files WHERE visit_id = ? GROUP BY item`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: item counts: %w", err)
	}
	out := map[string]int{}
	for _, c := range counts {
		out[c.item] = c.n
	}
	return out, nil
}
