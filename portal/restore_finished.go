package portal

import (
	"context"
	"fmt"
	"time"
)

// A restore, once it has done everything and before it lets the portal
// serve, says so outside the database (the anchor store), signed: which
// records it lost (those after the restored trail's last, before its
// mark). A later restore passes over the access notes of those records
// (endAccessAgain): the restore that lost them applied again the access
// they ended. Its intent alone is no proof that it happened: a restore
// refused after writing it (a database not empty, a copy that does not
// match its manifest) lost nothing.

// restoreFinishedType is the type of a restore's finished note.
const restoreFinishedType = "evidence-portal restore finished v1"

// restoreFinished is a restore's finished note.
type restoreFinished struct {
	Type        string    `json:"type"`
	RestoreID   string    `json:"restore_id"`
	RestoredSeq int64     `json:"restored_seq"`
	MarkSeq     int64     `json:"mark_seq"`
	FinishedAt  time.Time `json:"finished_at"`
	// unverified: read from a note that does not verify.
	unverified bool
}

// restoresFinishedOutside is where finished notes are kept.
const restoresFinishedOutside = "restores-finished/"

// restoreFinished reads a finished note: verified when one of k signed
// it; ok when it reads as one.
func (k trustedKeys) restoreFinished(b []byte) (f restoreFinished, verified, ok bool) {
	f, verified, ok = openNote[restoreFinished](k, b)
	return f, verified, ok && f.Type == restoreFinishedType && f.RestoreID != ""
}

// noteRestoreFinished writes restore id's finished note.
func (s *Service) noteRestoreFinished(ctx context.Context, id string, restored, mark int64) error {
	f := restoreFinished{Type: restoreFinishedType, RestoreID: id, RestoredSeq: restored, MarkSeq: mark, FinishedAt: s.now().UTC()}
	return s.putOutside(ctx, restoresFinishedOutside+id+".json", signNote(s.signer, f))
}

// restoresFinished are the restores other than current that finished, as
// their notes outside the database say. A note that does not verify
// (signed with a key replaced since, or not the portal's) is returned
// unverified: its records are passed over only for the acts that gave
// access (an enable, an item opened), so that it cannot keep access
// ended, nor open what a restore lost.
func (s *Service) restoresFinished(ctx context.Context, keys trustedKeys, current string) ([]restoreFinished, error) {
	s.anchorMu.Lock()
	a, err := s.openAnchors(ctx)
	s.anchorMu.Unlock()
	if err != nil {
		return nil, err
	}
	objs, err := a.Records(ctx, restoresFinishedOutside)
	if err != nil {
		return nil, fmt.Errorf("restores finished (%s): %w", a.Where(), err)
	}
	var out []restoreFinished
	for name, versions := range objs {
		for _, b := range versions {
			f, verified, ok := keys.restoreFinished(b)
			if !ok {
				continue
			}
			if !verified {
				s.log.Warn("restore: a finished note of an earlier restore outside the database does not verify; only the enables in what it says it lost are passed over",
					"name", name)
				f.unverified = true
			}
			if f.RestoreID != current && f.MarkSeq > f.RestoredSeq {
				out = append(out, f)
			}
		}
	}
	return out, nil
}
