package web

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
)

// replaceFile stores the raw request body as a new version of a file (its
// name and item); the earlier is kept, superseded.
func (s *Server) replaceFile(c *gin.Context) {
	size := c.Request.ContentLength
	if size < 0 {
		s.fail(c, &httpError{http.StatusLengthRequired, "length_required", "Send the file with a Content-Length header."})
		return
	}
	out, err := accessOf(c).ReplaceFile(c.Request.Context(), size, c.Request.Body)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, out)
}

// purgeFile purges a misdirected upload: {"reason": "..."}.
func (s *Server) purgeFile(c *gin.Context) {
	var req struct {
		Reason string `json:"reason"`
	}
	if !s.bindJSON(c, &req, `Send {"reason": "uploaded to the wrong visit"}: why the file is purged.`) {
		return
	}
	if err := accessOf(c).Purge(c.Request.Context(), req.Reason); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// listPurged lists what stays of the visit's purged files.
func (s *Server) listPurged(c *gin.Context) {
	out, err := accessOf(c).PurgedFiles(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"purged": out})
}

// completeItem marks an item complete, or not: {"complete": true}.
func (s *Server) completeItem(c *gin.Context) {
	var req struct {
		Complete *bool `json:"complete"`
	}
	if !s.bindJSON(c, &req, `Send {"complete": true} (or false to reopen the item).`) {
		return
	}
	if req.Complete == nil {
		s.fail(c, badRequest(`Send {"complete": true} (or false to reopen the item).`))
		return
	}
	if err := accessOf(c).CompleteItem(c.Request.Context(), c.Param("item"), *req.Complete); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// deleteFileForm is the visit page's delete control. A refusal is shown
// on the visit page, by the file.
func (s *Server) deleteFileForm(c *gin.Context) {
	acc := accessOf(c)
	withdrawn, err := acc.DeleteFile(c.Request.Context())
	if err != nil {
		s.refuse(c, &form{}, err, nil, visitFormField(c), s.visitPage)
		return
	}
	done := "deleted"
	if withdrawn {
		done = "withdrawn"
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"?corrected="+done+"#files")
}

// replaceFileForm is the visit page's replace control: one file part,
// stored as the new version (no length of its own: buffered segments).
// A refusal is shown on the visit page, by the file's "Replace" input.
func (s *Server) replaceFileForm(c *gin.Context) {
	acc := accessOf(c)
	refuse := func(err error) {
		s.refuse(c, &form{}, err, nil, "replace-file-"+c.Param("file"), s.visitPage)
	}
	mr, err := c.Request.MultipartReader()
	if err != nil {
		refuse(badRequest("Choose the new version of the file."))
		return
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			refuse(badRequest("Choose the new version of the file."))
			return
		}
		if part.FormName() != "file" || part.FileName() == "" {
			continue
		}
		if _, err := acc.ReplaceFile(c.Request.Context(), -1, truncatedPart{part}); err != nil {
			refuse(err)
			return
		}
		c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"?corrected=replaced#files")
		return
	}
}

// completeItemForm is the visit page's "mark complete" control. A refusal
// is shown on the visit page, by the item.
func (s *Server) completeItemForm(c *gin.Context) {
	acc := accessOf(c)
	complete := c.PostForm("complete") != "false"
	if err := acc.CompleteItem(c.Request.Context(), c.Param("item"), complete); err != nil {
		s.refuse(c, &form{}, err, nil, visitFormField(c), s.visitPage)
		return
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"?completed="+url.QueryEscape(c.Param("item"))+"#request")
}
