package web

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

// uploadPage is the upload form: plain HTML that works without JavaScript,
// which portal.mjs turns into a resumable, many-file uploader.
func (s *Server) uploadPage(c *gin.Context) {
	s.renderWithRequest(c, "upload", "Upload files", "Items", gin.H{"MaxSize": s.cfg.MaxFileSize, "SegmentSize": s.cfg.SegmentSize})
}

// uploadForm takes the plain HTML form (no JavaScript). The file part has no
// length of its own, so it is stored in buffered segments.
func (s *Server) uploadForm(c *gin.Context) {
	acc := accessOf(c)
	f := &form{}
	mr, err := c.Request.MultipartReader()
	if err != nil {
		f.Add("file", "Choose a file to upload")
		s.showForm(c, f, http.StatusBadRequest, s.uploadPage)
		return
	}
	var item, onConflict string
	stored := 0
	refuse := func(err error) {
		if stored > 0 {
			s.flash(c, plural(stored, "file")+" uploaded before the problem below.")
		}
		s.refuse(c, f, err, map[string]string{"name": "file", "item": "item", "on_conflict": "on_conflict"}, "file", s.uploadPage)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			refuse(badRequest("The upload was interrupted. Files already listed on the visit were stored; send the rest again."))
			return
		}
		switch part.FormName() {
		case "item", "on_conflict":
			b := make([]byte, 16)
			n, _ := io.ReadFull(part, b)
			if part.FormName() == "item" {
				item = strings.TrimSpace(string(b[:n]))
			} else {
				onConflict = strings.TrimSpace(string(b[:n]))
			}
			f.Set("item", item)
			f.Set("on_conflict", onConflict)
			continue
		case "file":
		default:
			continue
		}
		if part.FileName() == "" {
			continue // an empty file input
		}
		if _, err := acc.Upload(c.Request.Context(), portal.NewFile{Name: part.FileName(), Item: item, Default: true, Size: -1, OnConflict: onConflict}, truncatedPart{part}); err != nil {
			refuse(err)
			return
		}
		stored++
	}
	if stored == 0 {
		f.Add("file", "Choose a file to upload")
		s.showForm(c, f, http.StatusBadRequest, s.uploadPage)
		return
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"?uploaded="+strconv.Itoa(stored)+"#files")
}
