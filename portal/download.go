package portal

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal/evidence"
)

// downloadFile sends a file's plaintext, decrypted on the fly. The first
// segment is authenticated before the status line is written, so a corrupt
// file is a 500 "corrupt", not a broken download; a later corrupt segment
// cuts the connection before any byte of it is sent.
func (s *Server) downloadFile(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	f := acc.file
	key, err := s.keys.Key(ctx, acc.visit.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	name, err := key.Open(f.NameSealed, evidence.NameContext(f.VisitID, f.ID))
	if err != nil {
		s.log.Error("file name does not open", "visit", acc.visit.ID, "file", f.ID)
		s.fail(c, errCorrupt)
		return
	}
	off, length, partial, err := ParseRange(c.GetHeader("Range"), f.Size)
	if err != nil {
		c.Header("Content-Range", fmt.Sprintf("bytes */%d", f.Size))
		s.fail(c, &httpError{http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable", "The requested range is outside the file."})
		return
	}
	if !partial {
		off, length = 0, f.Size
	}
	r, err := s.evidence.Open(ctx, acc.visit, key, f, off, length)
	if err != nil {
		if errors.Is(err, evidence.ErrCorrupt) {
			_ = s.store.Audit(ctx, s.auditRec(c, "file.download", f.ID, "corrupt", map[string]any{"from": off, "bytes": length}))
		}
		s.fail(c, err)
		return
	}
	defer r.Close()
	// No download without its record.
	if err := s.store.Audit(ctx, s.auditRec(c, "file.download", f.ID, "success", map[string]any{"from": off, "bytes": length, "range": partial})); err != nil {
		s.fail(c, err)
		return
	}

	sum, _ := hex.DecodeString(f.SHA256)
	h := c.Writer.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", contentDisposition(string(name)))
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	h.Set("Accept-Ranges", "bytes")
	h.Set("ETag", `"`+f.SHA256+`"`)
	h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	h.Set("Digest", "sha-256="+base64.StdEncoding.EncodeToString(sum))
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+length-1, f.Size))
	}
	c.Status(status)
	c.Writer.WriteHeaderNow()
	// io.Copy hands decrypted segments and blocks to the writer (WriteTo).
	if _, err := io.Copy(c.Writer, r); err != nil {
		if ctx.Err() != nil {
			return // the client went away
		}
		s.fail(c, err)
		return
	}
	s.log.Info("file downloaded", "visit", acc.visit.ID, "file", f.ID, "user", acc.user.ID, "from", off, "bytes", length)
}
