package portal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/blobs"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Key epochs: the key hierarchy is master key → epoch key → visit key.
//
// Every visit key is wrapped to the current epoch's key; the epoch keys are
// kept, wrapped to the master key, in the key bucket (PORTAL_KEY_BUCKET),
// never in the database. Right after a visit's key is destroyed the portal
// starts a new epoch, re-wrapping every live visit key to it in one
// transaction; the old epoch's key is destroyed (every version of its
// object, then recorded) PORTAL_KEY_EPOCH_RETAIN later, once the backups
// taken before the move have expired. A copy of the database from before
// the destruction (a backup, an archived log, a replica) holds the visit
// key wrapped to that old epoch only: from then on, the master key and
// everything the portal still holds cannot open it.
//
// Invariants: an epoch's key object is written before any visit key is
// wrapped to it; an epoch is retired only when no live key is wrapped to
// it (stragglers, a visit created while the epoch moved, are moved first);
// epochs start and retire one process at a time (the key-epoch lease).

// epochVault is the key bucket: one object per epoch. The bucket has no
// object lock, so an epoch key can be destroyed at once, every version.
type epochVault struct {
	blobs  *blobs.Store
	bucket string
}

func epochObject(id string) string { return "epochs/" + id + ".age" }

func (v *epochVault) put(ctx context.Context, id string, wrapped []byte) error {
	return v.blobs.PutSmall(ctx, v.bucket, epochObject(id), wrapped)
}

func (v *epochVault) get(ctx context.Context, id string) ([]byte, error) {
	return v.blobs.GetSmall(ctx, v.bucket, epochObject(id))
}

// destroy removes every version of the epoch's object and checks that a
// listing finds none.
func (v *epochVault) destroy(ctx context.Context, id string) error {
	if err := v.blobs.RemovePrefix(ctx, v.bucket, epochObject(id)); err != nil {
		return err
	}
	left, err := v.blobs.Versions(ctx, v.bucket, epochObject(id))
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("key epoch %s: %d versions of its key are still stored", id, len(left))
	}
	return nil
}

// ErrEpochRetired says a visit key is wrapped to an epoch whose key has been
// destroyed.
var ErrEpochRetired = errors.New("the key epoch this key is wrapped to has been retired")

// epoch returns the key that wraps keys of epoch id ("": the master key).
func (k *Keyring) epoch(ctx context.Context, id string) (*crypto.MasterKey, error) {
	if id == "" {
		return k.master, nil
	}
	k.mu.Lock()
	e, ok := k.epochs[id]
	k.mu.Unlock()
	if ok {
		return e, nil
	}
	if k.vault == nil {
		return nil, keyUnopened{fmt.Errorf("key epoch %s: no key bucket configured", id)}
	}
	row, err := k.store.GetEpoch(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("key epoch %s: %w", id, err)
	}
	if !row.RetiredAt.IsZero() {
		return nil, keyUnopened{ErrEpochRetired}
	}
	wrapped, err := k.vault.get(ctx, id)
	if err != nil {
		return nil, keyUnopened{fmt.Errorf("key epoch %s: %w", id, err)}
	}
	e, err = k.master.UnwrapEpoch(wrapped)
	if err != nil || e.Recipient() != row.Recipient {
		return nil, keyUnopened{fmt.Errorf("key epoch %s: %w", id, crypto.ErrUnwrap)}
	}
	k.mu.Lock()
	k.epochs[id] = e
	k.mu.Unlock()
	return e, nil
}

// pruneEpochs forgets the epoch keys another process has retired.
func (k *Keyring) pruneEpochs(ctx context.Context) error {
	all, err := k.store.Epochs(ctx)
	if err != nil {
		return err
	}
	for _, e := range all {
		if !e.RetiredAt.IsZero() {
			k.dropEpoch(e.ID)
		}
	}
	return nil
}

// dropEpoch forgets an epoch's key (retired).
func (k *Keyring) dropEpoch(id string) {
	k.mu.Lock()
	delete(k.epochs, id)
	k.mu.Unlock()
}

