package portal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/store"
)

type fileJSON struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	Item       string    `json:"item"`
	UploadedBy string    `json:"uploaded_by"`
	UploadedAt time.Time `json:"uploaded_at"`
}

func (s *Server) fileView(key *crypto.VisitKey, f store.File, uploader string) (fileJSON, error) {
	name, err := key.Open(f.NameSealed, evidence.NameContext(f.VisitID, f.ID))
	if err != nil {
		return fileJSON{}, fmt.Errorf("file %s: name does not open: %w", f.ID, err)
	}
	return fileJSON{ID: f.ID, Name: string(name), Size: f.Size, SHA256: f.SHA256, Item: f.Item, UploadedBy: uploader, UploadedAt: f.UploadedAt}, nil
}

// checkUpload validates what is known before the body is read: name, item
// and size. Refusals here read nothing and store nothing.
func (s *Server) checkUpload(rawName, rawItem string, size int64) (name, item string, err error) {
	if size > s.cfg.MaxFileSize {
		return "", "", &httpError{http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("The file is larger than the %s limit.", formatBytes(s.cfg.MaxFileSize))}
	}
	if name, err = ParseFileName(rawName); err != nil {
		return "", "", badRequest(capitalise(err.Error()) + ".")
	}
	if item, err = ParseItem(rawItem); err != nil {
		return "", "", badRequest(capitalise(err.Error()) + ".")
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

// storeUpload runs one upload for the signed-in provider; size -1 means the
// length is not known in advance (a form post).
func (s *Server) storeUpload(c *gin.Context, acc *access, name, item string, size int64, body io.Reader) (fileJSON, error) {
	ctx := c.Request.Context()
	key, err := s.keys.Key(ctx, acc.visit.ID)
	if err != nil {
		return fileJSON{}, err
	}
	f, err := s.evidence.Put(ctx, evidence.Upload{
		Visit: acc.visit, Key: key, Name: name, Item: item, Size: size, MaxSize: s.cfg.MaxFileSize, UploadedBy: acc.user.ID, Body: body,
		Record: s.uploadRecorder(c),
	})
	if err != nil {
		return fileJSON{}, err
	}
	s.log.Info("file uploaded", "visit", acc.visit.ID, "file", f.ID, "size", f.Size, "segments", f.Segments, "user", acc.user.ID)
	if err := s.holdNewObjects(c, acc); err != nil {
		return fileJSON{}, err
	}
	return s.fileView(key, f, acc.user.Email)
}

// uploadRecorder describes the acts of an upload (started, completed,
// failed) for the audit trail, as done by this request's principal.
func (s *Server) uploadRecorder(c *gin.Context) func(action, outcome, fileID string, detail map[string]any) store.AuditRecord {
	return func(action, outcome, fileID string, detail map[string]any) store.AuditRecord {
		return s.auditRec(c, action, fileID, outcome, detail)
	}
}

// holdNewObjects puts objects stored while the visit is under legal hold
// under hold too.
func (s *Server) holdNewObjects(c *gin.Context, acc *access) error {
	ctx := c.Request.Context()
	if h, err := s.store.GetLegalHold(ctx, acc.visit.ID); err == nil && h.On {
		return s.blobs.SetLegalHold(ctx, acc.visit.Bucket, true)
	}
	return nil
}

// uploadFile streams the raw request body into the visit.
func (s *Server) uploadFile(c *gin.Context) {
	size := c.Request.ContentLength
	if size < 0 {
		s.fail(c, &httpError{http.StatusLengthRequired, "length_required", "Send the file with a Content-Length header."})
		return
	}
	name, item, err := s.checkUpload(c.Query("name"), c.Query("item"), size)
	if err != nil {
		s.fail(c, err)
		return
	}
	out, err := s.storeUpload(c, accessOf(c), name, item, size, c.Request.Body)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, out)
}

func (s *Server) listFiles(c *gin.Context) {
	out, err := s.visitFiles(c.Request.Context(), accessOf(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"files": out})
}

// visitFiles lists the files of acc's visit that policy lets acc see.
func (s *Server) visitFiles(ctx context.Context, acc *access) ([]fileJSON, error) {
	v := acc.visit
	key, err := s.keys.Key(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	files, err := s.store.Files(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	emails := map[string]string{}
	visible := s.fileFilter(ctx, acc, policy.FileList)
	out := make([]fileJSON, 0, len(files))
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
		fj, err := s.fileView(key, f, emails[f.UploadedBy])
		if err != nil {
			return nil, err
		}
		out = append(out, fj)
	}
	return out, nil
}

func (s *Server) deleteFile(c *gin.Context) {
	acc := accessOf(c)
	if err := s.evidence.Delete(c.Request.Context(), acc.visit, acc.file.ID, s.auditRec(c, "file.deleted", acc.file.ID, "success", map[string]any{"sha256": acc.file.SHA256})); err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("file deleted", "visit", acc.visit.ID, "file", acc.file.ID, "user", acc.user.ID)
	c.Status(http.StatusNoContent)
}
