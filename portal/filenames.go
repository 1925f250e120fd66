package portal

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/store"
)

// One name per item: a file's name is taken in its item, whatever its case
// or Unicode normalisation (NameKey), by a file or by an upload in progress.
// The database holds only a keyed hash of the name (crypto NameIndex under
// the visit key) with a unique index, so a race cannot make two, and the
// names stay sealed. An upload reserves its name before it stores anything;
// with on_conflict=rename, it takes the first free "name (n).ext" instead of
// being refused.

// OnConflictRename keeps both files: the new one is stored under a free
// "name (n).ext".
const OnConflictRename = "rename"

// OnConflictReplace stores the new file as a new version of the file of
// that name: the earlier is kept, superseded (corrections.go).
const OnConflictReplace = "replace"

// maxRenames bounds the search for a free "name (n).ext".
const maxRenames = 100

func parseOnConflict(s string) (rename bool, err error) {
	switch s {
	case "", OnConflictReplace:
		return false, nil
	case OnConflictRename:
		return true, nil
	}
	return false, invalid("on_conflict", "on_conflict must be rename (keep both files), replace (a new version of the file), or left out (refuse a name that is taken).")
}

// errNameExists says the name is taken in the item, and how to keep both.
func errNameExists(name, item string) *Error {
	where := "filed under item " + item
	if item == "" {
		where = "waiting to be filed"
	}
	return &Error{Kind: KindConflict, Code: "name_exists", Msg: fmt.Sprintf(
		"A file called “%s” is already %s. Rename your file, replace it (on_conflict=replace: the earlier is kept as a superseded version), or keep both (on the upload page, or with on_conflict=rename): yours is then stored as “%s”.",
		name, where, renamed(name, 2))}
}

// reserveName takes name (or, with rename, the first free "name (n).ext")
// in the item for a new file, and returns the file's id and its name.
//
// A name taken by a file the uploader may not list (a colleague's, for a
// provider's uploader, or one policy hides from them otherwise), or by
// someone else's upload in progress, plain or resumable, is not refused: a refusal would
// confirm to them that a file of that name is there, and they could not
// replace it anyway. Their file is kept beside it, under the first free
// "name (n).ext", whatever on_conflict says; whoever sees both sees two
// names. What stays is that a probe for a name costs a file, stored in
// their name and in the audit trail, in front of the coordinator and the
// inspection team.
func (acc *Access) reserveName(ctx context.Context, key *crypto.VisitKey, item, name, onConflict string) (fileID, stored, replaces string, err error) {
	rename := onConflict == OnConflictRename
	s := acc.svc
	if err := s.indexNames(ctx, acc.Visit.ID, key); err != nil {
		return "", "", "", err
	}
	fileID = store.NewID()
	retries := 0
	for n := 1; n <= maxRenames; n++ {
		stored = name
		if n > 1 {
			stored = renamed(name, n)
		}
		err := s.store.ReserveName(ctx, acc.Visit.ID, item, fileID, key.NameIndex(NameKey(stored)), s.now())
		switch {
		case err == nil:
			return fileID, stored, "", nil
		case !errors.Is(err, store.ErrNameTaken):
			return "", "", "", err
		case rename:
			continue
		}
		holder, hidden, err := acc.nameHolder(ctx, key, item, stored)
		switch {
		case err != nil:
			return "", "", "", err
		case hidden:
			rename = true
		case onConflict == OnConflictReplace:
			err := acc.reserveReplacement(ctx, holder, fileID)
			if err == errNotLive && retries < 3 {
				// Another new version took the name since it was read
				// (two sent at once): look again, as if this one had
				// come a moment later, and meet that upload or the
				// version it made.
				retries++
				n--
				continue
			}
			return fileID, stored, holder.ID, err
		default:
			return "", "", "", errNameExists(name, item)
		}
	}
	return "", "", "", errNameExists(name, item)
}

// nameHolder is the file that holds name in the item (its ID "" when an
// upload in progress does), and whether it is hidden from the actor: a
// file policy does not let them list, or an upload in progress that is
// not theirs. An upload in progress is seen by no one but its uploader:
// refusing another person the name would tell them it is on its way, and
// let one person keep a name from everyone for as long as their upload
// streams. One whose uploader is not known (begun before uploaders were
// recorded, or not yet begun) is taken as another person's: a second file
// is then kept beside it rather than refused, and nothing is confirmed.
//
// The file and the upload are read one after the other, and the upload may
// commit in between: found neither, the file is read again once. Without
// that, a person's second upload of a name, racing their first as it
// committed, found no upload in progress and was kept as "name (2)"
// rather than refused.
func (acc *Access) nameHolder(ctx context.Context, key *crypto.VisitKey, item, name string) (store.File, bool, error) {
	s, index := acc.svc, key.NameIndex(NameKey(name))
	for range 2 {
		f, err := s.store.NameHolder(ctx, acc.Visit.ID, item, index)
		if err == nil {
			d, err := acc.decide(ctx, policy.FileList, &f)
			return f, !d.Allow, err
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.File{}, false, err
		}
		by, err := s.store.NameUploader(ctx, acc.Visit.ID, item, index)
		if err != nil || by != "" {
			return store.File{}, by != acc.Actor.UserID, err
		}
	}
	return store.File{}, true, nil
}

