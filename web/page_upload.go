package web

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

// uploadPage is the upload form: plain HTML that works without JavaScript,
// which portal.mjs turns into a resumable, many-file uploader.
// maxFormValue bounds the plain upload form's item and on_conflict: far
// more than any item code or choice.
const maxFormValue = 256

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
	stored, empty := 0, 0
	var refused []int // the status of each file refused
	// done ends the form: the page again with what was refused, and the
	// files stored before it confirmed above it.
	done := func(status int) {
		if stored > 0 {
			s.flash(c, plural(stored, "file")+" uploaded."+emptyNote(stored, empty))
		}
		s.showForm(c, f, status, s.uploadPage)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Add("file", "The upload was interrupted. Files already listed on the visit were stored; send the rest again.")
			done(http.StatusBadRequest)
			return
		}
		switch part.FormName() {
		case "item", "on_conflict":
			// Read whole (up to a bound no item or choice comes near), so
			// that a value is checked as sent: cut short, "1.01" and 20
			// spaces and more was taken for "1.01".
			b, err := io.ReadAll(io.LimitReader(part, maxFormValue+1))
			if err != nil {
				f.Add("file", "The upload was interrupted. Files already listed on the visit were stored; send the rest again.")
				done(http.StatusBadRequest)
				return
			}
			if len(b) > maxFormValue {
				msg := "Choose the item from the list, and send the form again."
				if part.FormName() == "on_conflict" {
					msg = "Choose again whether to keep both files, and send the form again."
				}
				f.Add(part.FormName(), msg)
				done(http.StatusBadRequest)
				return
			}
			if part.FormName() == "item" {
				item = strings.TrimSpace(string(b))
			} else {
				onConflict = strings.TrimSpace(string(b))
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
		fv, err := acc.Upload(c.Request.Context(), portal.NewFile{Name: part.FileName(), Item: item, Default: true, Size: -1, OnConflict: onConflict}, truncatedPart{part})
		if err == nil {
			stored++
			if fv.Size == 0 {
				empty++
			}
			continue
		}
		if e, ok := portal.AsError(err); ok && fileRefusal[e.Kind] && e.Field != "item" && e.Field != "on_conflict" {
			// About this file alone: say which, and go on to the next.
			he := toHTTPError(err)
			f.Add("file", shortName(part.FileName())+" was not uploaded. "+he.msg)
			refused = append(refused, he.status)
			continue
		}
		if stored > 0 {
			s.flash(c, plural(stored, "file")+" uploaded before the problem below.")
		}
		s.refuse(c, f, err, map[string]string{"name": "file", "item": "item", "on_conflict": "on_conflict"}, "file", s.uploadPage)
		return
	}
	if len(f.Errors) > 0 {
		done(refusalStatus(refused))
		return
	}
	if stored == 0 {
		f.Add("file", "Choose a file to upload")
		s.showForm(c, f, http.StatusBadRequest, s.uploadPage)
		return
	}
	to := "/visits/" + acc.Visit.ID + "?uploaded=" + strconv.Itoa(stored)
	if empty > 0 {
		to += "&empty=" + strconv.Itoa(empty)
	}
	c.Redirect(http.StatusSeeOther, to+"#files")
}

// refusalStatus is the status of a form whose files were refused: theirs
// when they share one (409 for a name taken, 413 for a file too large, as
// the API answers them), 400 when they differ.
func refusalStatus(refused []int) int {
	if len(refused) == 0 {
		return http.StatusBadRequest
	}
	for _, st := range refused[1:] {
		if st != refused[0] {
			return http.StatusBadRequest
		}
	}
	return refused[0]
}

// emptyNote says how many of the files uploaded were empty, if any: an
// empty file is most often a failed export (the page's script asks about
// one before it is sent; the plain form can only say so after).
func emptyNote(uploaded, empty int) string {
	switch {
	case empty <= 0 || empty > uploaded:
		return ""
	case uploaded == 1:
		return " It is empty (0 bytes): check it is the file you meant to send."
	case empty == 1:
		return " 1 of them is empty (0 bytes): check it is the file you meant to send."
	}
	return fmt.Sprintf(" %d of them are empty (0 bytes): check they are the files you meant to send.", empty)
}

// fileRefusal are the refusals of one file of several (its name, its
// size, a name already taken) after which the next is still tried; any
// other (uploads closed, the storage full) ends the form.
var fileRefusal = map[portal.Kind]bool{portal.KindInvalid: true, portal.KindConflict: true, portal.KindTooLarge: true}

// shortName is a file's name as an error quotes it: in quotes, cut short
// when long, and with any character that is not shown as itself (a
// control, a text-direction override, one of zero width) as U+FFFD, so
// a name refused for one cannot turn the message around.
func shortName(name string) string {
	const most = 60
	r := []rune(strings.ToValidUTF8(name, "\uFFFD"))
	if len(r) > most {
		r = append(r[:most], '…')
	}
	for i, c := range r {
		if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
			r[i] = unicode.ReplacementChar
		}
	}
	return "“" + string(r) + "”"
}
