package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal/evidence"
)

// Strict requests: what a client sends is taken exactly or refused with the
// status that says why, and a refused body stores nothing.
//   - A request body must keep coming: each read waits at most
//     PORTAL_READ_IDLE_TIMEOUT, and a body that ends before its
//     Content-Length, stalls, or breaks off is the client's failure (400),
//     whatever the handler was doing with it when it failed.
//   - JSON endpoints take application/json only (415), up to maxJSONBody
//     (413), one object of known fields (400).
//   - A form is read in one place (formBodies), whole or not at all: a
//     urlencoded body up to maxFormBody (413), and a multipart body only
//     by the routes that stream it (415 elsewhere), so no file part is
//     ever kept in a temporary file.
//   - /static/ serves files, never a listing of a folder.

const maxJSONBody = 1 << 20

// maxFormBody bounds a urlencoded form. The largest real form is a
// question or a reason of 2,000 characters: at most 24,000 bytes once
// each byte of a four-byte character is percent-encoded. A text pasted at
// well over its limit still reaches the form's own message for its field.
const maxFormBody = 64 << 10

// errBodyFailed is the client's body failing: short, stalled or cut off.
// It wraps evidence.ErrShortBody, so an upload that read it reports why.
var errBodyFailed = fmt.Errorf("web: request body failed: %w", evidence.ErrShortBody)

// strictBody reads a request body with an idle deadline per read, and
// remembers whether it failed.
type strictBody struct {
	r      io.ReadCloser
	rc     *http.ResponseController
	idle   time.Duration
	left   int64 // bytes of the declared length still to come; -1: unknown
	failed error
}

const bodyKey = "strict_body"

// strictBodies wraps every request body.
func (s *Server) strictBodies(c *gin.Context) {
	if c.Request.Body != nil && c.Request.Body != http.NoBody {
		b := &strictBody{r: c.Request.Body, rc: http.NewResponseController(c.Writer), idle: s.cfg.ReadIdleTimeout, left: c.Request.ContentLength}
		c.Request.Body = b
		c.Set(bodyKey, b)
	}
	c.Next()
}

func (b *strictBody) Read(p []byte) (int, error) {
	if b.failed != nil {
		return 0, b.failed
	}
	// Without a connection to set deadlines on (tests' recorders), the
	// body is read as it is.
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	n, err := b.r.Read(p)
	if b.left >= 0 {
		b.left -= int64(n)
	}
	switch {
	case err == io.EOF || err == nil && b.left == 0:
		// The body is all here: the connection's reads are the server's
		// again (it watches for the client going away while the handler
		// works, and a deadline left set would cancel the request).
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil:
		b.failed = fmt.Errorf("%w: %v", errBodyFailed, err)
		return n, b.failed
	}
	return n, err
}

func (b *strictBody) Close() error { return b.r.Close() }

// bodyFailed reports whether the request's body failed.
func bodyFailed(c *gin.Context) bool {
	v, ok := c.Get(bodyKey)
	return ok && v.(*strictBody).failed != nil
}

// truncatedPart turns a multipart part that ends without its boundary
// (io.ErrUnexpectedEOF from mime/multipart) into a failed body, so that a
// form cut off inside a file is never stored as a shorter file.
type truncatedPart struct{ r io.Reader }

func (t truncatedPart) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = errBodyFailed
	}
	return n, err
}

var (
	errNotJSON = &httpError{http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the request body as JSON, with Content-Type: application/json."}
	errTooBig  = &httpError{http.StatusRequestEntityTooLarge, "too_large", "The request body is larger than 1 MiB."}
)

// bindJSON reads the body into v: JSON only, bounded, one value of known
// fields. On failure it has answered (hint says what to send).
func (s *Server) bindJSON(c *gin.Context, v any, hint string) bool {
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/json" {
		s.fail(c, errNotJSON)
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("more than one JSON value")
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return true
	case errors.As(err, &tooBig):
		s.fail(c, errTooBig)
	case errors.Is(err, errBodyFailed):
		s.fail(c, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		s.fail(c, badRequest("The field "+strings.TrimPrefix(err.Error(), "json: unknown field ")+" is not known. "+hint))
	default:
		s.fail(c, badRequest(hint))
	}
	return false
}

var (
	errMultipartForm = &httpError{http.StatusUnsupportedMediaType, "multipart_form",
		"This form was sent as multipart/form-data, which only the upload forms use. Nothing in it was saved."}
	errNotAForm = &httpError{http.StatusUnsupportedMediaType, "not_a_form",
		"This was not sent as a form (application/x-www-form-urlencoded), so it was not read. Nothing in it was saved."}
	errFormTooBig = &httpError{http.StatusRequestEntityTooLarge, "form_too_large",
		fmt.Sprintf("The form is larger than %d KiB, so it was not read. Nothing in it was saved.", maxFormBody>>10)}
	errFormCut        = badRequest("The form did not all arrive, so it was not read. Nothing in it was saved: send it again.")
	errFormUnreadable = badRequest("The form could not be read. Nothing in it was saved: send it again from the portal's page.")
)

// formBodies reads the form of every route but the streaming ones, before
// its handler, so that c.PostForm only ever looks up what was read here.
// Gin's c.PostForm parses on first use with ParseMultipartForm, which
// keeps a file part over 32 MiB in a temporary file, in plaintext, and
// drops any error: a form too large or cut off would be read as empty.
func (s *Server) formBodies(c *gin.Context) {
	if c.FullPath() == "" || s.streamed[c.Request.Method+" "+c.FullPath()] || c.Request.Body == nil || c.Request.Body == http.NoBody {
		c.Next()
		return
	}
	// As net/http decides what a body is: the media type even when a
	// parameter is malformed.
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if isAPI(c) {
			s.fail(c, errNotJSON)
		} else {
			s.fail(c, errMultipartForm)
		}
		return
	case mt == "application/x-www-form-urlencoded" && (c.Request.Method == http.MethodPost || c.Request.Method == http.MethodPut || c.Request.Method == http.MethodPatch):
		b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBody))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			s.fail(c, errFormTooBig)
			return
		case err != nil:
			s.fail(c, errFormCut)
			return
		}
		values, err := url.ParseQuery(string(b))
		if err != nil {
			s.fail(c, errFormUnreadable)
			return
		}
		// ParseForm, which c.PostForm calls, reads no body once PostForm
		// is set.
		c.Request.PostForm = values
	case !isAPI(c) && (c.Request.Method == http.MethodPost || c.Request.Method == http.MethodPut || c.Request.Method == http.MethodPatch):
		// A page's form sent as anything else would be read as empty, and
		// an empty form means something (the complete-item form's missing
		// "complete" field is "complete").
		s.fail(c, errNotAForm)
		return
	}
	c.Next()
}

// noListing serves files only: a folder is "not found", never a listing.
type noListing struct{ fs.FS }

func (n noListing) Open(name string) (fs.File, error) {
	f, err := n.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || st.IsDir() {
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}
