package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrNameTaken is returned when a file name (its index) is already taken in
// the item: by a file, an upload in progress or a resumable upload.
var ErrNameTaken = errors.New("store: the name is taken in this item")

// ErrNameFree is returned when a name that was taken in the item, and was
// to be avoided, is free again.
var ErrNameFree = errors.New("store: the name is free in this item")

// ReserveName takes a name index in an item for a file about to be
// stored. It fails with ErrNameTaken when the item has the name already.
func (s *Store) ReserveName(ctx context.Context, visitID, item, fileID string, index []byte, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO file_names (file_id, visit_id, item, name_index, created_at, key_version) VALUES (?, ?, ?, ?, ?, `+nameKeyVersion+`)`,
		fileID, visitID, item, index, formatTime(now))
	if isUnique(err) {
		return ErrNameTaken
	}
	if err != nil {
		return fmt.Errorf("store: reserve name: %w", err)
	}
	return nil
}

// ReleaseName gives back the name of an upload that stored no file: to the
// file it was to replace (ReserveReplacement), or to the item.
func (s *Store) ReleaseName(ctx context.Context, fileID string) error {
	err := s.inTx(ctx, func(tx *Tx) error { return releaseName(ctx, tx, fileID) })
	if err != nil {
		return fmt.Errorf("store: release name: %w", err)
	}
	return nil
}

// SweepNames releases the names reserved before before by uploads that
// never began (a crash between the reservation and the upload's start):
// a new version's goes back to the file it was to replace, while that file
// (giveBackName), as when it ends without a file.
func (s *Store) SweepNames(ctx context.Context, before time.Time) error {
	// NOT EXISTS, not NOT IN: PostgreSQL turns it into an anti-join, where
	// NOT IN over 200,000 files ran past the statement timeout.
	const never = `created_at < ?
		AND NOT EXISTS (SELECT 1 FROM files WHERE files.id = file_names.file_id)
		AND NOT EXISTS (SELECT 1 FROM pending_uploads p WHERE p.file_id = file_names.file_id)
		AND NOT EXISTS (SELECT 1 FROM resumable_uploads r WHERE r.file_id = file_names.file_id AND r.completed_at IS NULL)`
	err := s.inTx(ctx, func(tx *Tx) error {
		ids, err := queryAll(ctx, tx, func(sc scanner) (string, error) {
			var id string
			return id, sc.Scan(&id)
		}, `SELECT file_id FROM file_names WHERE `+never, formatTime(before))
		if err != nil {
			return err
		}
		for _, id := range ids {
			// Held, then looked at again as it now is (PostgreSQL, READ
			// COMMITTED: a new statement sees what committed since the
			// first): an upload that began meanwhile wrote its
			// reservation in the transaction that began it
			// (CreateResumableWithin), so it is no longer one to sweep;
			// one that begins after this holds the row waits, then finds
			// its name gone.
			var held string
			err := tx.QueryRowContext(ctx, `SELECT file_id FROM file_names WHERE file_id = ?`+tx.h.forUpdate(), id).Scan(&held)
			if err == nil {
				err = tx.QueryRowContext(ctx, `SELECT file_id FROM file_names WHERE file_id = ? AND `+never, id, formatTime(before)).Scan(&held)
			}
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			if err := giveBackName(ctx, tx, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM file_names WHERE file_id = ? AND NOT EXISTS (SELECT 1 FROM files WHERE files.id = file_names.file_id)`, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: sweep names: %w", err)
	}
	return nil
}

// Unindexed is a file or unfinished resumable upload whose name has no
// index yet (stored before names were indexed).
type Unindexed struct {
	FileID, Item string
	NameSealed   []byte
}

// UnindexedNames lists a visit's files and unfinished resumable uploads
// without a name index.
func (s *Store) UnindexedNames(ctx context.Context, visitID string) ([]Unindexed, error) {
	out, err := queryAll(ctx, s.db, func(sc scanner) (Unindexed, error) {
		var u Unindexed
		return u, sc.Scan(&u.FileID, &u.Item, &u.NameSealed)
	}, `SELECT id, item, name_sealed FROM files WHERE visit_id = ? AND withdrawn_at IS NULL AND superseded_by IS NULL
			AND NOT EXISTS (SELECT 1 FROM file_names WHERE file_names.file_id = files.id)
		UNION ALL
		SELECT file_id, item, name_sealed FROM resumable_uploads WHERE visit_id = ? AND completed_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM file_names WHERE file_names.file_id = resumable_uploads.file_id)`,
		visitID, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: unindexed names: %w", err)
	}
	return out, nil
}

