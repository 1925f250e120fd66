package portal

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/crypto"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/store"
)

// manifestName is the file inside every archive that lists the SHA-256 of
// each file as recorded at upload, in sha256sum's format, so that
// "sha256sum -c manifest-sha256.txt" checks the unpacked files.
const manifestName = "manifest-sha256.txt"

// downloadArchive streams the chosen files (?file=ID, repeated, and/or
// ?item=CODE, repeated) as one zip, with no temporary file. Files are stored
// uncompressed (evidence is mostly compressed already, and the CPU goes to
// decryption). Every file is checked against its recorded SHA-256 as it is
// sent; a mismatch or a corrupt segment cuts the connection, so a broken
// archive never looks complete.
func (s *Server) downloadArchive(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	wantFiles, wantItems := c.QueryArray("file"), c.QueryArray("item")
	if len(wantFiles) == 0 && len(wantItems) == 0 {
		s.fail(c, badRequest("Choose at least one file or item to download."))
		return
	}
	files, err := s.store.Files(ctx, acc.visit.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	may := s.fileFilter(ctx, acc, policy.FileDownload)
	var chosen []store.File
	found := map[string]bool{}
	for _, f := range files {
		byID, byItem := slices.Contains(wantFiles, f.ID), slices.Contains(wantItems, f.Item) || f.Item == "" && slices.Contains(wantItems, "unfiled")
		if !byID && !byItem {
			continue
		}
		ok, err := may(f)
		if err != nil {
			s.fail(c, err)
			return
		}
		if !ok {
			continue // the same answer as for a file that does not exist
		}
		found[f.ID] = true
		chosen = append(chosen, f)
	}
	for _, id := range wantFiles {
		if !found[id] {
			s.fail(c, &httpError{http.StatusNotFound, "not_found", "One of the chosen files does not exist or is not yours to download."})
			return
		}
	}
	if len(chosen) == 0 {
		s.fail(c, &httpError{http.StatusNotFound, "not_found", "There are no files you may download in the chosen items."})
		return
	}
	key, err := s.keys.Key(ctx, acc.visit.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	paths := make([]string, len(chosen))
	used := map[string]bool{}
	var total int64
	for i, f := range chosen {
		name, err := key.Open(f.NameSealed, evidence.NameContext(f.VisitID, f.ID))
		if err != nil {
			s.log.Error("file name does not open", "visit", acc.visit.ID, "file", f.ID)
			s.fail(c, errCorrupt)
			return
		}
		paths[i] = archivePath(f.Item, string(name), used)
		total += f.Size
	}
	// No download without its record: one per file, all or none.
	recs := make([]store.AuditRecord, len(chosen))
	for i, f := range chosen {
		recs[i] = s.auditRec(c, "file.download", f.ID, "success", map[string]any{"from": 0, "bytes": f.Size, "archive": true})
	}
	if err := s.store.Audit(ctx, recs...); err != nil {
		s.fail(c, err)
		return
	}

	h := c.Writer.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", contentDisposition(acc.visit.Reference+" evidence.zip"))
	c.Status(http.StatusOK)
	c.Writer.WriteHeaderNow()
	zw := zip.NewWriter(c.Writer)
	var manifest strings.Builder
	for i, f := range chosen {
		if err := s.archiveFile(ctx, zw, acc, key, f, paths[i]); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("archive stopped", "visit", acc.visit.ID, "file", f.ID, "err", err)
			s.fail(c, err) // headers are sent: this cuts the connection
			return
		}
		fmt.Fprintf(&manifest, "%s  %s\n", f.SHA256, paths[i])
	}
	w, err := zw.CreateHeader(&zip.FileHeader{Name: manifestName, Method: zip.Deflate, Modified: s.now()})
	if err == nil {
		_, err = io.WriteString(w, manifest.String())
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		if ctx.Err() == nil {
			s.fail(c, err)
		}
		return
	}
	s.log.Info("archive downloaded", "visit", acc.visit.ID, "files", len(chosen), "bytes", total, "user", acc.user.ID)
}

func (s *Server) archiveFile(ctx context.Context, zw *zip.Writer, acc *access, key *crypto.VisitKey, f store.File, path string) error {
	r, err := s.evidence.Open(ctx, acc.visit, key, f, 0, f.Size)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := zw.CreateHeader(&zip.FileHeader{Name: path, Method: zip.Store, Modified: f.UploadedAt})
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(w, h), r); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("%w: file %s does not match its recorded SHA-256", evidence.ErrCorrupt, f.ID)
	}
	return nil
}

// archivePath is "item/name" inside the archive, made unique.
func archivePath(item, name string, used map[string]bool) string {
	dir := item
	if dir == "" {
		dir = "unfiled"
	}
	p := dir + "/" + name
	for i := 2; used[p]; i++ {
		ext := ""
		base := name
		if j := strings.LastIndexByte(name, '.'); j > 0 {
			base, ext = name[:j], name[j:]
		}
		p = dir + "/" + base + " (" + strconv.Itoa(i) + ")" + ext
	}
	used[p] = true
	return p
}
