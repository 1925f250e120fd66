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
	// OnConflict is "" (a name taken in the item is refused) or
	// OnConflictRename (keep both: store it as "name (n).ext").
	OnConflict string
}

// checkUpload validates what is known before the body is read: name, item
// and size, and files it (ItemFromName with the visit's request). Refusals
// here read nothing and store nothing.
func (acc *Access) checkUpload(ctx context.Context, in NewFile) (name, item string, err error) {
	s := acc.svc
	if in.Size > s.cfg.MaxFileSize {
		return "", "", &Error{Kind: KindTooLarge, Code: "too_large", Msg: fmt.Sprintf("The file is larger than the %s limit.", formatBytes(s.cfg.MaxFileSize))}
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
	if item == "" || in.Default {
		codes, err := s.store.RequestCodes(ctx, acc.Visit.ID)
		if err != nil {
			return "", "", err
		}
		if named := ItemFromName(name, codes); named != "" {
			item = named
		}
	}
	return name, item, nil
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
	s := acc.svc
	size := in.Size
	in.Size = max(in.Size, 0)
	name, item, err := acc.checkUpload(ctx, in)
	if err != nil {
		return FileView{}, err
	}
	key, err := s.keys.Key(ctx, acc.Visit.ID)
	if err != nil {
		return FileView{}, err
	}
	fileID, name, err := acc.reserveName(ctx, key, item, name, in.OnConflict == OnConflictRename)
	if err != nil {
		return FileView{}, err
	}
	f, err := s.evidence.Put(ctx, evidence.Upload{
		Visit: acc.Visit, Key: key, FileID: fileID, Name: name, Item: item, Size: size, MaxSize: s.cfg.MaxFileSize, UploadedBy: acc.Actor.UserID, Body: body,
		Record: acc.recorder(),
	})
	if err != nil {
		s.releaseName(ctx, fileID)
		return FileView{}, err
	}
	s.log.Info("file uploaded", "visit", acc.Visit.ID, "file", f.ID, "size", f.Size, "segments", f.Segments, "user", acc.Actor.UserID, "scan", f.Scan)
	s.countUpload(f)
	s.afterVerdict(ctx, f)
	s.afterUpload(ctx, acc.Visit, f)
	if err := acc.holdNewObjects(ctx); err != nil {
		return FileView{}, err
	}
	return fileView(key, f, acc.Actor.Display())
}

// holdNewObjects puts objects stored while the visit is under legal hold
// under hold too. The hold is read again (it may have been set while the
// upload ran); a failure to read it is a failure, never "no hold".
func (acc *Access) holdNewObjects(ctx context.Context) error {
	h, err := acc.svc.store.GetLegalHold(ctx, acc.Visit.ID)
	if err != nil {
		return err
	}
	if h.On {
		return acc.svc.blobs.SetLegalHold(ctx, acc.Visit.Bucket, true)
	}
	return nil
}

// FileQuery asks for a page of a visit's files: those whose name contains
// Search (case aside), after the file After (the last of the previous
// page; "" for the first), at most Limit (FilePageSize when 0).
type FileQuery struct {
	After  string
	Search string
	Limit  int
}

// FilePageSize is the default number of files a page lists; MaxFilePage
// the most one may ask for.
const (
	FilePageSize = 100
	MaxFilePage  = 1000
)

// FilePage is a page of files in natural order of their names; Next is the
// After of the next page ("" on the last); Total counts every file that
// matches, on all pages.
type FilePage struct {
	Files []FileView `json:"files"`
	Next  string     `json:"next,omitempty"`
	Total int        `json:"total"`
}

// Files lists every file of the visit that policy lets the actor see, in
// natural order of their names.
func (acc *Access) Files(ctx context.Context) ([]FileView, error) {
	p, err := acc.FilePage(ctx, FileQuery{Limit: -1})
	return p.Files, err
}

// FilePage lists a page of the files of the visit that policy lets the
// actor see. Its cost does not grow with the visit's files: the names come
// from the in-memory index (fileindex.go), checked with one small read.
func (acc *Access) FilePage(ctx context.Context, q FileQuery) (FilePage, error) {
	if err := acc.require(ctx, policy.FileList, nil); err != nil {
		return FilePage{}, err
	}
	if q.Limit == 0 {
		q.Limit = FilePageSize
	}
	if q.Limit > MaxFilePage || q.After != "" && !IsID(q.After) || len(q.Search) > 255 {
		return FilePage{}, invalid("after", "This page of files does not exist: go back to the first page.")
	}
	s, v := acc.svc, acc.Visit
	key, err := s.keys.Key(ctx, v.ID)
	if err != nil {
		return FilePage{}, err
	}
	vf, err := s.keys.indexedFiles(ctx, v.ID, key)
	if err != nil {
		return FilePage{}, err
	}
	from := 0
	if q.After != "" {
		i, ok := vf.pos[q.After]
		if !ok {
			return FilePage{}, invalid("after", "The list of files changed: go back to the first page.")
		}
		from = i + 1
	}
	search := strings.ToLower(strings.TrimSpace(q.Search))
	visible := acc.fileFilter(ctx, policy.FileList)
	refilable := acc.fileFilter(ctx, policy.FileRefile)
	out := FilePage{Files: []FileView{}}
	var page []indexedFile
	for i, f := range vf.files {
		if search != "" && !strings.Contains(f.lower, search) {
			continue
		}
		if ok, err := visible(f.File); err != nil {
			return FilePage{}, err
		} else if !ok {
			continue
		}
		out.Total++
		if i < from {
			continue
		}
		if q.Limit < 0 || len(page) < q.Limit {
			page = append(page, f)
		} else if out.Next == "" {
			out.Next = page[len(page)-1].ID
		}
	}
	for _, f := range page {
		u := vf.uploaders[f.UploadedBy]
		fv := FileView{ID: f.ID, Name: f.name, Size: f.Size, SHA256: f.SHA256, Item: f.Item, UploadedBy: PersonName(u.Email, u.Name, u.Subject, u.Issuer), UploadedAt: f.UploadedAt,
			Scan: f.Scan, ScanSignature: f.ScanSignature}
		if fv.Refilable, err = refilable(f.File); err != nil {
			return FilePage{}, err
		}
		out.Files = append(out.Files, fv)
	}
	return out, nil
}

// DeleteFile removes the file Authorize named.
func (acc *Access) DeleteFile(ctx context.Context) error {
	if err := acc.needFile(); err != nil {
		return err
	}
	if err := acc.require(ctx, policy.FileDelete, &acc.File); err != nil {
		return err
	}
	f := acc.File
	if err := acc.svc.evidence.Delete(ctx, acc.Visit, f.ID, acc.rec("file.deleted", f.ID, "success", map[string]any{"sha256": f.SHA256})); err != nil {
		return err
	}
	acc.svc.log.Info("file deleted", "visit", acc.Visit.ID, "file", f.ID, "user", acc.Actor.UserID)
	return nil
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
	item, err := ParseItem(strings.TrimSpace(rawItem))
	if err != nil || item == "" {
		return FileView{}, invalid("item", "Choose the item to file it under, such as 1.03, cld or case-2.")
	}
	key, err := s.keys.Key(ctx, acc.Visit.ID)
	if err != nil {
		return FileView{}, err
	}
	if item != f.Item {
		if err := s.indexNames(ctx, acc.Visit.ID, key); err != nil {
			return FileView{}, err
		}
		rec := acc.rec("file.refiled", f.ID, "success", map[string]any{"from": f.Item, "to": item})
		if err := s.store.RefileFile(ctx, acc.Visit.ID, f.ID, item, rec); errors.Is(err, store.ErrNameTaken) {
			name, _ := openName(key, f)
			return FileView{}, errNameExists(name, item)
		} else if err != nil {
			return FileView{}, err
		}
		s.log.Info("file refiled", "visit", acc.Visit.ID, "file", f.ID, "from", f.Item, "to", item, "user", acc.Actor.UserID)
		f.Item = item
		acc.File = f
	}
	return fileView(key, f, "")
}

// HiddenUnfiled counts the files waiting to be filed that the actor may not
// see: the inspection team learns that they exist, never what they are.
func (acc *Access) HiddenUnfiled(ctx context.Context) (int, error) {
	if err := acc.require(ctx, policy.FileList, nil); err != nil {
		return 0, err
	}
	counts, err := acc.svc.store.ItemFileCounts(ctx, acc.Visit.ID)
	if err != nil || counts[""] == 0 {
		return 0, err
	}
	// Whether the actor sees unfiled files depends on the role alone (and
	// on whose file it is for uploaders, who see only their own anyway).
	d, err := acc.decide(ctx, policy.FileList, &store.File{ID: "unfiled", Item: ""})
	if err != nil || d.Allow || acc.Member.Role == policy.RoleProviderUploader {
		return 0, err
	}
	return counts[""], nil
}
