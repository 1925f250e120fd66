package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
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
//   - /static/ serves files, never a listing of a folder.

const maxJSONBody = 1 << 20

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
