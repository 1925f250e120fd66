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
}

func fileView(key *crypto.VisitKey, f store.File, uploader string) (FileView, error) {
	name, err := openName(key, f)
	if err != nil {
		return FileView{}, err
	}
	return FileView{ID: f.ID, Name: name, Size: f.Size, SHA256: f.SHA256, Item: f.Item, UploadedBy: uploader, UploadedAt: f.UploadedAt}, nil
}

// openName unseals a file's name.
func openName(key *crypto.VisitKey, f store.File) (string, error) {
	name, err := key.Open(f.NameSealed, evidence.NameContext(f.VisitID, f.ID))
	if err != nil {
		return "", fmt.Errorf("file %s: name does not open: %w", f.ID, err)
	}
	return string(name), nil
}

// checkUpload validates what is known before the body is read: name, item
// and size. Refusals here read nothing and store nothing.
func (s *Service) checkUpload(rawName, rawItem string, size int64) (name, item string, err error) {
	if size > s.cfg.MaxFileSize {
		return "", "", &Error{Kind: KindTooLarge, Code: "too_large", Msg: fmt.Sprintf("The file is larger than the %s limit.", formatBytes(s.cfg.MaxFileSize))}
	}
	if name, err = ParseFileName(rawName); err != nil {
		return "", "", invalid("name", capitalise(err.Error())+".")
	}
	if item, err = ParseItem(rawItem); err != nil {
		return "", "", invalid("item", capitalise(err.Error())+".")
	}
	if item == "" {
		item = ItemFromName(name)
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

// CheckUpload validates an upload's name, item and size before its body is
// read (the plain form reads each file's name from its part first).
func (acc *Access) CheckUpload(ctx context.Context, rawName, rawItem string, size int64) error {
	if err := acc.require(ctx, policy.FileUpload, nil); err != nil {
		return err
	}
	_, _, err := acc.svc.checkUpload(rawName, rawItem, size)
	return err
}

// Upload stores one file from body for the actor; size -1 means the length
// is not known in advance (a form post). The item is the one given, else
// the one the name starts with.
func (acc *Access) Upload(ctx context.Context, rawName, rawItem string, size int64, body io.Reader) (FileView, error) {
	if err := acc.require(ctx, policy.FileUpload, nil); err != nil {
		return FileView{}, err
	}
	s := acc.svc
	name, item, err := s.checkUpload(rawName, rawItem, max(size, 0))
	if err != nil {
		return FileView{}, err
	}
	key, err := s.keys.Key(ctx, acc.Visit.ID)
	if err != nil {
		return FileView{}, err
	}
	f, err := s.evidence.Put(ctx, evidence.Upload{
		Visit: acc.Visit, Key: key, Name: name, Item: item, Size: size, MaxSize: s.cfg.MaxFileSize, UploadedBy: acc.Actor.UserID, Body: body,
		Record: acc.recorder(),
	})
	if err != nil {
		return FileView{}, err
	}
	s.log.Info("file uploaded", "visit", acc.Visit.ID, "file", f.ID, "size", f.Size, "segments", f.Segments, "user", acc.Actor.UserID)
	if err := acc.holdNewObjects(ctx); err != nil {
		return FileView{}, err
	}
	return fileView(key, f, acc.Actor.Email)
}

// holdNewObjects puts objects stored while the visit is under legal hold
// under hold too.
func (acc *Access) holdNewObjects(ctx context.Context) error {
	if h, err := acc.svc.store.GetLegalHold(ctx, acc.Visit.ID); err == nil && h.On {
		return acc.svc.blobs.SetLegalHold(ctx, acc.Visit.Bucket, true)
	}
	return nil
}

// Files lists the files of the visit that policy lets the actor see.
func (acc *Access) Files(ctx context.Context) ([]FileView, error) {
	if err := acc.require(ctx, policy.FileList, nil); err != nil {
		return nil, err
	}
	s, v := acc.svc, acc.Visit
	key, err := s.keys.Key(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	files, err := s.store.Files(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	emails := map[string]string{}
	visible := acc.fileFilter(ctx, policy.FileList)
	out := make([]FileView, 0, len(files))
	for _, f := range files {
		if ok, err := visible(f); err != nil {
			return nil, err
		} else if !ok {
			continue
		}
		if _, ok := emails[f.UploadedBy]; !ok {
			u, err := s.store.User(ctx, f.UploadedBy)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			emails[f.UploadedBy] = u.Email
		}
		fv, err := fileView(key, f, emails[f.UploadedBy])
		if err != nil {
			return nil, err
		}
		out = append(out, fv)
	}
	return out, nil
}

// DeleteFile removes the file Authorize named.
func (acc *Access) DeleteFile(ctx context.Context) error {
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
