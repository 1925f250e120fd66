package portal

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/store"
	"strings"
	"time"
)

// FileView is a file as listed.
type FileView struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	Item       string    `json:"item"`
	UploadedBy string    `json:"uploaded_by"`
	UploadedAt time.Time `json:"uploaded_at"`
	// Scan is the malware scanner's verdict: "clean", "scanning" (being
	// checked), "infected" (never served) or "unscanned" (stored while
	// scanning was off); ScanSignature names what was found.
	Scan          string `json:"scan"`
	ScanSignature string `json:"scan_signature,omitempty"`
	// Refilable says the actor may file it under another item.
	Refilable bool `json:"-"`
	// A withdrawn file is kept, marked, for the team that downloaded it;
	// a superseded one is an earlier version of the file SupersededBy.
	WithdrawnAt  *time.Time `json:"withdrawn_at,omitempty"`
	WithdrawnBy  string     `json:"withdrawn_by,omitempty"`
	SupersededBy string     `json:"superseded_by,omitempty"`
	SupersededAt *time.Time `json:"superseded_at,omitempty"`
	// Correctable says the actor may delete or replace it.
	Correctable bool `json:"-"`
}

func fileView(key *crypto.VisitKey, f store.File, uploader string) (FileView, error) {
	name, err := openName(key, f)
	if err != nil {
		return FileView{}, err
	}
	return FileView{ID: f.ID, Name: name, Size: f.Size, SHA256: f.SHA256, Item: f.Item, UploadedBy: uploader, UploadedAt: f.UploadedAt,
		Scan: f.Scan, ScanSignature: f.ScanSignature}, nil
}

// openName unseals a file's name.
func openName(key *crypto.VisitKey, f store.File) (string, error) {
	name, err := key.Open(f.NameSealed, evidence.NameContext(f.VisitID, f.ID))
	if err != nil {
		return "", fmt.Errorf("file %s: name does not open: %w", f.ID, err)
	}
	return string(name), nil
}

// NewFile describes a file to store.
type NewFile struct {
	Name string // as the uploader gave it
	// Item is the item chosen for the file. A choice (the API's item)
	// wins over the name; a default (the upload page's choice, Default
	// set) is used only when the name names no item.
	Item    string
	Default bool
	Size    int64 // exact length, or -1 when unknown (a form post)
	// OnConflict is "" (a name taken in the item is refused),
	// OnConflictRename (keep both: store it as "name (n).ext") or
	// OnConflictReplace (a new version of the file of that name).
	OnConflict string
}

// checkUpload validates what is known before the body is read: name, item
// and size, and files it (ItemFromName with the visit's request). Refusals
// here read nothing and store nothing.
func (acc *Access) checkUpload(ctx context.Context, in NewFile) (name, item string, err error) {
	s := acc.svc
	if in.Size > s.cfg.MaxFileSize {
		return "", "", errTooLarge(s.cfg.MaxFileSize)
	}
	if name, err = ParseFileName(in.Name); err != nil {
		return "", "", invalid("name", capitalise(err.Error())+".")
	}
	if item, err = ParseItem(in.Item); err != nil {
		return "", "", invalid("item", capitalise(err.Error())+".")
	}
	if _, err := parseOnConflict(in.OnConflict); err != nil {
		return "", "", err
	}
	if item == "" || in.Default || isCaseFile(item) {
		codes, err := s.store.RequestCodes(ctx, acc.Visit.ID)
		if err != nil {
			return "", "", err
		}
		if item == "" || in.Default {
			if named := ItemFromName(name, codes); named != "" {
				item = named
			}
		}
		if err := caseFileRequested(item, codes); err != nil {
			return "", "", err
		}
	}
	return name, item, nil
}

func errTooLarge(limit int64) *Error {
	return &Error{Kind: KindTooLarge, Code: "too_large", Msg: fmt.Sprintf("The file is larger than the %s limit.", formatBytes(limit))}
}

