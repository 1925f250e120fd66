package portal

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/portal/blobs"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// What a restore reads outside the database, and the keys it trusts.

// trustedKeys are the signing public keys a restore accepts: the portal's
// own first, then earlier ones the operator names.
type trustedKeys []ed25519.PublicKey

func (s *Service) trustedKeys(extra []ed25519.PublicKey) trustedKeys {
	return append(trustedKeys{s.signer.Public().(ed25519.PublicKey)}, extra...)
}

// signNote is the note v outside the database (its JSON), signed with
// key in the certificates' envelope.
func signNote(key ed25519.PrivateKey, v any) []byte {
	body, _ := json.Marshal(v)
	return retention.SignBody(body, key)
}

// openNote reads the body of a note outside the database as a T: verified
// when one of k signed it; when none did, read unchecked, for a caller
// that must weigh a note signed with a key replaced since. ok is false
// when b holds no body that reads as a T.
func openNote[T any](k trustedKeys, b []byte) (v T, verified, ok bool) {
	for _, key := range k {
		if body, err := retention.OpenSigned(b, key); err == nil {
			return v, true, json.Unmarshal(body, &v) == nil
		}
	}
	var env retention.Signed
	return v, false, json.Unmarshal(b, &env) == nil && json.Unmarshal(env.Certificate, &v) == nil
}

func (k trustedKeys) tombstone(b []byte) (retention.Tombstone, error) {
	err := retention.ErrBadSignature
	for _, key := range k {
		var t retention.Tombstone
		if t, err = retention.VerifyTombstone(b, key); err == nil {
			return t, nil
		}
	}
	return retention.Tombstone{}, err
}

func (k trustedKeys) certificate(b []byte) (retention.Certificate, error) {
	err := retention.ErrBadSignature
	for _, key := range k {
		var c retention.Certificate
		if c, err = retention.Verify(b, key); err == nil {
			return c, nil
		}
	}
	return retention.Certificate{}, err
}

// anchor returns the trusted key an anchored checkpoint names, if its
// signature verifies with it.
func (k trustedKeys) anchor(c store.Checkpoint) (ed25519.PublicKey, bool) {
	for _, key := range k {
		if base64.StdEncoding.EncodeToString(key) != c.PublicKey {
			continue
		}
		err := store.VerifyAnchors([]store.AuditRecord{{Seq: c.Seq, Hash: c.Hash}}, []store.Checkpoint{c}, key)
		return key, err == nil
	}
	return nil, false
}

// claimedVisit is the visit a record outside the database names, before
// its signature is checked (to say which visit an unverified one is for).
func claimedVisit(b []byte) string {
	var signed retention.Signed
	var body struct {
		VisitID string `json:"visit_id"`
	}
	if json.Unmarshal(b, &signed) != nil || json.Unmarshal(signed.Certificate, &body) != nil {
		return ""
	}
	return body.VisitID
}

// errUnverified is a record outside the database that does not verify, for
// a visit live in the database.
var errUnverified = errors.New("a record outside the database does not verify with a trusted key")

// errAnchorsUnread is destroyedOutside's error when the anchor store
// cannot be opened or read.
var errAnchorsUnread = errors.New("restore: the anchor store cannot be read")

// errBucketUnchecked is destroyedOutside's error when the records outside
// were read but the object store did not answer for a live visit's bucket.
var errBucketUnchecked = errors.New("restore: the object store did not answer for a bucket")

type destroyAgain struct {
	visit  store.Visit
	reason string
	// certificate is the visit's signed certificate outside the
	// database, when its destruction had finished: the one kept.
	certificate []byte
	// decided is what the destruction was decided on, as its first note
	// outside the database says (nil: no note, only a certificate or a
	// destruction begun before the backup, or a note written before
	// notes said): the certificate is then made from the database.
	decided *retention.Decision
}

// outsideFindings is what a restore finds outside the database.
type outsideFindings struct {
	again   []destroyAgain
	missing []store.Visit // live, bucket not shown, no record of a destruction
	unknown []string      // destroyed visits this database never held
	// epochs are the key epochs the certificates outside the database
	// name, each with when it was superseded and when its key is to be
	// destroyed, as the certificate signed it.
	epochs []retention.CertKeyEpoch
}