// opensCurrent checks that the master key opens the current epoch's key as
// stored in the key bucket now (not as cached): after a rotation of the
// master key, an instance not yet restarted holds the old one, and an
// epoch it started would be wrapped to that key alone, with every live
// visit key moved to it. No current epoch (the first is being started) is
// nothing to check.
func (k *Keyring) opensCurrent(ctx context.Context) error {
	cur, err := k.store.CurrentEpoch(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return k.opensStored(ctx, k.master, cur)
}

// checkCurrent is readiness's check of the master key against the key
// bucket: nil when it opens the current epoch's key there (or there is no
// epoch yet, or no key bucket). When it does not (crypto.ErrUnwrap), held
// says whether this instance holds that epoch's key in memory all the
// same: it opened it before the master key was rotated.
func (k *Keyring) checkCurrent(ctx context.Context) (held bool, err error) {
	if k.vault == nil {
		return false, nil
	}
	cur, err := k.store.CurrentEpoch(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := k.opensStored(ctx, k.master, cur); err != nil {
		k.mu.Lock()
		_, held = k.epochs[cur.ID]
		k.mu.Unlock()
		return held, err
	}
	return false, nil
}

// opensStored checks that m opens epoch e's key object in the key bucket,
// and that it is e's key.
func (k *Keyring) opensStored(ctx context.Context, m *crypto.MasterKey, e store.Epoch) error {
	wrapped, err := k.vault.get(ctx, e.ID)
	if err != nil {
		return fmt.Errorf("key epoch %s: %w", e.ID, err)
	}
	if got, err := m.UnwrapEpoch(wrapped); err != nil || got.Recipient() != e.Recipient {
		return fmt.Errorf("key epoch %s: its key in the key bucket does not open with this master key (the master key was rotated, or this is the wrong key file): %w",
			e.ID, crypto.ErrUnwrap)
	}
	return nil
}

// rewrap moves a stored key to the epoch to, checking that it opens as its
// visit's key (bound to it, with its fingerprint): a row that does not is
// refused, never moved and bound.
func (k *Keyring) rewrap(ctx context.Context, vk store.VisitKey, to *crypto.MasterKey) ([]byte, error) {
	from, err := k.epoch(ctx, vk.Epoch)
	if err != nil {
		return nil, err
	}
	key, err := from.UnwrapFor(vk.Wrapped, vk.VisitID)
	if err == nil && key.Fingerprint() != vk.Fingerprint {
		err = crypto.ErrUnwrap
	}
	if err != nil {
		return nil, err // the store names the visit
	}
	return to.WrapFor(key, vk.VisitID)
}

const epochLease = "key-epoch"

// epochLeaseTTL is how long the key-epoch lease is held without a
// renewal; it is renewed every third of that while the work goes on.
const epochLeaseTTL = 5 * time.Minute

// withEpochLease runs fn holding the key-epoch lease, waiting up to a
// minute for other work (another process's, or another task of this one:
// keepLease) to finish with it. The lease is renewed
// while fn runs (a rotation re-wraps every key; a store may be slow), and
// the context fn is given ends when it is lost, so that two processes
// never start, retire or destroy epoch keys together.
func (s *Service) withEpochLease(ctx context.Context, fn func(ctx context.Context) error) error {
	kept, release, err := s.awaitLease(ctx, epochLease, s.epochLease, time.Minute)
	if errors.Is(err, errLeaseBusy) {
		return errors.New("key epoch: the key-epoch lease is held by other key epoch work (this process's or another's) that has not finished within a minute")
	}
	if err != nil {
		return err
	}
	defer release()
	return fn(kept)
}

// startEpoch makes a new epoch current and moves every live key to it; the
// caller holds the lease. A new epoch caused by a visit's destruction is
// recorded as part of that visit's destruction (visitID); one an operator
// asked for (by: OperatorActor), as theirs; any other as the portal's.
func (s *Service) startEpoch(ctx context.Context, reason, visitID string, by Actor) (store.Epoch, int, error) {
	if s.keys.vault == nil {
		return store.Epoch{}, 0, errors.New("key epoch: no key bucket configured")
	}
	if err := s.keys.opensCurrent(ctx); err != nil {
		return store.Epoch{}, 0, err
	}
	now := s.now()
	text, err := crypto.GenerateEpochKey(now)
	if err != nil {
		return store.Epoch{}, 0, err
	}
	key, err := crypto.ParseMasterKey(bytes.NewReader(text))
	if err != nil {
		return store.Epoch{}, 0, err
	}
	wrapped, err := s.keys.master.WrapEpoch(text)
	if err != nil {
		return store.Epoch{}, 0, err
	}
	e := store.Epoch{ID: store.NewID(), Recipient: key.Recipient(), CreatedAt: now}
	if err := s.blobs.EnsurePlainBucket(ctx, s.keys.vault.bucket); err != nil {
		return store.Epoch{}, 0, err
	}
	if err := s.keys.vault.put(ctx, e.ID, wrapped); err != nil {
		return store.Epoch{}, 0, err
	}
	s.keys.mu.Lock()
	s.keys.epochs[e.ID] = key
	s.keys.mu.Unlock()
	retireAfter := now.Add(s.cfg.KeyEpochRetain)
	detail := map[string]any{"reason": reason, "recipient": e.Recipient, "retire_previous_after": retireAfter.UTC().Format(time.RFC3339)}
	rec := s.systemRec(visitID, "key.epoch_started", e.ID, detail)
	if by.Operator != "" {
		rec = newRec(now, by, "key.epoch_started", e.ID, "success", detail)
	}
	n, err := s.store.StartEpoch(ctx, e, retireAfter, func(vk store.VisitKey) ([]byte, error) { return s.keys.rewrap(ctx, vk, key) }, rec)
	if err != nil {
		return store.Epoch{}, 0, err
	}
	s.log.Info("key epoch started", "epoch", e.ID, "reason", reason, "keys_moved", n)
	s.reportStrayKeys(ctx)
	return e, n, nil
}

// reportStrayKeys logs, as an error for the operator, each key row
// the epochs' moves leave where it is: a destroyed visit's, stored again
// (store.DestroyedVisitKeys), which goes with its epoch's key; and one
// wrapped to the master key though epochs began (store.KeysOutsideEpochs),
// which is refused where it is read. Neither was written by the portal.
func (s *Service) reportStrayKeys(ctx context.Context) {
	ids, err := s.store.DestroyedVisitKeys(ctx)
	if err != nil {
		s.log.Error("look for keys of destroyed visits", "err", err)
	}
	for _, id := range ids {
		s.log.Error("a destroyed visit's key is stored again: it was put back from a copy of the database, and is not moved to a new key epoch", "visit", id)
	}
	outside, err := s.store.KeysOutsideEpochs(ctx)
	if err != nil {
		s.log.Error("look for keys outside the key epochs", "err", err)
	}
	for _, id := range outside {
		s.log.Error("a visit's key is wrapped to the master key, though key epochs began: it was not written by the portal, is refused, and is not moved to a new key epoch", "visit", id)
	}
}

// EnsureKeyEpoch starts the first epoch if there is none (moving keys
// wrapped to the master key by earlier versions into it), or a new one
// when the current epoch was started by an earlier version, whose key
// accepts visit keys bound to no visit (crypto.MasterKey.WrapFor): every
// live key moves, bound, to an epoch that refuses unbound ones.
func (s *Service) EnsureKeyEpoch(ctx context.Context) error {
	cur, err := s.store.CurrentEpoch(ctx)
	if err == nil {
		return s.ensureBinding(ctx, cur)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return s.withEpochLease(ctx, func(ctx context.Context) error {
		if _, err := s.store.CurrentEpoch(ctx); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		_, _, err := s.startEpoch(ctx, "first", "", Actor{})
		return err
	})
}

// ensureBinding starts a new epoch when the current one, cur, does not
// bind the keys wrapped to it.
func (s *Service) ensureBinding(ctx context.Context, cur store.Epoch) error {
	e, err := s.keys.epoch(ctx, cur.ID)
	if err != nil {
		return err
	}
	if e.BindsKeys() {
		return nil
	}
	return s.withEpochLease(ctx, func(ctx context.Context) error {
		now, err := s.store.CurrentEpoch(ctx)
		if err != nil || now.ID != cur.ID {
			return err // moved on meanwhile: to an epoch of this version
		}
		_, _, err = s.startEpoch(ctx, "visit keys bound", "", Actor{})
		return err
	})
}

// RotateKeyEpoch starts a new epoch now (`portal key new-epoch`), recorded
// as by's act.
func (s *Service) RotateKeyEpoch(ctx context.Context, by Actor, reason string) (e store.Epoch, moved int, err error) {
	err = s.withEpochLease(ctx, func(ctx context.Context) error {
		e, moved, err = s.startEpoch(ctx, reason, "", by)
		return err
	})
	return e, moved, err
}

// wrapVisitKey wraps a new visit key to the current epoch, bound to the
// visit visitID.
func (s *Service) wrapVisitKey(ctx context.Context, key *crypto.VisitKey, visitID string) ([]byte, string, error) {
	if s.keys.vault == nil {
		w, err := s.keys.master.WrapFor(key, visitID)
		return w, "", err
	}
	cur, err := s.store.CurrentEpoch(ctx)
	if errors.Is(err, store.ErrNotFound) {
		if err := s.EnsureKeyEpoch(ctx); err != nil {
			return nil, "", err
		}
		cur, err = s.store.CurrentEpoch(ctx)
	}
	if err != nil {
		return nil, "", err
	}
	e, err := s.keys.epoch(ctx, cur.ID)
	if err != nil {
		return nil, "", err
	}
	w, err := e.WrapFor(key, visitID)
	return w, cur.ID, err
}

// epochSuperseder lets destruction supersede the epoch of a destroyed key.
type epochSuperseder struct{ s *Service }

// Supersede starts a new epoch if id is still current (recorded as part of
// the destruction of visitID); either way it returns when id was
// superseded and from when its key may be destroyed.
func (p epochSuperseder) Supersede(ctx context.Context, id, visitID string) (time.Time, time.Time, error) {
	s := p.s
	var e store.Epoch
	err := s.withEpochLease(ctx, func(ctx context.Context) error {
		var err error
		if e, err = s.store.GetEpoch(ctx, id); err != nil {
			return err
		}
		if !e.SupersededAt.IsZero() {
			return nil
		}
		if _, _, err := s.startEpoch(ctx, "destruction", visitID, Actor{}); err != nil {
			return err
		}
		e, err = s.store.GetEpoch(ctx, id)
		return err
	})
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("supersede key epoch %s: %w", id, err)
	}
	return e.SupersededAt, e.RetireAfter, nil
}

// RetireKeyEpochs destroys the keys of superseded epochs whose retention
// has run out: any live key still wrapped to one is moved to the current
// epoch first, then every version of the epoch's key object is removed and
// checked gone, then the retirement is recorded. It returns how many it
// retired.
func (s *Service) RetireKeyEpochs(ctx context.Context) (int, error) {
	if s.keys.vault == nil {
		return 0, nil
	}
	due, err := s.store.EpochsDue(ctx, s.now())
	if err != nil || len(due) == 0 {
		return 0, err
	}
	// A clock running ahead would retire an epoch early: a backup still
	// inside its window could no longer be restored.
	if err := s.clockAgrees(ctx); err != nil {
		return 0, err
	}
	n := 0
	err = s.withEpochLease(ctx, func(ctx context.Context) error {
		// Read again under the lease: another instance may have retired
		// them while this one waited for it.
		due, err := s.store.EpochsDue(ctx, s.now())
		if err != nil || len(due) == 0 {
			return err
		}
		cur, err := s.store.CurrentEpoch(ctx)
		if err != nil {
			return err
		}
		to, err := s.keys.epoch(ctx, cur.ID)
		if err != nil {
			return err
		}
		for _, e := range due {
			moved, err := s.store.MoveEpochKeys(ctx, e.ID, cur.ID, func(vk store.VisitKey) ([]byte, error) { return s.keys.rewrap(ctx, vk, to) })
			if err != nil {
				return err
			}
			if err := s.retireEpoch(ctx, e, moved); err != nil {
				return err
			}
			s.log.Info("key epoch retired", "epoch", e.ID, "superseded_at", e.SupersededAt, "stragglers_moved", moved)
			n++
		}
		if len(due) > 0 {
			s.reportStrayKeys(ctx)
		}
		return nil
	})
	return n, err
}

// retireEpoch destroys every version of epoch e's key object, checks them
// gone, and records the retirement (moved: the stragglers moved off it
// first). The caller holds the key-epoch lease.
func (s *Service) retireEpoch(ctx context.Context, e store.Epoch, moved int) error {
	if err := s.keys.vault.destroy(ctx, e.ID); err != nil {
		return err
	}
	s.keys.dropEpoch(e.ID)
	return s.store.RetireEpoch(ctx, e.ID, s.now(), s.systemRec("", "key.epoch_retired", e.ID, map[string]any{
		"superseded_at": e.SupersededAt.UTC().Format(time.RFC3339), "stragglers_moved": moved}))
}

// retirementCutOff says whether epoch e, whose key object is missing from
// the key bucket, is one the janitor was retiring when it stopped (after
// destroying the key, before recording it): superseded, due, and with no
// live key wrapped to it. Any other epoch missing its key has lost a key
// it still needs, which is never passed over. The caller holds the
// key-epoch lease.
func (s *Service) retirementCutOff(ctx context.Context, e store.Epoch) (bool, error) {
	if e.SupersededAt.IsZero() || !e.RetiredAt.IsZero() || e.RetireAfter.After(s.now()) {
		return false, nil
	}
	n, err := s.store.KeysInEpoch(ctx, e.ID)
	return n == 0, err
}

// RemoveOrphanEpochKeys destroys the key objects in the key bucket that
// no epoch row names: a process that stopped while starting an epoch,
// after writing its key and before the database committed the epoch,
// left one; nothing is wrapped to it and nothing would retire it. One is
// taken only once PORTAL_KEY_EPOCH_RETAIN has passed since it was
// written, as for a superseded epoch: an epoch being started now is
// younger, and so is one that a database backup still kept may name (a
// restore of an older backup leaves the later epochs' keys without rows,
// and the backup taken after them may yet be restored). Only objects the
// master key opens are taken (a key bucket shared by mistake with
// another deployment is not emptied of its keys). Each is recorded
// (key.epoch_orphan_destroyed) before it is destroyed, once: a round that
// finds the record of one still stored finishes it. It returns how many
// it removed.
func (s *Service) RemoveOrphanEpochKeys(ctx context.Context) (int, error) {
	if s.keys.vault == nil {
		return 0, nil
	}
	orphans, err := s.orphanEpochKeys(ctx)
	if err != nil || len(orphans) == 0 {
		return 0, err
	}
	// A clock running ahead would take an epoch key too early.
	if err := s.clockAgrees(ctx); err != nil {
		return 0, err
	}
	n := 0
	err = s.withEpochLease(ctx, func(ctx context.Context) error {
		// Again under the lease: no epoch is being started meanwhile.
		orphans, err := s.orphanEpochKeys(ctx)
		if err != nil {
			return err
		}
		for _, o := range orphans {
			// Recorded before it goes: a key destroyed and then not
			// recorded (the database refusing, the process stopping)
			// would be gone for good with no record, since no later
			// round finds the object again. A record whose destruction
			// did not finish is finished here, not recorded twice.
			recs, err := s.store.AuditRecords(ctx, store.AuditFilter{Action: "key.epoch_orphan_destroyed", Object: o.id, Limit: 1})
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				if err := s.store.Audit(ctx, s.systemRec("", "key.epoch_orphan_destroyed", o.id, map[string]any{
					"written_at": o.written.UTC().Format(time.RFC3339), "recipient": o.recipient})); err != nil {
					return err
				}
			}
			if err := s.keys.vault.destroy(ctx, o.id); err != nil {
				return err
			}
			s.keys.dropEpoch(o.id)
			s.log.Warn("key epoch: removed a key no epoch names (an epoch whose start was cut off)", "epoch", o.id, "written_at", o.written)
			n++
		}
		return nil
	})
	return n, err
}

// orphanEpoch is a key object in the key bucket that no epoch row names.
type orphanEpoch struct {
	id, recipient string
	written       time.Time // its newest version
}

// orphanEpochKeys lists the key objects no epoch row names, written more
// than KeyEpochRetain ago, that the master key opens.
func (s *Service) orphanEpochKeys(ctx context.Context) ([]orphanEpoch, error) {
	written, err := s.unnamedEpochKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []orphanEpoch
	before := s.now().Add(-s.cfg.KeyEpochRetain)
	for id, at := range written {
		if !at.Before(before) {
			continue
		}
		wrapped, err := s.keys.vault.get(ctx, id)
		if err != nil {
			continue // only delete markers, or gone meanwhile
		}
		k, err := s.keys.master.UnwrapEpoch(wrapped)
		if err != nil {
			continue // not wrapped to this master key: not ours to judge
		}
		out = append(out, orphanEpoch{id: id, recipient: k.Recipient(), written: at})
	}
	return out, nil
}

// KeyEpochs lists the key epochs, oldest first (`portal key epochs`).
func (s *Service) KeyEpochs(ctx context.Context) ([]store.Epoch, error) { return s.store.Epochs(ctx) }

// KeysInEpoch counts the live visit keys wrapped to an epoch.
func (s *Service) KeysInEpoch(ctx context.Context, id string) (int, error) {
	return s.store.KeysInEpoch(ctx, id)
}

// CheckVisitKey opens a visit's stored key through its epoch (or the master
// key) and checks its fingerprint: an operator's check after a rotation.
func (s *Service) CheckVisitKey(ctx context.Context, visitID string) error {
	s.keys.Forget(visitID) // a key in memory would answer without the store
	_, err := s.keys.Key(ctx, visitID)
	s.keys.Forget(visitID) // the operator's process keeps no key it checked
	return err
}

// settleEpochs gives the key epochs of a database restored by r the times
// recorded outside it, so that a restore never lengthens the life of an
// epoch's key, nor of the backups' copies of the visit keys wrapped to it.
// The restored database holds its epochs as they stood when the backup
// was taken: the one current then still current, with no date to destroy
// its key, though it may have been superseded since (by a destruction, or
// by an operator after a key was exposed), and its key's destruction
// promised by a certificate. It runs after the restore's destructions,
// which supersede the epoch their keys are wrapped to themselves.
//
// First, no epoch from before the restore stays current: a new one is
// started and every live key moves to it. Then each superseded epoch is
// given the earliest of what the database holds and what is recorded
// outside it: the certificates kept in the anchor store (certs), and, for
// an epoch this restore moved off (current at the backup), the key
// bucket's keys of epochs the database does not name, written after the
// backup and after that epoch began, and before the restore (the first of
// them superseded it; one whose start a crash cut off only brings the
// date forward, which errs on the side of destruction). Run again after a
// crash, it finds the same bounds and applies what is left of them.
func (s *Service) settleEpochs(ctx context.Context, r store.Restore, certs []retention.CertKeyEpoch) error {
	if s.keys.vault == nil {
		return nil
	}
	return s.withEpochLease(ctx, func(ctx context.Context) error {
		type bound struct {
			superseded, retire time.Time
			why                string
		}
		bounds := map[string]bound{}
		earlier := func(id string, superseded, retire time.Time, why string) {
			b, ok := bounds[id]
			if !ok || retire.Before(b.retire) {
				b.retire, b.why = retire, why
			}
			if !ok || superseded.Before(b.superseded) {
				b.superseded = superseded
			}
			bounds[id] = b
		}
		for _, k := range certs {
			earlier(k.ID, k.SupersededAt, k.UnrecoverableFromBackupsAfter, "a destruction certificate outside the database")
		}
		cur, err := s.store.CurrentEpoch(ctx)
		if errors.Is(err, store.ErrNotFound) {
			return nil // none to settle: the first is started as ever
		}
		if err != nil {
			return err
		}
		if cur.CreatedAt.Before(r.StartedAt) {
			if _, _, err := s.startEpoch(ctx, "restore", "", Actor{}); err != nil {
				return err
			}
		}
		epochs, err := s.store.Epochs(ctx)
		if err != nil {
			return err
		}
		for _, e := range epochs {
			// Moved off by this restore (its destructions, or the new
			// epoch above): the epoch current when the backup was taken.
			if e.SupersededAt.IsZero() || !e.RetiredAt.IsZero() || !e.CreatedAt.Before(r.StartedAt) || e.SupersededAt.Before(r.StartedAt) {
				continue
			}
			from := e.CreatedAt
			if r.BackupCreatedAt.After(from) {
				from = r.BackupCreatedAt // a key written before the backup is not its successor: the backup would name it
			}
			// The store's times are its own clock's, to the second: a
			// margin errs towards counting a key, that is towards
			// destruction.
			from = from.Add(-epochClockMargin)
			if at, ok, err := s.firstEpochKeyAfter(ctx, from, r.StartedAt); err != nil {
				return err
			} else if ok {
				earlier(e.ID, at, at.Add(s.cfg.KeyEpochRetain), "a later epoch's key in the key bucket")
			}
		}
		ids := make([]string, 0, len(bounds))
		for id := range bounds {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			b := bounds[id]
			e, err := s.store.GetEpoch(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue // an epoch started after the backup: its key is an orphan
			}
			if err != nil {
				return err
			}
			if e.SupersededAt.IsZero() || !e.RetiredAt.IsZero() || !b.retire.Before(e.RetireAfter) {
				continue
			}
			superseded := e.SupersededAt
			if b.superseded.Before(superseded) {
				superseded = b.superseded
			}
			changed, err := s.store.BringEpochForward(ctx, e, superseded, b.retire, s.systemRec("", "key.epoch_brought_forward", e.ID, map[string]any{
				"superseded_at": superseded.UTC().Format(time.RFC3339), "retire_after": b.retire.UTC().Format(time.RFC3339),
				"retire_after_before": e.RetireAfter.UTC().Format(time.RFC3339), "why": b.why}))
			if err != nil {
				return err
			}
			if changed {
				s.log.Warn("restore: key epoch to be destroyed as recorded outside the database", "epoch", e.ID, "retire_after", b.retire, "why", b.why)
			}
		}
		return nil
	})
}

// epochClockMargin is how much earlier than the database's time a key in
// the key bucket may be stamped and still count as written after it: the
// object store stamps to the second, by its own clock, which the portal
// holds to within clockagree's 10 s before it destroys anything.
const epochClockMargin = 15 * time.Second

// unnamedEpochKeys are the key objects in the key bucket, by the names
// the portal writes, that no epoch row names, each with when its newest
// version was written: keys of epochs whose start was cut off, or, in a
// restored database, of epochs started after its backup.
func (s *Service) unnamedEpochKeys(ctx context.Context) (map[string]time.Time, error) {
	versions, err := s.blobs.Versions(ctx, s.keys.vault.bucket, "epochs/")
	if err != nil {
		return nil, err
	}
	written := map[string]time.Time{}
	for _, v := range versions {
		id, ok := strings.CutSuffix(strings.TrimPrefix(v.Key, "epochs/"), ".age")
		if !ok || id == "" || strings.Contains(id, "/") || epochObject(id) != v.Key {
			continue // not a name the portal writes
		}
		if v.Modified.After(written[id]) {
			written[id] = v.Modified
		}
	}
	if len(written) == 0 {
		return written, nil
	}
	rows, err := s.store.Epochs(ctx)
	if err != nil {
		return nil, err
	}
	for _, e := range rows {
		delete(written, e.ID)
	}
	return written, nil
}

// firstEpochKeyAfter is when the first key in the key bucket of an epoch
// the database does not name was written, after from and before to.
func (s *Service) firstEpochKeyAfter(ctx context.Context, from, to time.Time) (time.Time, bool, error) {
	written, err := s.unnamedEpochKeys(ctx)
	if err != nil {
		return time.Time{}, false, err
	}
	var first time.Time
	for _, at := range written {
		if at.After(from) && at.Before(to) && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	return first, !first.IsZero(), nil
}
