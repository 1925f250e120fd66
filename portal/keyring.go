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
				return nil, keyUnopened{fmt.Errorf("keyring: visit %s: its key is wrapped to the master key, though key epochs began: %w", visitID, crypto.ErrUnwrap)}
			}
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	wrapper, err := k.epoch(ctx, wrapped.Epoch)
	if err != nil {
		return nil, epochError(visitID, err)
	}
	key, err = wrapper.UnwrapFor(wrapped.Wrapped, visitID)
	if err != nil {
		return nil, keyUnopened{fmt.Errorf("keyring: visit %s: %w", visitID, err)}
	}
	if key.Fingerprint() != wrapped.Fingerprint {
		return nil, keyUnopened{fmt.Errorf("keyring: visit %s: %w", visitID, crypto.ErrUnwrap)}
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

// keyUnopened is an error of opening a visit's stored key itself (its
// epoch's key not to be had from the key store, or a key that does not
// unwrap), as against one of reading the database.
type keyUnopened struct{ error }

func (e keyUnopened) Unwrap() error { return e.error }

// isKeyUnopened says whether err is keyUnopened.
func isKeyUnopened(err error) bool { return errors.As(err, new(keyUnopened)) }

// epochError is why a visit's stored key could not be had from its
// epoch. An epoch not recorded is not a key gone (store.ErrNotFound, which
// says the visit's key was destroyed): the key is there and does not open.
func epochError(visitID string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("keyring: visit %s: %v: %w", visitID, err, crypto.ErrUnwrap)
	}
	return fmt.Errorf("keyring: visit %s: %w", visitID, err)
}

// KeyRef names a visit's key by the fingerprint a page read with it.
type KeyRef struct{ VisitID, Fingerprint string }

// PageKeys gives a page of visits its keys after Preload: those Preload
// found do not open, or could not have, are refused without another
// statement, so a page of visits whose keys do not open costs no more
// than one whose keys do (a key that does not open is never kept in
// memory, so every request reads it again). The others come from
// KeyWithFingerprint, which checks them.
type PageKeys struct {
	k       *Keyring
	refused map[string]keyRefusal // by visit id
}

type keyRefusal struct {
	fingerprint string
	err         error
}

// Key is KeyWithFingerprint for one of the page's rows.
func (p PageKeys) Key(ctx context.Context, visitID, fp string) (*crypto.VisitKey, error) {
	if r, ok := p.refused[visitID]; ok && fp != "" && r.fingerprint == fp {
		return nil, r.err
	}
	return p.k.KeyWithFingerprint(ctx, visitID, fp)
}

// Preload unwraps into memory, together, the keys of a page of visits
// that are not there yet: their wrapped keys in one statement, rather
// than one each when the page's rows ask (KeyWithFingerprint), so that a
// list's first request after a start costs one statement more than the
// next, however many of its rows' keys were not in memory. A key it
// finds does not open (damaged, bound to another visit, wrapped to a
// retired epoch, or wrapped to the master key once epochs began), or
// cannot have (no longer stored; its epoch key not to be had; the keys'
// statement failed), is refused by the PageKeys it returns, for this page
// only, with that error; each other row's key is still had through
// KeyWithFingerprint, which checks it.
func (k *Keyring) Preload(ctx context.Context, refs []KeyRef) PageKeys {
	out := PageKeys{k: k, refused: map[string]keyRefusal{}}
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
		return out // one is read as cheaply by KeyWithFingerprint
	}
	refuse := func(id string, err error) { out.refused[id] = keyRefusal{want[id], err} }
	wrapped, err := k.store.WrappedKeys(ctx, ids)
	if err != nil {
		for _, id := range ids {
			refuse(id, err)
		}
		return out
	}
	read := map[string]bool{}
	for _, w := range wrapped {
		read[w.VisitID] = true
	}
	for _, id := range ids {
		if !read[id] {
			refuse(id, store.ErrNotFound) // destroyed since the page was read
		}
	}
	// A key wrapped to the master key opens only while no epoch has
	// begun (KeyWithFingerprint says why): asked once for the page, and
	// those keys read again, together, if one has (the first epoch may
	// have moved them after the read above).
	var master []string
	for _, w := range wrapped {
		if w.Epoch == "" && w.Fingerprint == want[w.VisitID] {
			master = append(master, w.VisitID)
		}
	}
	if len(master) > 0 {
		switch _, err := k.store.CurrentEpoch(ctx); {
		case err == nil:
			again, err := k.store.WrappedKeys(ctx, master)
			if err != nil {
				for _, id := range master {
					refuse(id, err)
				}
				again = nil
			}
			moved := map[string]store.VisitKey{}
			for _, w := range again {
				moved[w.VisitID] = w
			}
			for i, w := range wrapped {
				if w.Epoch != "" || w.Fingerprint != want[w.VisitID] {
					continue
				}
				if _, ok := out.refused[w.VisitID]; ok {
					continue
				}
				m, ok := moved[w.VisitID]
				switch {
				case !ok:
					refuse(w.VisitID, store.ErrNotFound)
				case m.Epoch == "":
					refuse(w.VisitID, fmt.Errorf("keyring: visit %s: its key is wrapped to the master key, though key epochs began: %w", w.VisitID, crypto.ErrUnwrap))
				default:
					wrapped[i] = m
				}
			}
		case !errors.Is(err, store.ErrNotFound):
			for _, id := range master {
				refuse(id, err)
			}
		}
	}
	// Each epoch's key is had once for the page: one retired or not to
	// be had refuses every key wrapped to it without a statement each.
	type opened struct {
		key *crypto.MasterKey
		err error
	}
	epochs := map[string]opened{}
	got := map[string]*crypto.VisitKey{}
	for _, w := range wrapped {
		if w.Fingerprint != want[w.VisitID] {
			continue // changed since the page read it: the row reads it again
		}
		if _, ok := out.refused[w.VisitID]; ok {
			continue
		}
		e, ok := epochs[w.Epoch]
		if !ok {
			e.key, e.err = k.epoch(ctx, w.Epoch)
			epochs[w.Epoch] = e
		}
		if e.err != nil {
			refuse(w.VisitID, epochError(w.VisitID, e.err))
			continue
		}
		key, err := e.key.UnwrapFor(w.Wrapped, w.VisitID)
		if err == nil && key.Fingerprint() != w.Fingerprint {
			err = crypto.ErrUnwrap
		}
		if err != nil {
			refuse(w.VisitID, fmt.Errorf("keyring: visit %s: %w", w.VisitID, err))
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
	return out
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
