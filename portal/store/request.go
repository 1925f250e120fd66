package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
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
	// CompletedAt is when the provider coordinator said everything for
	// the item is here (zero: not said); CompletedBy is who.
	CompletedAt time.Time
	CompletedBy string
}

const requestColumns = `visit_id, code, kind, title_sealed, due, position, added_by, added_at`

// RequestItems lists a visit's information request in order.
func (s *Store) RequestItems(ctx context.Context, visitID string) ([]RequestItem, error) {
	out, err := queryAll(ctx, s.db, func(sc scanner) (RequestItem, error) {
		var it RequestItem
		var added string
		var completed sql.NullString
		if err := sc.Scan(&it.VisitID, &it.Code, &it.Kind, &it.TitleSealed, &it.Due, &it.Position, &it.AddedBy, &added, &completed, &it.CompletedBy); err != nil {
			return it, err
		}
		var d dates
		it.AddedAt = d.time(added)
		it.CompletedAt = d.null(completed)
		return it, d.err
	}, `SELECT `+requestColumns+`, completed_at, COALESCE(completed_by, '') FROM request_items WHERE visit_id = ? ORDER BY position, code`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: information request: %w", err)
	}
	return out, nil
}

// AddRequestItem adds an item to a visit's information request, with its
// audit records. An item with the same code is a conflict (ErrConflict):
// the primary key, not the caller's earlier read, decides, so two people
// adding at once never overwrite each other. So is a case-file number
// taken out of the request before (case_files_removed): never given to
// another child, however long ago the caller read the numbers used.
func (s *Store) AddRequestItem(ctx context.Context, it RequestItem, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if strings.HasPrefix(it.Code, "case-") {
			// The visit first, as a removal holds it (refuseIfFiled):
			// one committed before is seen here, one after waits.
			if err := lockVisit(ctx, tx, it.VisitID); err != nil {
				return err
			}
			var removed bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM case_files_removed WHERE visit_id = ? AND code = ?)`, it.VisitID, it.Code).Scan(&removed); err != nil {
				return err
			}
			if removed {
				return ErrConflict
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO request_items (`+requestColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			it.VisitID, it.Code, it.Kind, it.TitleSealed, it.Due, it.Position, it.AddedBy, formatTime(it.AddedAt))
		if isUnique(err) {
			return ErrConflict
		}
		return err
	}, audit...)
	if err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("store: add request item: %w", err)
	}
	return err
}

// ChangeRequestItem changes an item's title and due date; its title is
// kept as it stands when it.TitleSealed is nil (a change of the due date
// alone, which writes no title read before another's change). A title
// that is the record of what files answer (retitled: a case file's, which
// child) is not changed while files are filed under the item, or uploads
// in progress go to it (ErrItemHasFiles), as the item is not removed, nor
// while questions asked on it or purged files' records name it
// (ErrItemAskedAbout).
func (s *Store) ChangeRequestItem(ctx context.Context, it RequestItem, retitled bool, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if retitled {
			if err := refuseIfFiled(ctx, tx, it.VisitID, it.Code); err != nil {
				return err
			}
			if err := refuseIfAskedAbout(ctx, tx, it.VisitID, it.Code); err != nil {
				return err
			}
		}
		if it.TitleSealed == nil {
			return execOne(ctx, tx, `UPDATE request_items SET due = ? WHERE visit_id = ? AND code = ?`, it.Due, it.VisitID, it.Code)
		}
		return execOne(ctx, tx, `UPDATE request_items SET title_sealed = ?, due = ? WHERE visit_id = ? AND code = ?`,
			it.TitleSealed, it.Due, it.VisitID, it.Code)
	}, audit...)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrItemHasFiles) && !errors.Is(err, ErrItemAskedAbout) {
		return fmt.Errorf("store: change request item: %w", err)
	}
	return err
}

// ErrItemHasFiles is returned when an item of the information request to
// be removed has files filed under it (in any state: withdrawn and
// superseded files are kept evidence) or uploads in progress: its title
// is the record of what they answer (for a case file, which child).
var ErrItemHasFiles = errors.New("store: files are filed under the item")

// ErrItemAskedAbout is returned when a case file to be retitled has
// questions asked on it, or records of files purged from it: they read
// as about the child its title names.
var ErrItemAskedAbout = errors.New("store: questions or purged files' records name the item")

// ErrNotRequested refuses a file stored or filed under a case-file
// number the information request no longer has: removed while the file
// was uploaded or filed.
var ErrNotRequested = errors.New("store: the case file is no longer in the information request")

