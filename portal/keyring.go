package portal

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Keyring unwraps visit keys on demand and keeps them in memory. Unwrapping
// costs an ML-KEM decapsulation, so keys are cached; but every use first
// asks the database whether the key is still stored (one indexed read of
// its fingerprint), so a key destroyed by any process (a sweep in another
// instance, portal retention run) is not used by this one a moment
// longer. Forget drops one at once.
//
// Visit keys are wrapped to key epochs (epochs.go): the epoch keys come
// from the vault, opened with the master key, and are cached too; a
// retired epoch is never opened again.
type Keyring struct {
	master *crypto.MasterKey
	store  *store.Store
	vault  *epochVault // nil: keys are wrapped to the master key (no epochs)

	mu     sync.Mutex
	keys   map[string]*crypto.VisitKey
	epochs map[string]*crypto.MasterKey
	index  fileIndex // decrypted names, beside the keys (fileindex.go)
	// forgets counts Forget's calls: a key a request unwrapped from what
	// it read before one is not kept after it, so a destruction that
	// forgets a key while a request is unwrapping it does not leave it in
	// memory. Names are kept only beside their key (readIndex).
	forgets uint64
}

// NewKeyring returns a keyring over the master key and the stored wrapped keys.
func NewKeyring(master *crypto.MasterKey, st *store.Store, vault *epochVault) *Keyring {
	return &Keyring{master: master, store: st, vault: vault, keys: map[string]*crypto.VisitKey{}, epochs: map[string]*crypto.MasterKey{},
		index: fileIndex{visits: map[string]*visitFiles{}}}
}

// Key returns the visit's key, unwrapping it if needed.
func (k *Keyring) Key(ctx context.Context, visitID string) (*crypto.VisitKey, error) {
	fp, err := k.store.KeyFingerprint(ctx, visitID)
	if err != nil {
		k.Forget(visitID)
		return nil, err
	}
	return k.KeyWithFingerprint(ctx, visitID, fp)
}