// destroyedOutside returns the visits of this database that are to be
// destroyed (again): each with a signed note or certificate outside the
// database, or that was being destroyed; the live visits whose bucket the
// object store does not show; and the ids of destroyed visits this
// database never held.
//
// A note or certificate that does not verify is not acted on: evidence is
// destroyed on signed records only. But when its visit is live here and
// nothing else says it is destroyed, the restore cannot go on
// (errUnverified): it may be a destruction signed with a key replaced
// since.
//
// A missing bucket proves nothing: every destruction writes its note
// before it deletes anything, so a bucket gone without one is evidence the
// store does not show (a disaster-recovery copy not yet replicated, a
// wrong endpoint, a wiped store), not a destruction. Taking it for one
// would delete the key of every live visit, held ones too, for good.
func (s *Service) destroyedOutside(ctx context.Context, keys trustedKeys) (outsideFindings, error) {
	var found outsideFindings
	s.anchorMu.Lock()
	a, err := s.openAnchors(ctx)
	s.anchorMu.Unlock()
	if err != nil {
		return found, fmt.Errorf("%w: %w", errAnchorsUnread, err)
	}
	objs, err := a.Records(ctx, "destructions/")
	if err != nil {
		return found, fmt.Errorf("%w: destructions outside the database (%s): %w", errAnchorsUnread, a.Where(), err)
	}
	recorded, unverified := map[string]string{}, map[string]string{}
	certs, issued := map[string][]byte{}, map[string]time.Time{}
	// The first note of each visit's destruction: a restore before this
	// one may have written another as it destroyed the visit again.
	first := map[string]retention.Tombstone{}
	names := make([]string, 0, len(objs))
	for name := range objs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		// Every version of the name counts: one that verifies is the
		// record, whatever was put over it since.
		for _, b := range objs[name] {
			switch {
			case strings.HasSuffix(name, "/started.json"):
				t, err := keys.tombstone(b)
				if err != nil {
					unverified[claimedVisit(b)] = name
					continue
				}
				recorded[t.VisitID] = "destruction recorded outside the database"
				if f, ok := first[t.VisitID]; !ok || t.StartedAt.Before(f.StartedAt) || t.StartedAt.Equal(f.StartedAt) && f.Decided == nil {
					first[t.VisitID] = t
				}
			case strings.HasSuffix(name, "/certificate.json"):
				c, err := keys.certificate(b)
				if err != nil {
					unverified[claimedVisit(b)] = name
					continue
				}
				recorded[c.VisitID] = "destruction certificate outside the database"
				if c.KeyEpoch != nil {
					found.epochs = append(found.epochs, *c.KeyEpoch)
				}
				// The first one issued is the visit's certificate (a
				// restore before this one may have put another over it).
				if at, ok := issued[c.VisitID]; !ok || c.IssuedAt.Before(at) {
					certs[c.VisitID], issued[c.VisitID] = b, c.IssuedAt
				}
			}
		}
	}
	visits, err := s.store.Visits(ctx)
	if err != nil {
		return found, err
	}
	var bucketErr error
	here := map[string]bool{}
	for _, v := range visits {
		here[v.ID] = true
		if v.State == StateDestroyed {
			continue
		}
		reason, ok := recorded[v.ID]
		if !ok && v.State == StateDestroying {
			reason, ok = "being destroyed when the backup was taken", true
		}
		if ok {
			found.again = append(found.again, destroyAgain{v, reason, certs[v.ID], first[v.ID].Decided})
			continue
		}
		if name, bad := unverified[v.ID]; bad {
			return found, fmt.Errorf("%w: %s, for visit %s which is live in this database (if the signing key was replaced since, give the earlier public key with --trust-key)", errUnverified, name, v.Reference)
		}
		if bucketErr != nil {
			continue // the store is not answering: not asked again for each visit
		}
		exists, err := s.blobs.BucketExists(ctx, v.Bucket)
		if err != nil {
			// The visits the records prove destroyed are found all the
			// same: the proof does not depend on the object store.
			if bucketErr == nil {
				bucketErr = fmt.Errorf("%w: bucket of visit %s: %w", errBucketUnchecked, v.ID, err)
			}
			continue
		}
		if !exists {
			found.missing = append(found.missing, v)
		}
	}
	for id := range recorded {
		if !here[id] {
			found.unknown = append(found.unknown, id)
		}
	}
	sort.Strings(found.unknown)
	return found, bucketErr
}

// restoreIntentPrefix is where a restore's intents are kept in the anchor
// store: more than one when portal restore --resume --confirm writes
// another, each under a name of its own (a folder keeps the first file
// of a name and ignores the rest).
func restoreIntentPrefix(restoreID string) string { return "restores/" + restoreID + "/" }

// IntendRestore checks the backup m, then writes, to the anchor store cfg
// names and signed with its signing key, the intent of restore id: the
// trail it brings back ends at record m.AuditSeq (m.AuditHash), from the
// backup taken at m.CreatedAt. portal restore calls it before it changes
// anything; FinishRestore marks the trail only for a restore with one
// (ErrNoRestoreIntent).
//
// The manifest's signature must verify with the signing key or one of
// trusted (VerifyManifest). An unsigned manifest (a backup taken before
// they were signed, or a signed one stripped of its signature) is taken
// only when acceptUnsigned: then the intent, and the trail when the
// restore finishes, say so. Anchors are no substitute: they vouch for the
// trail, not for the other tables of the copy. signed reports which.
func IntendRestore(ctx context.Context, cfg Config, id string, m Manifest, trusted []ed25519.PublicKey, acceptUnsigned bool) (signed bool, err error) {
	key, err := retention.LoadSigningKey(cfg.SigningKey)
	if err != nil {
		return false, err
	}
	keys := append([]ed25519.PublicKey{key.Public().(ed25519.PublicKey)}, trusted...)
	err = VerifyManifest(m, keys...)
	if err != nil && !errors.Is(err, ErrUnsignedBackup) {
		return false, err
	}
	signed = err == nil
	b, err := blobs.New(cfg.blobsConfig(nil))
	if err != nil {
		return false, err
	}
	a, err := OpenAnchors(ctx, cfg, b)
	if err != nil {
		return false, fmt.Errorf("audit anchors: %w", err)
	}
	if !signed && !acceptUnsigned {
		return false, fmt.Errorf("%w: nothing vouches for the copy, which someone who can write to the backups could have changed (any table, and the records after "+
			"its last anchored checkpoint) and then fixed the manifest's digests and taken its signature away. Nothing was restored. Restore a signed backup; or, "+
			"if this backup was taken before backups were signed and has been in safe keeping, give --accept-unsigned (the restore's intent and the trail then "+
			"say the backup was not signed)", ErrUnsignedBackup)
	}
	return signed, writeIntent(ctx, a, key, id, m.CreatedAt, m.AuditSeq, m.AuditHash, !signed)
}