// NameTaken says whether a current file the actor may see already holds
// name in item: what the upload page asks before sending a file, to offer
// "Keep both" or "Replace it". The name comes in the request's body, never
// its address, which proxies log: a file's name may name a child.
func (acc *Access) NameTaken(ctx context.Context, item, name string) (bool, error) {
	if err := acc.require(ctx, policy.FileList, nil); err != nil {
		return false, err
	}
	name, err := ParseFileName(name)
	if err != nil {
		return false, invalid("name", capitalise(err.Error())+".")
	}
	if item, err = ParseItem(item); err != nil {
		return false, invalid("item", capitalise(err.Error())+".")
	}
	key, err := acc.key(ctx)
	if err != nil {
		return false, err
	}
	if err := acc.svc.indexNames(ctx, acc.Visit.ID, key); err != nil {
		return false, err
	}
	holder, hidden, err := acc.nameHolder(ctx, key, item, name)
	return err == nil && !hidden && holder.ID != "" && holder.Live(), err
}

// releaseName gives back the name of an upload that stored no file; it
// runs even when the request was cancelled.
func (s *Service) releaseName(ctx context.Context, fileID string) {
	if err := s.store.ReleaseName(context.WithoutCancel(ctx), fileID); err != nil {
		s.log.Error("release file name", "file", fileID, "err", err)
	}
}

// indexNames indexes the names of a visit's files stored before names were
// indexed, once per visit and process, and keys again those held under a
// key of an earlier version (NameKey), before any name of the visit is
// taken or looked for: once, or, while some stay under their earlier key
// (a look-alike of a name keyed first, which may go at any time), before
// each, reading those few alone (file_names_stale).
func (s *Service) indexNames(ctx context.Context, visitID string, key *crypto.VisitKey) error {
	_, indexed := s.namesIndexed.Load(visitID)
	_, stale := s.namesStale.Load(visitID)
	if indexed && !stale {
		return nil
	}
	// One pass a visit at a time in this process: the first request after
	// an upgrade may key thousands of names again, and those arriving
	// meanwhile wait for it rather than do it again.
	lock, _ := s.namesIndexing.LoadOrStore(visitID, new(sync.Mutex))
	lock.(*sync.Mutex).Lock()
	defer lock.(*sync.Mutex).Unlock()
	_, indexed = s.namesIndexed.Load(visitID)
	_, stale = s.namesStale.Load(visitID)
	if indexed && !stale {
		return nil
	}
	if err := s.rekeyNames(ctx, visitID, key); err != nil {
		return err
	}
	if indexed {
		return nil
	}
	todo, err := s.store.UnindexedNames(ctx, visitID)
	if err != nil {
		return err
	}
	for _, u := range todo {
		index, err := sealedNameIndex(key, visitID, u.FileID, u.NameSealed)
		if err != nil {
			return err
		}
		if err := s.store.IndexName(ctx, visitID, u.Item, u.FileID, index, s.now()); err != nil {
			return err
		}
	}
	s.namesIndexed.Store(visitID, true)
	return nil
}

// rekeyNames keys again the names of the visit held under a key of an
// earlier version, and notes whether any stays under it (namesStale): a
// look-alike of a name keyed first (until that one goes), or a name whose
// holder is gone (a plain upload cut off by a restart, until the janitor
// clears it). A damaged one stays under its key, tried by each process.
func (s *Service) rekeyNames(ctx context.Context, visitID string, key *crypto.VisitKey) error {
	stale, err := s.store.StaleNames(ctx, visitID)
	if err != nil {
		return err
	}
	rekeys := make([]store.Rekey, 0, len(stale))
	gone := 0
	for _, n := range stale {
		if n.NameSealed == nil {
			gone++
			continue
		}
		index, err := sealedNameIndex(key, visitID, n.FileID, n.NameSealed)
		if err != nil {
			// Damaged (its downloads report it): no pass can key it, so
			// it is not tried before each name, only by the next process.
			continue
		}
		rekeys = append(rekeys, store.Rekey{FileID: n.FileID, Index: index})
	}
	left, err := s.store.RekeyNames(ctx, visitID, rekeys)
	if err != nil {
		return err
	}
	left += gone
	_, was := s.namesStale.Load(visitID)
	switch {
	case left > 0 && !was:
		s.log.Warn("file names left under an earlier key, tried again before each name of the visit is taken", "visit", visitID, "names", left)
		s.namesStale.Store(visitID, true)
	case left == 0 && was:
		s.namesStale.Delete(visitID)
	}
	return nil
}

// sealedNameIndex is the name index (crypto NameIndex of NameKey) of the
// file fileID of the visit, from its sealed name.
func sealedNameIndex(key *crypto.VisitKey, visitID, fileID string, sealed []byte) ([]byte, error) {
	name, err := key.Open(sealed, evidence.NameContext(visitID, fileID))
	if err != nil {
		return nil, fmt.Errorf("file %s: name does not open: %w", fileID, err)
	}
	return key.NameIndex(NameKey(string(name))), nil
}