// KeyWithFingerprint is Key when the stored key's fingerprint was read just
// now with other data ("" when the key is gone): a page of visits checks
// every key in the statement that loads the page.
func (k *Keyring) KeyWithFingerprint(ctx context.Context, visitID, fp string) (*crypto.VisitKey, error) {
	if fp == "" {
		k.Forget(visitID)
		return nil, store.ErrNotFound
	}
	k.mu.Lock()
	key, ok := k.keys[visitID]
	forgets := k.forgets
	k.mu.Unlock()
	if ok && key.Fingerprint() == fp {
		return key, nil
	}
	wrapped, err := k.store.WrappedKey(ctx, visitID)
	if err != nil {
		return nil, err
	}
	if wrapped.Epoch == "" {
		// Wrapped to the master key: a key from before key epochs. Once
		// they began, every such key was moved to one in the same
		// transaction, so one now was written by someone writing to the
		// database (the master key's recipient is public), and would
		// open unbound to its visit.
		switch _, err := k.store.CurrentEpoch(ctx); {
		case err == nil:
			// Read again: the first epoch may have taken it in between
			// the two reads.
			if wrapped, err = k.store.WrappedKey(ctx, visitID); err != nil {
				return nil, err
			}
			if wrapped.Epoch == "" {
				return nil, fmt.Errorf("keyring: visit %s: its key is wrapped to the master key, though key epochs began: %w", visitID, crypto.ErrUnwrap)
			}
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	wrapper, err := k.epoch(ctx, wrapped.Epoch)
	if err != nil {
		return nil, fmt.Errorf("keyring: visit %s: %w", visitID, err)
	}
	key, err = wrapper.UnwrapFor(wrapped.Wrapped, visitID)
	if err != nil {
		return nil, fmt.Errorf("keyring: visit %s: %w", visitID, err)
	}
	if key.Fingerprint() != wrapped.Fingerprint {
		return nil, fmt.Errorf("keyring: visit %s: %w", visitID, crypto.ErrUnwrap)
	}
	k.mu.Lock()
	forgotten := k.forgets != forgets
	if !forgotten {
		k.keys[visitID] = key
	}
	k.mu.Unlock()
	if forgotten {
		// A key was forgotten while this one was unwrapped: perhaps this
		// one, destroyed. It is not kept, and used only if still stored.
		now, err := k.store.KeyFingerprint(ctx, visitID)
		if err != nil {
			return nil, err
		}
		if now != key.Fingerprint() {
			return nil, store.ErrNotFound
		}
	}
	return key, nil
}

// KeyRef names a visit's key by the fingerprint a page read with it.
type KeyRef struct{ VisitID, Fingerprint string }

// Preload unwraps into memory, together, the keys of a page of visits
// that are not there yet: their wrapped keys in one statement, rather
// than one each when the page's rows ask (KeyWithFingerprint), so that a
// list's first request after a start costs one statement more than the
// next, however many of its rows' keys were not in memory. It only
// warms: a key it cannot unwrap (or one wrapped to the master key once
// epochs began) is left for KeyWithFingerprint to refuse, and an error is
// not the page's (each row's key is still had through
// KeyWithFingerprint, which checks it).
func (k *Keyring) Preload(ctx context.Context, refs []KeyRef) {
	k.mu.Lock()
	forgets := k.forgets
	want := map[string]string{}
	var ids []string
	for _, r := range refs {
		if r.Fingerprint == "" {
			continue
		}
		if key, ok := k.keys[r.VisitID]; ok && key.Fingerprint() == r.Fingerprint {
			continue
		}
		if _, dup := want[r.VisitID]; !dup {
			want[r.VisitID] = r.Fingerprint
			ids = append(ids, r.VisitID)
		}
	}
	k.mu.Unlock()
	if len(ids) < 2 {
		return // one is read as cheaply by KeyWithFingerprint
	}
	wrapped, err := k.store.WrappedKeys(ctx, ids)
	if err != nil {
		return
	}
	// A key wrapped to the master key opens only while no epoch has
	// begun (KeyWithFingerprint says why): asked once for the page.
	masterWrapped := -1
	got := map[string]*crypto.VisitKey{}
	for _, w := range wrapped {
		if w.Fingerprint != want[w.VisitID] {
			continue
		}
		if w.Epoch == "" {
			if masterWrapped < 0 {
				masterWrapped = 0
				if _, err := k.store.CurrentEpoch(ctx); errors.Is(err, store.ErrNotFound) {
					masterWrapped = 1
				}
			}
			if masterWrapped == 0 {
				continue
			}
		}
		wrapper, err := k.epoch(ctx, w.Epoch)
		if err != nil {
			continue
		}
		key, err := wrapper.UnwrapFor(w.Wrapped, w.VisitID)
		if err != nil || key.Fingerprint() != w.Fingerprint {
			continue
		}
		got[w.VisitID] = key
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	// A key forgotten meanwhile (a destruction) may be one of these:
	// none is kept, and the rows read theirs one by one.
	if k.forgets == forgets {
		maps.Copy(k.keys, got)
	}
}

// Add caches a key the portal has just made.
func (k *Keyring) Add(visitID string, key *crypto.VisitKey) {
	k.mu.Lock()
	k.keys[visitID] = key
	k.mu.Unlock()
}

// box returns a box for the portal's own secrets of one purpose.
func (k *Keyring) box(purpose string) (*crypto.Box, error) { return k.master.Box(purpose) }

// Forget drops a visit's key from memory, and its decrypted names.
func (k *Keyring) Forget(visitID string) {
	k.mu.Lock()
	delete(k.keys, visitID)
	k.dropIndex(visitID)
	k.forgets++
	k.mu.Unlock()
}

// prune forgets the keys, and decrypted names, of visits whose stored key
// is gone or was replaced: destroyed by another instance, whose requests
// this one would refuse at the key's next use, but whose key and names it
// would keep in memory until then. Each instance prunes its own, in one
// statement.
func (k *Keyring) prune(ctx context.Context) error {
	k.mu.Lock()
	held := make(map[string]string, len(k.keys))
	ids := make([]string, 0, len(k.keys))
	for id, key := range k.keys {
		held[id] = key.Fingerprint()
		ids = append(ids, id)
	}
	k.mu.Unlock()
	stored, err := k.store.KeyFingerprints(ctx, ids)
	if err != nil {
		return err
	}
	for id, fp := range held {
		if stored[id] != fp {
			k.Forget(id)
		}
	}
	return nil
}

// SelfTest wraps and unwraps a throwaway visit key, proving the master key
// can do both. Readiness reports its result.
func (k *Keyring) SelfTest() error {
	key, err := crypto.NewVisitKey()
	if err != nil {
		return err
	}
	wrapped, err := k.master.Wrap(key)
	if err != nil {
		return err
	}
	back, err := k.master.Unwrap(wrapped)
	if err != nil {
		return err
	}
	if back.Fingerprint() != key.Fingerprint() {
		return crypto.ErrUnwrap
	}
	return nil
}

// Master returns the master key, for wrapping new visit keys.
func (k *Keyring) Master() *crypto.MasterKey { return k.master }