// caseFileStands refuses (ErrNotRequested) item when it is a case-file
// number (case-N) the visit's request does not have. It is read after the
// file's row is written or changed: its files_version trigger then holds
// the visit's row, as DeleteRequestItem does before it reads the files, so
// the two cannot both go ahead.
func caseFileStands(ctx context.Context, tx *Tx, visitID, item string) error {
	if !strings.HasPrefix(item, "case-") {
		return nil
	}
	var ok bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM request_items WHERE visit_id = ? AND code = ?)`, visitID, item).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return ErrNotRequested
	}
	return nil
}

// DeleteRequestItem removes one item from the information request, unless
// files are filed under it (ErrItemHasFiles). The visit's row is held
// first, as a file's commit holds it (its files_version trigger), so the
// files read here are those committed before the removal.
func (s *Store) DeleteRequestItem(ctx context.Context, visitID, code string, audit ...AuditRecord) error {
	err := s.inTx(ctx, func(tx *Tx) error {
		if err := refuseIfFiled(ctx, tx, visitID, code); err != nil {
			return err
		}
		if err := execOne(ctx, tx, `DELETE FROM request_items WHERE visit_id = ? AND code = ?`, visitID, code); err != nil {
			return err
		}
		if !strings.HasPrefix(code, "case-") {
			return nil
		}
		// Kept, so that the number is never given to another child.
		at := time.Now()
		if len(audit) > 0 {
			at = audit[0].Time
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO case_files_removed (visit_id, code, removed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			visitID, code, formatTime(at))
		return err
	}, audit...)
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrItemHasFiles) {
		return fmt.Errorf("store: delete request item: %w", err)
	}
	return err
}

// refuseIfFiled refuses (ErrItemHasFiles) an item with files filed under
// it, in any state, or uploads in progress to it. The visit's row is held
// first, as a file's commit holds it (its files_version trigger), so the
// files read are those committed before; file_names holds the name of
// every upload in progress, plain or resumable, under the item it goes
// to.
func refuseIfFiled(ctx context.Context, tx *Tx, visitID, code string) error {
	if err := lockVisit(ctx, tx, visitID); err != nil {
		return err
	}
	var used bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM files WHERE visit_id = ? AND item = ?)
		OR EXISTS (SELECT 1 FROM resumable_uploads WHERE visit_id = ? AND item = ? AND completed_at IS NULL)
		OR EXISTS (SELECT 1 FROM file_names WHERE visit_id = ? AND item = ?)`,
		visitID, code, visitID, code, visitID, code).Scan(&used); err != nil {
		return err
	}
	if used {
		return ErrItemHasFiles
	}
	return nil
}

// refuseIfAskedAbout refuses (ErrItemAskedAbout) an item with questions
// asked on it, or records of files purged from it, under the visit's row
// held (refuseIfFiled): an item's questions and a purged file's record
// name it by code, and read under its title.
func refuseIfAskedAbout(ctx context.Context, tx *Tx, visitID, code string) error {
	var named bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM questions WHERE visit_id = ? AND item = ?)
		OR EXISTS (SELECT 1 FROM purged_files WHERE visit_id = ? AND item = ?)`,
		visitID, code, visitID, code).Scan(&named); err != nil {
		return err
	}
	if named {
		return ErrItemAskedAbout
	}
	return nil
}

// ItemFileCounts counts a visit's committed files by item: those that
// stand, not the withdrawn or superseded, nor the infected (kept, never
// served: they answer no item).
func (s *Store) ItemFileCounts(ctx context.Context, visitID string) (map[string]int, error) {
	type count struct {
		item string
		n    int
	}
	counts, err := queryAll(ctx, s.db, func(sc scanner) (count, error) {
		var c count
		return c, sc.Scan(&c.item, &c.n)
	}, `SELECT item, COUNT(*) FROM files WHERE visit_id = ? AND withdrawn_at IS NULL AND superseded_by IS NULL AND scan_status != 'infected' GROUP BY item`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: item counts: %w", err)
	}
	out := map[string]int{}
	for _, c := range counts {
		out[c.item] = c.n
	}
	return out, nil
}

// RequestCodes lists the codes of a visit's information request.
func (s *Store) RequestCodes(ctx context.Context, visitID string) ([]string, error) {
	out, err := queryAll(ctx, s.db, func(sc scanner) (string, error) {
		var c string
		return c, sc.Scan(&c)
	}, `SELECT code FROM request_items WHERE visit_id = ?`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: request codes: %w", err)
	}
	return out, nil
}

// ItemHasQuestions reports whether a visit has threads on item (an item
// taken out of the request keeps its threads).
func (s *Store) ItemHasQuestions(ctx context.Context, visitID, item string) (bool, error) {
	var has bool
	if err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM questions WHERE visit_id = ? AND item = ?)`, visitID, item).Scan(&has); err != nil {
		return false, fmt.Errorf("store: questions on an item: %w", err)
	}
	return has, nil
}

// CaseCodesUsed lists the case-file codes (case-N) a visit's evidence and
// threads name anywhere: files in any state (withdrawn, superseded,
// purged), uploads in progress, questions and restrictions, whether or
// not the request still has the item, and the numbers removed from the
// request (case_files_removed). A case-file number is given once:
// one given again would show another child's files, questions and
// restriction under the new request.
func (s *Store) CaseCodesUsed(ctx context.Context, visitID string) ([]string, error) {
	out, err := queryAll(ctx, s.db, func(sc scanner) (string, error) {
		var c string
		return c, sc.Scan(&c)
	}, `SELECT item FROM files WHERE visit_id = ? AND item LIKE 'case-%'
		UNION SELECT item FROM purged_files WHERE visit_id = ? AND item LIKE 'case-%'
		UNION SELECT item FROM resumable_uploads WHERE visit_id = ? AND item LIKE 'case-%'
		UNION SELECT item FROM file_names WHERE visit_id = ? AND item LIKE 'case-%'
		UNION SELECT item FROM questions WHERE visit_id = ? AND item LIKE 'case-%'
		UNION SELECT code FROM restrictions WHERE visit_id = ? AND code LIKE 'case-%'
		UNION SELECT code FROM case_files_removed WHERE visit_id = ?`, visitID, visitID, visitID, visitID, visitID, visitID, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: case codes used: %w", err)
	}
	return out, nil
}
