package web

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/evidence"
	"github.com/ofsted-portal/evidence/portal/scan"
	"github.com/ofsted-portal/evidence/portal/store"
)

// Resumable uploads: tus 1.0.0 (core, creation, termination, expiration,
// checksum) at
// /api/v1/visits/{id}/uploads. The offset a client may resume from is always
// a segment boundary: the server stores and commits whole segments, so bytes
// of a segment still in flight when a connection drops are sent again.
//
// Chosen where tus leaves room: a PATCH must end at a segment boundary or at
// the end of the upload (Evidence-Segment-Size says where they are), so that
// no plaintext is ever held between requests; a PATCH with Upload-Checksum
// carries exactly one segment, so a mismatch (460) discards only it; an upload is visible only to
// the person who created it (404 to anyone else); a completed upload
// answers with the new file's id in Evidence-File-Id.

const (
	tusVersion    = "1.0.0"
	tusExtensions = "creation,termination,expiration,checksum"
	tusOctets     = "application/offset+octet-stream"
)

func (s *Server) tusHeaders(c *gin.Context) {
	c.Header("Tus-Resumable", tusVersion)
	c.Header("Cache-Control", "no-store")
}

// tusCheckVersion refuses a request for another protocol version (412).
func (s *Server) tusCheckVersion(c *gin.Context) bool {
	if v := c.GetHeader("Tus-Resumable"); v != tusVersion {
		c.Header("Tus-Version", tusVersion)
		s.fail(c, &httpError{http.StatusPreconditionFailed, "tus_version", "Send Tus-Resumable: 1.0.0; this server speaks tus 1.0.0 only."})
		return false
	}
	return true
}

// tusOptions describes the server (no Tus-Resumable needed).
func (s *Server) tusOptions(c *gin.Context) {
	s.tusHeaders(c)
	c.Header("Tus-Version", tusVersion)
	c.Header("Tus-Extension", tusExtensions)
	c.Header("Tus-Checksum-Algorithm", "sha256,sha1")
	c.Header("Tus-Max-Size", strconv.FormatInt(s.cfg.MaxFileSize, 10))
	c.Header("Evidence-Segment-Size", strconv.FormatInt(s.cfg.SegmentSize, 10))
	c.Status(http.StatusNoContent)
}

// parseTusMetadata reads Upload-Metadata: comma-separated "key base64".
// A key given twice is refused (tus: keys are unique), not decided by its
// last value.
func parseTusMetadata(h string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(h) == "" {
		return out, nil
	}
	for _, pair := range strings.Split(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(pair), " ")
		if k == "" {
			return nil, errors.New("empty key")
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("value of %s is not base64", k)
		}
		if _, twice := out[k]; twice {
			return nil, fmt.Errorf("%s is given twice", k)
		}
		out[k] = string(b)
	}
	return out, nil
}

func (s *Server) tusCreate(c *gin.Context) {
	s.tusHeaders(c)
	if !s.tusCheckVersion(c) {
		return
	}
	if c.GetHeader("Upload-Defer-Length") != "" {
		s.fail(c, badRequest("Send Upload-Length: uploads of unknown length are not supported."))
		return
	}
	length, err := strconv.ParseInt(c.GetHeader("Upload-Length"), 10, 64)
	if err != nil || length < 0 {
		s.fail(c, badRequest("Send Upload-Length: the size of the file in bytes."))
		return
	}
	meta, err := parseTusMetadata(c.GetHeader("Upload-Metadata"))
	if err != nil {
		s.fail(c, badRequest("Upload-Metadata is not valid: "+err.Error()+"."))
		return
	}
	rawName := meta["filename"]
	if rawName == "" {
		rawName = meta["name"]
	} else if name, ok := meta["name"]; ok && name != rawName {
		s.fail(c, badRequest("Upload-Metadata is not valid: filename and name differ."))
		return
	}
	acc := accessOf(c)
	r, err := acc.CreateResumable(c.Request.Context(), portal.NewFile{Name: rawName, Item: meta["item"], Size: length, OnConflict: meta["on_conflict"]})
	if err != nil {
		s.fail(c, err)
		return
	}
	if length == 0 {
		s.tusOffsetHeaders(c, r)
	}
	c.Header("Location", "/api/v1/visits/"+acc.Visit.ID+"/uploads/"+r.ID)
	c.Header("Upload-Expires", r.ExpiresAt.UTC().Format(http.TimeFormat))
	c.Header("Evidence-Segment-Size", strconv.FormatInt(r.SegmentSize, 10))
	c.Header("Evidence-Item", r.Item)
	c.Status(http.StatusCreated)
}