// IndexName records the index of a name stored before names were indexed.
// Of two such files of one name, the first keeps it and the other stays
// unindexed (both stay as they are; a new upload collides with the first).
func (s *Store) IndexName(ctx context.Context, visitID, item, fileID string, index []byte, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO file_names (file_id, visit_id, item, name_index, created_at, key_version) VALUES (?, ?, ?, ?, ?, `+nameKeyVersion+`) ON CONFLICT DO NOTHING`,
		fileID, visitID, item, index, formatTime(now))
	if err != nil {
		return fmt.Errorf("store: index name: %w", err)
	}
	return nil
}

// nameKeyVersion is the version of the name keys the portal writes
// (portal NameKey): 2 since migration 54; a name held under an earlier
// one is keyed again (StaleNames, RekeyNames).
const nameKeyVersion = "2"

// StaleName is a name held under a key of an earlier version (migration
// 54): the file or upload holding it, and its holder's sealed name (nil when neither a file nor a resumable
// upload is there to give it: a plain upload cut off by a restart, which
// the janitor cleans up, giving the name back to the file it was to
// replace, if any, under the same version).
type StaleName struct {
	FileID     string
	NameSealed []byte
}

// StaleNames lists the names of the visit held under a key of an earlier
// version, the earliest taken first, with each holder's sealed name: a
// file's, or an unfinished resumable upload's.
func (s *Store) StaleNames(ctx context.Context, visitID string) ([]StaleName, error) {
	out, err := queryAll(ctx, s.db, func(sc scanner) (StaleName, error) {
		var n StaleName
		return n, sc.Scan(&n.FileID, &n.NameSealed)
	}, `SELECT n.file_id, COALESCE((SELECT name_sealed FROM files WHERE files.id = n.file_id),
			(SELECT name_sealed FROM resumable_uploads r WHERE r.file_id = n.file_id AND r.completed_at IS NULL))
		FROM file_names n WHERE n.visit_id = ? AND n.key_version = 1 ORDER BY n.created_at, n.file_id`, visitID)
	if err != nil {
		return nil, fmt.Errorf("store: stale names: %w", err)
	}
	return out, nil
}

// Rekey is a stale name (StaleName) and the index of its key of this
// version.
type Rekey struct {
	FileID string
	Index  []byte
}

// rekeyBatch is how many names RekeyNames keys again in one transaction.
const rekeyBatch = 500

// RekeyNames holds each name under the index of its key of this version,
// a few hundred to a transaction, and returns how many stay under their
// earlier key: those whose new key another name of their item already
// holds (two names of the earlier version that now look alike; the
// first keyed keeps it, and a new upload of the name meets that one),
// kept as they are, to be tried again by the next pass (the next
// process), once the other may have gone, or keyed where they are filed
// (RefileFile). A name keyed again meanwhile (by another process) is
// left as it is.
func (s *Store) RekeyNames(ctx context.Context, visitID string, names []Rekey) (stale int, err error) {
	for len(names) > 0 {
		batch := names[:min(rekeyBatch, len(names))]
		names = names[len(batch):]
		left := 0
		try := func() error {
			return s.inTx(ctx, func(tx *Tx) error {
				left = 0
				for _, n := range batch {
					// Checked, not caught: on PostgreSQL a unique violation
					// would end the transaction.
					res, err := tx.ExecContext(ctx, `UPDATE file_names SET name_index = ?, key_version = `+nameKeyVersion+`
					WHERE visit_id = ? AND file_id = ? AND key_version = 1 AND NOT EXISTS (SELECT 1 FROM file_names o
						WHERE o.visit_id = file_names.visit_id AND o.item = file_names.item AND o.name_index = ? AND o.file_id <> file_names.file_id)`,
						n.Index, visitID, n.FileID, n.Index)
					if err != nil {
						return err
					}
					if k, err := res.RowsAffected(); err != nil {
						return err
					} else if k == 0 {
						left++ // taken by another, or keyed again meanwhile
					}
				}
				return nil
			})
		}
		err := try()
		for tries := 1; isUnique(err) && tries < 3; tries++ {
			// A new name of this version taken between the check and the
			// update (PostgreSQL, READ COMMITTED): the batch again, which
			// now sees it.
			err = try()
		}
		if err != nil {
			return 0, fmt.Errorf("store: key names again: %w", err)
		}
		stale += left
	}
	return stale, nil
}

// releaseName is ReleaseName in tx.
func releaseName(ctx context.Context, tx *Tx, fileID string) error {
	if err := giveBackName(ctx, tx, fileID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM file_names WHERE file_id = ? AND NOT EXISTS (SELECT 1 FROM files WHERE files.id = file_names.file_id)`, fileID)
	return err
}

// giveBackName hands the name a new version that stored no file reserved
// back to the file it was to replace (ReserveReplacement).
func giveBackName(ctx context.Context, tx *Tx, fileID string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE file_names SET file_id = (SELECT old_file_id FROM file_replacements WHERE new_file_id = ?)
		WHERE file_id = ? AND NOT EXISTS (SELECT 1 FROM files WHERE files.id = file_names.file_id)
		AND EXISTS (SELECT 1 FROM file_replacements r JOIN files o ON o.id = r.old_file_id
			WHERE r.new_file_id = ? AND o.withdrawn_at IS NULL AND o.superseded_by IS NULL)`, fileID, fileID, fileID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM file_replacements WHERE new_file_id = ? AND NOT EXISTS (SELECT 1 FROM files WHERE files.id = file_replacements.new_file_id)`, fileID)
	return err
}
