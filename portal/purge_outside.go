package portal

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// A purge is recorded outside the database too (the anchor store,
// write-once), signed with the portal's key, once the database has it: a
// database restored from a backup taken before it would otherwise bring
// the file's row back (its sealed name, its receipt, the threads on it,
// listed to the team again, about the wrong child), its objects gone. A
// restore purges again every file so recorded that the restored database
// holds (purgeAgain).

// purgeNoteType is the type of a purge's note outside the database.
const purgeNoteType = "evidence-portal file purged v1"

// purgeNote is what stays of a purged file, as the database keeps it
// (store.PurgedFile), signed outside it. The reason is sealed under the
// visit key, as in the database.
type purgeNote struct {
	Type         string    `json:"type"`
	VisitID      string    `json:"visit_id"`
	FileID       string    `json:"file_id"`
	Item         string    `json:"item"`
	Size         int64     `json:"size"`
	SHA256       string    `json:"sha256"`
	UploadedBy   string    `json:"uploaded_by"`
	UploadedAt   time.Time `json:"uploaded_at"`
	PurgedBy     string    `json:"purged_by"`
	PurgedAt     time.Time `json:"purged_at"`
	ReasonSealed []byte    `json:"reason_sealed"`
}

// purgesOutside is where purge notes are kept outside the database.
const purgesOutside = "purges/"

func purgeNoteName(visitID, fileID string) string {
	return purgesOutside + visitID + "/" + fileID + ".json"
}

// notePurge writes p's signed note outside the database, and records it
// written.
func (s *Service) notePurge(ctx context.Context, p store.PurgedFile) error {
	if err := s.putOutside(ctx, purgeNoteName(p.VisitID, p.FileID), signPurgeNote(s.signer, p)); err != nil {
		return err
	}
	return s.store.PurgeNoted(ctx, p.VisitID, p.FileID)
}

// signPurgeNote is p's note, signed with key.
func signPurgeNote(key ed25519.PrivateKey, p store.PurgedFile) []byte {
	return signNote(key, purgeNote{Type: purgeNoteType, VisitID: p.VisitID, FileID: p.FileID, Item: p.Item, Size: p.Size, SHA256: p.SHA256,
		UploadedBy: p.UploadedBy, UploadedAt: p.UploadedAt.UTC(), PurgedBy: p.PurgedBy, PurgedAt: p.PurgedAt.UTC(), ReasonSealed: p.ReasonSealed})
}

// purge reads a signed purge note, verified with one of the trusted keys.
func (k trustedKeys) purge(b []byte) (purgeNote, error) {
	n, verified, ok := openNote[purgeNote](k, b)
	if !verified {
		return purgeNote{}, retention.ErrBadSignature
	}
	if !ok || n.Type != purgeNoteType || n.VisitID == "" || n.FileID == "" {
		return purgeNote{}, errors.New("signed, but not a purge note")
	}
	return n, nil
}

// purgedHere is a file a purge note outside the database names, which
// this database holds, in a live visit.
type purgedHere struct {
	note  purgeNote
	file  store.File
	visit store.Visit
}

// purgesHere returns, in the notes' order, the files purge notes outside
// the database name that this database holds in a live visit not in done.
// A note that does not verify is not acted on, but is errUnverified when
// its file is here: it may be a purge signed with a key replaced since.
func (s *Service) purgesHere(ctx context.Context, keys trustedKeys, done map[string]bool) ([]purgedHere, error) {
	s.anchorMu.Lock()
	a, err := s.openAnchors(ctx)
	s.anchorMu.Unlock()
	if err != nil {
		return nil, err
	}
	objs, err := a.Records(ctx, purgesOutside)
	if err != nil {
		return nil, fmt.Errorf("restore: purges outside the database (%s): %w", a.Where(), err)
	}
	names := make([]string, 0, len(objs))
	for name := range objs {
		names = append(names, name)
	}
	sort.Strings(names)
	var here []purgedHere
	for _, name := range names {
		var note purgeNote
		verified := false
		for _, b := range objs[name] {
			if n, err := keys.purge(b); err == nil {
				note, verified = n, true
				break
			}
		}
		if !verified {
			visitID, fileID, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(name, purgesOutside), ".json"), "/")
			switch _, err := s.store.File(ctx, visitID, fileID); {
			case err == nil:
				return here, fmt.Errorf("%w: %s, for a file this database holds (if the signing key was replaced since, give the earlier public key with --trust-key)", errUnverified, name)
			case !errors.Is(err, store.ErrNotFound):
				// Not known not to be here: the check stops, as for a
				// verified note.
				return here, err
			}
			continue
		}
		f, err := s.store.File(ctx, note.VisitID, note.FileID)
		if errors.Is(err, store.ErrNotFound) {
			continue // purged in the backup too, or its visit destroyed
		}
		if err != nil {
			return here, err
		}
		v, err := s.store.Visit(ctx, note.VisitID)
		if err != nil {
			return here, err
		}
		if v.State != StateActive || done[v.ID] {
			continue // destroyed (again): nothing of it is served
		}
		here = append(here, purgedHere{note: note, file: f, visit: v})
	}
	return here, nil
}

// purgeAgain purges again, after a restore, every file a purge note
// outside the database names that the restored database holds
// (purgesHere): its row goes, with its receipt and threads, and what
// stays is the purge as first recorded (who, when, why). Its objects went
// with the first purge; any left are deleted. It returns the files purged
// again. The visits of done (their destruction completed, its certificate
// kept outside the database, which says what was purged) are left to be
// destroyed again as they are: their objects are gone.
func (s *Service) purgeAgain(ctx context.Context, keys trustedKeys, done map[string]bool) ([]string, error) {
	here, err := s.purgesHere(ctx, keys, done)
	if err != nil {
		return nil, err
	}
	var again []string
	for _, h := range here {
		note, f, v := h.note, h.file, h.visit
		key, err := s.keys.Key(ctx, v.ID)
		if err != nil {
			return again, fmt.Errorf("restore: purge again file %s of visit %s: %w", f.ID, v.Reference, err)
		}
		p := store.PurgedFile{FileID: f.ID, VisitID: v.ID, Item: f.Item, Size: note.Size, SHA256: note.SHA256, UploadedBy: note.UploadedBy,
			UploadedAt: note.UploadedAt, PurgedBy: note.PurgedBy, PurgedAt: note.PurgedAt, ReasonSealed: note.ReasonSealed, Again: true,
			Lists: func(r store.Receipt) (bool, error) { return s.receiptLists(key, r, f.ID) }}
		// With the file's item and scan as notesFor reads them: the lead
		// inspector hears of it only if they could list it.
		rec := s.systemRec(v.ID, "file.purged", f.ID, map[string]any{"sha256": note.SHA256, "size": note.Size, "item": f.Item, "scan": f.Scan,
			"reapplied": "purge recorded outside the database", "purged_at": note.PurgedAt.UTC().Format(time.RFC3339)})
		if err := s.evidence.Purge(ctx, v, p, rec); err != nil && !errors.Is(err, store.ErrNotFound) {
			return again, fmt.Errorf("restore: purge again file %s of visit %s: %w", f.ID, v.Reference, err)
		}
		s.log.Warn("file purged again after a restore", "visit", v.ID, "reference", v.Reference, "file", f.ID)
		again = append(again, f.ID)
	}
	return again, nil
}
