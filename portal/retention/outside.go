package retention

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// What a destruction writes outside the database (Service.Outside: the
// audit anchor store, write-once), so that a database restored from a
// backup taken before it can be told: a signed note that the visit is
// being destroyed, written before its key is deleted, and the signed
// certificate, written before the destruction is marked complete. A
// restore applies every one of them again (Reapply).

// TombstoneType is the type of the note written before a key is deleted.
const TombstoneType = "evidence-portal destruction started v1"

// Tombstone says that a visit's destruction began: from then on, whatever
// a restored database says, the visit is to be destroyed.
type Tombstone struct {
	Type           string    `json:"type"`
	VisitID        string    `json:"visit_id"`
	Reference      string    `json:"reference"`
	Bucket         string    `json:"bucket"`
	KeyFingerprint string    `json:"key_fingerprint"`
	StartedAt      time.Time `json:"started_at"`
	// Decided is what the destruction was decided on (absent from notes
	// written before notes carried it): a restore that must finish the
	// destruction certifies this, not what an older backup holds.
	Decided *Decision `json:"decided,omitempty"`
}

// Decision is what a destruction was decided on: the notice the
// administrators were given, the approval of one of them, and the date.
// Each is absent when there was none (a visit destroyed without a
// publication date, or without a notice).
type Decision struct {
	Notice   *CertNotice   `json:"notice,omitempty"`
	Approval *CertApproval `json:"approval,omitempty"`
	Due      *CertDue      `json:"due,omitempty"`
}

// TombstoneName is where a visit's tombstone is kept outside the database.
func TombstoneName(visitID string) string { return "destructions/" + visitID + "/started.json" }

// CertificateName is where a visit's certificate is kept outside the
// database.
func CertificateName(visitID string) string { return "destructions/" + visitID + "/certificate.json" }

// VerifyTombstone checks a signed tombstone against the trusted key.
func VerifyTombstone(signed []byte, trusted ed25519.PublicKey) (Tombstone, error) {
	body, err := OpenSigned(signed, trusted)
	if err != nil {
		return Tombstone{}, err
	}
	var t Tombstone
	if err := json.Unmarshal(body, &t); err != nil || t.Type != TombstoneType || t.VisitID == "" {
		return Tombstone{}, errors.New("retention: signed, but not a destruction note")
	}
	return t, nil
}

// noteStarted writes the visit's tombstone outside the database, before
// its key goes, with what the destruction was decided on: decided when
// given (a destruction done again after a restore, as its first note
// says), else as the database holds it. A destruction done again whose
// first note does not say (written before notes did) says nothing of it:
// the restored database may predate the decision, and a signed note is
// not the place for a guess.
func (s *Service) noteStarted(ctx context.Context, v store.Visit, d store.Destruction, reapplied bool, decided *Decision) error {
	if s.Outside == nil {
		return nil
	}
	if decided == nil && !reapplied {
		var err error
		if decided, err = s.decision(ctx, v, d); err != nil {
			return err
		}
	}
	body, _ := json.Marshal(Tombstone{Type: TombstoneType, VisitID: v.ID, Reference: d.Reference, Bucket: v.Bucket,
		KeyFingerprint: d.KeyFingerprint, StartedAt: d.StartedAt.UTC(), Decided: decided})
	return s.Outside(ctx, TombstoneName(v.ID), SignBody(body, s.Signer))
}

// Reapply destroys again, at once, a visit that a restored database still
// holds although its destruction was recorded outside the database (or
// it was being destroyed when the backup was taken). Neither date, notice
// nor hold stops it: the destruction was decided, and done, already. A
// missing bucket alone is no such record, and never reason to call it. Nothing is read from the object store before
// the key is gone, and the key goes through the store's own deletion.
//
// issued is the visit's signed certificate found outside the database,
// when there is one (its destruction had finished): it stays the visit's
// certificate, and no other is signed. A second one, with the restore's
// times and the counts of a bucket already gone, would contradict the one
// administrators were given; what the restore did is in the audit trail.
//
// decided is what the destruction was decided on, as its note outside the
// database says (nil: an earlier note, which does not say): the
// certificate signed names it, not the notice and dates of a backup taken
// before it.
func (s *Service) Reapply(ctx context.Context, v store.Visit, reason string, issued []byte, decided *Decision) error {
	if v.State == "destroyed" {
		return nil
	}
	_, err := s.Store.GetDestruction(ctx, v.ID)
	if errors.Is(err, store.ErrNotFound) {
		fp := ""
		switch k, err := s.Store.WrappedKey(ctx, v.ID); {
		case err == nil:
			fp = k.Fingerprint
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if err := listAgain(func() error {
			version, files, list, err := s.listFiles(ctx, v)
			if err != nil {
				return err
			}
			d := store.Destruction{VisitID: v.ID, Reference: v.Reference, KeyFingerprint: fp, Files: list, StartedAt: s.Now(), FilesVersion: version}
			for _, f := range files {
				d.SegmentsExpected += f.Segments
			}
			return s.Store.BeginDestructionAgain(ctx, d, s.audit(v.ID, "destruction.started", v.ID, map[string]any{
				"files": len(files), "reapplied": reason})...)
		}); err != nil {
			return err
		}
		s.Log.Warn("destruction applied again after a restore", "visit", v.ID, "reference", v.Reference, "reason", reason)
	} else if err != nil {
		return err
	}
	return s.destroy(ctx, v, true, issued, decided, store.Notice{})
}