// tusUpload starts a request on one upload (HEAD, PATCH, DELETE): protocol
// headers and version, then the upload named in the path, which only its
// creator may see.
func (s *Server) tusUpload(c *gin.Context) (store.Resumable, bool) {
	s.tusHeaders(c)
	if !s.tusCheckVersion(c) {
		return store.Resumable{}, false
	}
	r, err := accessOf(c).Resumable(c.Request.Context(), c.Param("upload"))
	if err != nil {
		s.fail(c, err)
		return store.Resumable{}, false
	}
	return r, true
}

func (s *Server) tusOffsetHeaders(c *gin.Context, r store.Resumable) {
	c.Header("Upload-Offset", strconv.FormatInt(r.Offset(), 10))
	c.Header("Upload-Length", strconv.FormatInt(r.Length, 10))
	c.Header("Upload-Expires", r.ExpiresAt.UTC().Format(http.TimeFormat))
	if !r.CompletedAt.IsZero() {
		c.Header("Evidence-File-Id", r.FileID)
		c.Header("Evidence-Item", r.Item)
	}
}

func (s *Server) tusHead(c *gin.Context) {
	r, ok := s.tusUpload(c)
	if !ok {
		return
	}
	s.tusOffsetHeaders(c, r)
	if !r.CompletedAt.IsZero() {
		// A client whose last PATCH went unanswered learns here that the
		// upload completed: it is told the scanner's verdict as that
		// answer would have told it.
		// The file gone since (deleted, withdrawn) has no verdict to
		// tell; one that cannot be read is a failure, never a completion
		// without its verdict.
		f, err := accessOf(c).ResumableFile(c.Request.Context(), r)
		switch {
		case err == nil:
			tusScanHeaders(c, &f)
		case !errors.Is(err, store.ErrNotFound):
			s.fail(c, err)
			return
		}
	}
	c.Status(http.StatusOK)
}

// tusScanHeaders gives the malware scanner's verdict on the file an upload
// became: clean, scanning, infected or unscanned; for a file kept as
// infected because the scanner could not look inside it, the reason
// "unreadable", so that the upload page does not say malware was found.
func tusScanHeaders(c *gin.Context, f *store.File) {
	c.Header("Evidence-Scan", f.Scan)
	if f.Scan == "infected" && scan.Unreadable(f.ScanSignature) {
		c.Header("Evidence-Scan-Reason", "unreadable")
	}
}