func isCaseFile(item string) bool { return strings.HasPrefix(item, "case-") }

// caseFileRequested refuses a case-file number the information request
// (codes) does not have. A child's case file is sent when the inspectors
// ask for that child, under the number they gave: filed under another it
// would wait under a number later given to another child (or to none),
// and a child's record would be sent without being asked for. Annex A
// numbers stay open: items from 1.06 on exist whether or not the request
// lists them yet.
func caseFileRequested(item string, codes []string) error {
	if isCaseFile(item) && !contains(codes, item) {
		return invalid("item", "There is no request for case file "+item+": choose a case file the inspectors have asked for.")
	}
	return nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Upload stores one file from body for the actor.
func (acc *Access) Upload(ctx context.Context, in NewFile, body io.Reader) (FileView, error) {
	if err := acc.require(ctx, policy.FileUpload, nil); err != nil {
		return FileView{}, err
	}
	size := in.Size
	in.Size = max(in.Size, 0)
	name, item, err := acc.checkUpload(ctx, in)
	if err != nil {
		return FileView{}, err
	}
	key, err := acc.key(ctx)
	if err != nil {
		return FileView{}, err
	}
	// Most names are free: the name is taken in the transaction that
	// begins the upload. When it is not free, nothing was read or
	// written, and the name is reserved as on_conflict says first.
	return acc.put(ctx, key, name, item, size, body, true, func() (string, string, string, error) {
		return acc.reserveName(ctx, key, item, name, in.OnConflict)
	})
}

// put stores body as a file of the visit named name in item. When
// freeFirst, it first tries to take the name in the transaction that
// begins the upload; when the name is taken, or not freeFirst, reserve
// reserves it (the file's id, the name it is stored under, and the file
// it replaces, "" for none) first.
func (acc *Access) put(ctx context.Context, key *crypto.VisitKey, name, item string, size int64, body io.Reader, freeFirst bool, reserve func() (fileID, name, replaces string, err error)) (FileView, error) {
	s := acc.svc
	if err := s.indexNames(ctx, acc.Visit.ID, key); err != nil {
		return FileView{}, err
	}
	issued := false
	u := evidence.Upload{
		Visit: acc.Visit, Key: key, Name: name, Item: item, Size: size, MaxSize: s.cfg.MaxFileSize, UploadedBy: acc.Actor.UserID, Body: body,
		Record: acc.recorder(), Receipt: acc.commitReceipt(key, &issued), Recheck: acc.recheck(policy.FileUpload),
	}
	var f store.File
	var held bool
	err := store.ErrNameTaken
	if freeFirst {
		u.FileID, u.NameIndex = store.NewID(), key.NameIndex(NameKey(name))
		f, held, err = s.evidence.Put(ctx, u)
	}
	if errors.Is(err, store.ErrNameTaken) {
		var replaces string
		if u.FileID, u.Name, replaces, err = reserve(); err != nil {
			return FileView{}, err
		}
		u.NameIndex = nil
		// A new version of a file is committed only while its uploader
		// may still replace that file, not only upload (a coordinator
		// made an uploader since may replace only their own).
		if replaces != "" {
			upload, replace := u.Recheck, acc.recheckOn(policy.FileReplace, replaces)
			u.Recheck = func(ctx context.Context) error {
				if err := upload(ctx); err != nil {
					return err
				}
				return replace(ctx)
			}
		}
		f, held, err = s.evidence.Put(ctx, u)
	}
	if err != nil {
		s.releaseName(ctx, u.FileID)
		return FileView{}, heldSince(err)
	}
	s.log.Info("file uploaded", "visit", acc.Visit.ID, "file", f.ID, "size", f.Size, "segments", f.Segments, "user", acc.Actor.UserID, "scan", f.Scan)
	s.countUpload(f)
	s.afterVerdict(ctx, f)
	if !issued {
		s.afterUpload(ctx, acc.Visit, f)
	}
	if held {
		acc.holdNewObjects(ctx, f.ID)
	}
	return fileView(key, f, acc.Actor.Display())
}

// recheckAfter is how old the decision to let a request change the
// evidence may be when the change is committed: an older one is taken
// again, so that a member removed, or a window closed, while a large file
// streamed (minutes over home broadband) stores nothing. Most uploads end
// sooner, at no cost.
const recheckAfter = 2 * time.Second

// recheck takes the decision on action again, from the database as it
// now stands (the person too: actorNow), when the one this request holds
// is older than recheckAfter; a refusal is recorded as any is.
func (acc *Access) recheck(action policy.Action) func(ctx context.Context) error {
	return acc.recheckOn(action, "")
}

// recheckOn is recheck for an action on a file (fileID; "" for the visit).
func (acc *Access) recheckOn(action policy.Action, fileID string) func(ctx context.Context) error {
	return acc.recheckThen(action, fileID, nil)
}

// recheckThen is recheckOn, asking then (when set) of the decision taken
// again: what the act needs of it besides being allowed.
func (acc *Access) recheckThen(action policy.Action, fileID string, then func(again *Access) error) func(ctx context.Context) error {
	s, decided := acc.svc, acc.decidedAt()
	return func(ctx context.Context) error {
		if s.now().Sub(decided) < recheckAfter {
			return nil
		}
		a, err := s.actorNow(ctx, acc.Actor)
		if err != nil {
			return err
		}
		again, err := s.Authorize(ctx, a, action, acc.Visit.ID, fileID)
		if err != nil || then == nil {
			return err
		}
		return then(again)
	}
}

// holdNewObjects puts the objects of a file stored while its visit was
// under legal hold under the hold too: its own, so that an upload's cost
// does not grow with the visit's files. Whether the visit was held is
// what the transaction that stored the file read (store.FileToHold): a
// hold set since is carried by its own act, whose listing finds these
// objects. A plain upload calls it only when that transaction found the
// visit held (evidence.Put says so): otherwise there is nothing to read. It goes on when the person leaves (the file is stored: holding
// its objects is the portal's part), and whatever stops it part-way (a
// store that refuses, a failed statement, the process itself) leaves the
// file to the retention run (holdFiles): the upload succeeds either way,
// and the portal obeys the hold.
func (acc *Access) holdNewObjects(ctx context.Context, fileID string) {
	s := acc.svc
	ctx = context.WithoutCancel(ctx)
	f, err := s.store.FileToHoldOf(ctx, fileID)
	if errors.Is(err, store.ErrNotFound) {
		return
	}
	if err == nil {
		err = s.holdFile(ctx, f)
	}
	if err != nil {
		s.log.Error("file stored under a legal hold, its objects not yet held; the retention run will", "visit", acc.Visit.ID, "file", fileID, "err", err)
	}
}

// holdFile brings a file's own objects to its visit's legal hold as f
// read it, and records it (store.FileHeld, which leaves the whole bucket
// to the run when another act on the hold came since). A destroyed
// visit's objects are gone.
func (s *Service) holdFile(ctx context.Context, f store.FileToHold) error {
	if f.Visit.State != StateDestroyed {
		if err := s.blobs.SetLegalHoldUnder(ctx, f.Visit.Bucket, evidence.FilePrefix(f.FileID), f.Hold); err != nil {
			return err
		}
	}
	return s.store.FileHeld(ctx, f, s.now())
}

// DeleteFile removes the file Authorize named: for good while no one of
// the inspection team has downloaded it, otherwise it is withdrawn (kept,
// marked; see corrections.go). Withdrawn reports which.
func (acc *Access) DeleteFile(ctx context.Context) (withdrawn bool, err error) {
	if err := acc.needFile(); err != nil {
		return false, err
	}
	if err := acc.require(ctx, policy.FileDelete, &acc.File); err != nil {
		return false, err
	}
	f := acc.File
	if !f.Live() {
		return false, errNotLive
	}
	if f.TeamDownloadedAt.IsZero() {
		err := acc.svc.evidence.Delete(ctx, acc.Visit, f.ID, acc.earlierName(ctx, f), acc.rec("file.deleted", f.ID, "success", map[string]any{"sha256": f.SHA256}))
		if err == nil {
			acc.svc.log.Info("file deleted", "visit", acc.Visit.ID, "file", f.ID, "user", acc.Actor.UserID)
			return false, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return false, heldSince(err)
		}
		// A download by the team came first: withdraw it instead.
	}
	return true, acc.withdraw(ctx)
}

// earlierName is the name of the version f superseded, as it is listed
// once current again, f removed (store.EarlierName): none when f
// superseded none; none either when it cannot be worked out, and the
// version is then current again unindexed, as a file stored before names
// were indexed is, until this process indexes the visit's names again
// (at its next upload).
func (acc *Access) earlierName(ctx context.Context, f store.File) store.EarlierName {
	e, err := acc.svc.store.EarlierVersion(ctx, acc.Visit.ID, f.ID)
	if errors.Is(err, store.ErrNotFound) {
		return store.EarlierName{}
	}
	if err == nil {
		var key *crypto.VisitKey
		if key, err = acc.key(ctx); err == nil {
			var index []byte
			if index, err = sealedNameIndex(key, acc.Visit.ID, e.ID, e.NameSealed); err == nil {
				return store.EarlierName{FileID: e.ID, Index: index}
			}
		}
	}
	acc.svc.log.Warn("the name of a version current again is left unindexed", "visit", acc.Visit.ID, "file", e.ID, "err", err)
	acc.svc.namesIndexed.Delete(acc.Visit.ID)
	return store.EarlierName{}
}

// Refile files the file Authorize named under another item of the
// information request (or any Annex A item number). Who may see it follows
// at once: the restriction of the new item applies to the next decision.
func (acc *Access) Refile(ctx context.Context, rawItem string) (FileView, error) {
	if err := acc.needFile(); err != nil {
		return FileView{}, err
	}
	if err := acc.require(ctx, policy.FileRefile, &acc.File); err != nil {
		return FileView{}, err
	}
	s, f := acc.svc, acc.File
	if !f.Live() {
		return FileView{}, errNotLive
	}
	item, err := ParseItem(strings.TrimSpace(rawItem))
	if err != nil {
		return FileView{}, invalid("item", capitalise(err.Error())+".")
	}
	if item == "" {
		return FileView{}, invalid("item", "Choose the item to file it under, such as 1.03, cld or case-2.")
	}
	if isCaseFile(item) {
		codes, err := s.store.RequestCodes(ctx, acc.Visit.ID)
		if err != nil {
			return FileView{}, err
		}
		if err := caseFileRequested(item, codes); err != nil {
			return FileView{}, err
		}
	}
	key, err := acc.key(ctx)
	if err != nil {
		return FileView{}, err
	}
	if item != f.Item {
		if err := s.indexNames(ctx, acc.Visit.ID, key); err != nil {
			return FileView{}, err
		}
		rec := acc.rec("file.refiled", f.ID, "success", map[string]any{"from": f.Item, "to": item})
		// Its name's key of this version, for a name held under an
		// earlier one (nil when the name does not open: the file is
		// damaged, and its downloads say so).
		var index []byte
		if name, err := openName(key, f); err == nil {
			index = key.NameIndex(NameKey(name))
		}
		err := s.store.RefileFile(ctx, acc.Visit.ID, f.ID, f.Item, item, index, rec)
		// The file holding the name may go (deleted, withdrawn, an
		// upload ended) while this one is renamed beside it: it is
		// filed under its own name after all.
		for tries := 0; errors.Is(err, store.ErrNameTaken) && tries < 3; tries++ {
			var sealed []byte
			if sealed, err = acc.refileRenamed(ctx, key, f, item); err == nil {
				f.NameSealed = sealed
			} else if errors.Is(err, store.ErrNameFree) {
				err = s.store.RefileFile(ctx, acc.Visit.ID, f.ID, f.Item, item, index, rec)
			}
		}
		if errors.Is(err, store.ErrNameTaken) || errors.Is(err, store.ErrNameFree) {
			// Taken and freed again and again while this one was filed.
			return FileView{}, conflict("A file of this name under item " + item + " was being changed at the same time. Try again.")
		}
		if errors.Is(err, store.ErrNotFound) {
			// Moved, replaced or withdrawn since the filing was decided.
			return FileView{}, conflict("This file was changed while you were filing it (filed under another item, replaced or withdrawn). Look at it again, then file it.")
		}
		if err != nil {
			return FileView{}, heldSince(err)
		}
		s.log.Info("file refiled", "visit", acc.Visit.ID, "file", f.ID, "from", f.Item, "to", item, "user", acc.Actor.UserID)
		f.Item = item
		acc.File = f
	}
	return fileView(key, f, "")
}

// refileRenamed files f under item, where its name is taken, and returns
// its name sealed as it now is. A name taken by a file the actor may see
// is refused (name_exists), as before. One taken by a file they may not
// see (a restricted item's, a file still being scanned), or by another
// person's upload in progress, is not: a refusal would confirm to them
// that it is there. The file is filed, as an upload would be stored,
// under the first free "name (n).ext", so that names stay one per item
// and whoever sees both files sees two names; the new name is recorded
// with the filing ("renamed"), and the file's receipt keeps the name it
// was supplied under. A name found free again (its holder gone since) is
// store.ErrNameFree: the file is not renamed for it.
func (acc *Access) refileRenamed(ctx context.Context, key *crypto.VisitKey, f store.File, item string) ([]byte, error) {
	s := acc.svc
	name, err := openName(key, f)
	if err != nil {
		return nil, err
	}
	if _, hidden, err := acc.nameHolder(ctx, key, item, name); err != nil {
		return nil, err
	} else if !hidden {
		return nil, errNameExists(name, item)
	}
	for n := 2; n <= maxRenames; n++ {
		stored := renamed(name, n)
		sealed := key.Seal([]byte(stored), evidence.NameContext(acc.Visit.ID, f.ID))
		rec := acc.rec("file.refiled", f.ID, "success", map[string]any{"from": f.Item, "to": item, "renamed": true})
		err := s.store.RefileFileRenamed(ctx, acc.Visit.ID, f.ID, f.Item, item, key.NameIndex(NameKey(name)), key.NameIndex(NameKey(stored)), sealed, s.now(), rec)
		if !errors.Is(err, store.ErrNameTaken) {
			return sealed, err
		}
	}
	return nil, errNameExists(name, item)
}

// HiddenUnfiled counts the files waiting to be filed that the actor may not
// see: the inspection team learns that they exist, never what they are.
// Only those the actor would see once filed are counted: not one found
// infected (kept, never served), nor one the scanner has not cleared
// (withheld until scanned), as the information request counts them for
// the team. The count comes from the visit's file index (fileindex.go).
func (acc *Access) HiddenUnfiled(ctx context.Context) (int, error) {
	if err := acc.require(ctx, policy.FileList, nil); err != nil {
		return 0, err
	}
	// Whether the actor sees unfiled files depends on the role alone (and
	// on whose file it is for uploaders, who see only their own anyway).
	d, err := acc.decide(ctx, policy.FileList, &store.File{ID: "unfiled", Item: ""})
	if err != nil || d.Allow || acc.Member.Role == policy.RoleProviderUploader {
		return 0, err
	}
	key, err := acc.key(ctx)
	if err != nil {
		return 0, err
	}
	vf, err := acc.svc.keys.indexedFiles(ctx, acc.Visit.ID, key)
	if err != nil {
		return 0, err
	}
	return vf.cleared[""], nil
}