// IntendRestore writes the intent of the pending restore r for the trail
// as this database holds it now: the operator's confirmation (portal
// restore --resume --confirm) that r is a restore they made.
func (s *Service) IntendRestore(ctx context.Context, r store.Restore) error {
	seq, hash, err := s.store.AuditHead(ctx)
	if err != nil {
		return err
	}
	s.anchorMu.Lock()
	a, err := s.openAnchors(ctx)
	s.anchorMu.Unlock()
	if err != nil {
		return err
	}
	return writeIntent(ctx, a, s.signer, r.ID, r.BackupCreatedAt, seq, hash, false)
}

func writeIntent(ctx context.Context, a Anchors, key ed25519.PrivateKey, id string, created time.Time, seq int64, hash string, unsigned bool) error {
	last, _, err := a.Last(ctx)
	if err != nil {
		return fmt.Errorf("restore intent: the last anchor (%s): %w", a.Where(), err)
	}
	in := store.SignRestoreIntent(store.RestoreIntent{RestoreID: id, BackupCreatedAt: created, RestoredSeq: seq, RestoredHash: hash,
		AnchoredSeq: last.Seq, AnchoredHash: last.Hash, WrittenAt: time.Now(), UnsignedBackup: unsigned}, key)
	body, _ := json.Marshal(in)
	if err := a.PutRecord(ctx, restoreIntentPrefix(id)+"intent-"+store.NewID()+".json", body); err != nil {
		return fmt.Errorf("restore intent (%s): %w", a.Where(), err)
	}
	return nil
}

// unsignedBackup reports whether restore r's intent says its backup was
// not signed (IntendRestore with acceptUnsigned).
func (s *Service) unsignedBackup(ctx context.Context, r store.Restore, keys trustedKeys) (bool, error) {
	s.anchorMu.Lock()
	a, err := s.openAnchors(ctx)
	s.anchorMu.Unlock()
	if err != nil {
		return false, err
	}
	objs, err := a.Records(ctx, restoreIntentPrefix(r.ID))
	if err != nil {
		return false, fmt.Errorf("restore intents (%s): %w", a.Where(), err)
	}
	for _, versions := range objs {
		for _, b := range versions {
			for _, key := range keys {
				if in, err := store.ParseRestoreIntent(b, key); err == nil && in.RestoreID == r.ID && in.UnsignedBackup {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// intended checks that the anchor store holds an intent, signed with a
// trusted key, for restore r of the trail as it is (ending at seq, hash)
// with last as the last anchor: the restore is the operator's, and its
// mark has not been made and anchored since (ErrNoRestoreIntent).
func (s *Service) intended(ctx context.Context, r store.Restore, seq int64, hash string, last store.Checkpoint, keys trustedKeys) error {
	s.anchorMu.Lock()
	a, err := s.openAnchors(ctx)
	s.anchorMu.Unlock()
	if err != nil {
		return err
	}
	objs, err := a.Records(ctx, restoreIntentPrefix(r.ID))
	if err != nil {
		return fmt.Errorf("restore intents (%s): %w", a.Where(), err)
	}
	for _, versions := range objs {
		for _, b := range versions {
			for _, key := range keys {
				in, err := store.ParseRestoreIntent(b, key)
				if err == nil && in.RestoreID == r.ID && in.BackupCreatedAt.Equal(r.BackupCreatedAt) && in.RestoredSeq == seq && in.RestoredHash == hash &&
					in.AnchoredSeq == last.Seq && in.AnchoredHash == last.Hash {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("%w: restore %s (the trail ends at record %d; the last anchored record is %d) is pending in the database, but the anchor store (%s) holds no intent for it, "+
		"signed with the signing key, that matches the trail and the anchors as they are. portal restore writes one before it changes anything, so this restore was not begun "+
		"with portal restore, or the trail or the anchors changed since. Nothing is served until you know which: if you restored this database yourself, run "+
		"portal restore --resume --confirm %s; if not, someone who can write to the database added it, very likely to hide records cut from the trail: copy the "+
		"database and the anchors and follow docs/operating.md: The audit chain reports a break",
		ErrNoRestoreIntent, r.ID, seq, last.Seq, a.Where(), r.ID)
}