func (s *Server) tusPatch(c *gin.Context) {
	r, ok := s.tusUpload(c)
	if !ok {
		return
	}
	if ct := c.GetHeader("Content-Type"); ct != tusOctets {
		s.fail(c, &httpError{http.StatusUnsupportedMediaType, "content_type", "Send the bytes with Content-Type: " + tusOctets + "."})
		return
	}
	if h := c.GetHeader("Upload-Length"); h != "" {
		// The length is set at creation and cannot change: a client that
		// declares another is sending another file.
		if n, err := strconv.ParseInt(h, 10, 64); err != nil || n != r.Length {
			s.tusOffsetHeaders(c, r)
			s.fail(c, badRequest(fmt.Sprintf("This upload is %d bytes long and Upload-Length cannot change: start a new upload for another file.", r.Length)))
			return
		}
	}
	offset, err := strconv.ParseInt(c.GetHeader("Upload-Offset"), 10, 64)
	if err != nil || offset < 0 {
		s.fail(c, badRequest("Send Upload-Offset: where these bytes start."))
		return
	}
	if offset != r.Offset() {
		s.tusOffsetHeaders(c, r)
		s.fail(c, &httpError{http.StatusConflict, "offset_mismatch",
			fmt.Sprintf("This upload continues from byte %d, not %d: ask for the offset (HEAD) and send from there.", r.Offset(), offset)})
		return
	}
	if n := c.Request.ContentLength; n >= 0 {
		end := offset + n
		switch {
		case end > r.Length:
			s.fail(c, &httpError{http.StatusRequestEntityTooLarge, "past_length",
				fmt.Sprintf("These bytes go past the declared length of the upload (%d bytes).", r.Length)})
			return
		case end < r.Length && end%r.SegmentSize != 0:
			s.fail(c, badRequest(fmt.Sprintf("Each PATCH must end at a multiple of %d bytes (Evidence-Segment-Size) or at the end of the upload.", r.SegmentSize)))
			return
		}
	}
	if c.Request.ContentLength == 0 && c.GetHeader("Upload-Checksum") == "" && offset < r.Length {
		// No bytes (tus allows it) changes nothing: the offset as it is,
		// not a body cut short, and nothing is sent to the store.
		s.tusOffsetHeaders(c, r)
		c.Status(http.StatusNoContent)
		return
	}
	body := io.Reader(c.Request.Body)
	var beforeCommit func() error
	if h := c.GetHeader("Upload-Checksum"); h != "" {
		sum, want, err := parseUploadChecksum(h)
		if err != nil {
			s.fail(c, err)
			return
		}
		if end := offset + c.Request.ContentLength; c.Request.ContentLength < 0 || end != min(offset+r.SegmentSize, r.Length) {
			s.fail(c, badRequest(fmt.Sprintf("With Upload-Checksum, send exactly one segment per PATCH: %d bytes from this offset.", min(r.SegmentSize, r.Length-offset))))
			return
		}
		body = io.TeeReader(body, sum)
		beforeCommit = func() error {
			if !bytes.Equal(sum.Sum(nil), want) {
				return &httpError{460, "checksum_mismatch", "The checksum of these bytes does not match Upload-Checksum: send them again."}
			}
			return nil
		}
	}
	r, f, err := accessOf(c).Append(c.Request.Context(), r, body, beforeCommit)
	if err != nil {
		s.tusOffsetHeaders(c, r)
		if errors.Is(err, evidence.ErrShortBody) || bodyFailed(c) && toHTTPError(err).status >= 500 {
			// Unlike a plain upload's, the segments committed before
			// the break are kept: say so, and from where to go on.
			err = badRequest(fmt.Sprintf("The connection ended before all of these bytes arrived. The upload keeps the %d bytes committed before the break (Upload-Offset): send the rest from there.", r.Offset()))
		}
		s.fail(c, err)
		return
	}
	s.tusOffsetHeaders(c, r)
	if f != nil {
		tusScanHeaders(c, f)
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) tusDelete(c *gin.Context) {
	r, ok := s.tusUpload(c)
	if !ok {
		return
	}
	if err := accessOf(c).CancelResumable(c.Request.Context(), r); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// parseUploadChecksum reads "Upload-Checksum: <algorithm> <base64 digest>".
func parseUploadChecksum(h string) (hash.Hash, []byte, error) {
	alg, b64, _ := strings.Cut(strings.TrimSpace(h), " ")
	want, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	var sum hash.Hash
	switch alg {
	case "sha256":
		sum = sha256.New()
	case "sha1":
		sum = sha1.New()
	default:
		return nil, nil, badRequest("Upload-Checksum: the algorithm must be sha256 or sha1.")
	}
	if err != nil || len(want) != sum.Size() {
		return nil, nil, badRequest("Upload-Checksum: the digest must be base64 of the " + alg + " of the bytes.")
	}
	return sum, want, nil
}
