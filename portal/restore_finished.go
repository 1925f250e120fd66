package portal

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// A restore, once it has done everything and before it lets the portal
// serve, says so outside the database (the anchor store), signed: which
// records it lost (those after the restored trail's last, before its
// mark, and the notes of records numbered from its mark on that its trail
// does not hold: a timeline lost with its database past a checkpoint
// whose anchor failed, whose notes went out first). A later restore passes over the access notes of those records
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
	// Beyond names the access notes of records numbered from the mark on
	// that the trail did not hold when the restore finished: their
	// numbers are those of the timeline it goes on with.
	Beyond []string `json:"beyond_mark,omitempty"`
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

// noteRestoreFinished writes restore id's finished note, once what it did
// is anchored and its acts noted.
func (s *Service) noteRestoreFinished(ctx context.Context, id string, restored, mark int64) error {
	beyond, err := s.notesBeyond(ctx, mark)
	if err != nil {
		return err
	}
	f := restoreFinished{Type: restoreFinishedType, RestoreID: id, RestoredSeq: restored, MarkSeq: mark, FinishedAt: s.now().UTC(), Beyond: beyond}
	return s.putOutside(ctx, restoresFinishedOutside+id+".json", signNote(s.signer, f))
}

// notesBeyond names the access notes outside the database of records
// numbered from mark on that the trail does not hold (by number and
// hash), in order.
func (s *Service) notesBeyond(ctx context.Context, mark int64) ([]string, error) {
	s.anchorMu.Lock()
	a, err := s.openAnchors(ctx)
	s.anchorMu.Unlock()
	if err != nil {
		return nil, err
	}
	objs, err := a.Records(ctx, accessNotes)
	if err != nil {
		return nil, fmt.Errorf("access notes outside the database (%s): %w", a.Where(), err)
	}
	var out []string
	for name := range objs {
		seq, hash, ok := accessNoteNamed(name)
		if !ok || seq < mark {
			continue
		}
		recs, err := s.store.AuditRecords(ctx, store.AuditFilter{AfterSeq: seq - 1, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(recs) == 1 && recs[0].Seq == seq && recs[0].Hash == hash {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

// accessNoteNamed reads the record number and hash in an access note's
// name (accessNoteName).
func accessNoteNamed(name string) (seq int64, hash string, ok bool) {
	num, rest, found := strings.Cut(strings.TrimPrefix(name, accessNotes), "-")
	hash, isJSON := strings.CutSuffix(rest, ".json")
	seq, err := strconv.ParseInt(num, 10, 64)
	return seq, hash, found && isJSON && err == nil && len(num) == 20 && hash != ""
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
				s.log.Warn("restore: a finished note of an earlier restore outside the database does not verify; only the acts that open something (enables, items opened, holds lifted) in what it says it lost are passed over",
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
