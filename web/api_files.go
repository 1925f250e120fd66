package web

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ofsted-portal/evidence/portal"
)

// uploadFile streams the raw request body into the visit.
func (s *Server) uploadFile(c *gin.Context) {
	size := c.Request.ContentLength
	if size < 0 {
		s.fail(c, &httpError{http.StatusLengthRequired, "length_required", "Send the file with a Content-Length header."})
		return
	}
	name, err := uploadName(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	out, err := accessOf(c).Upload(c.Request.Context(), portal.NewFile{Name: name, Item: c.Query("item"), Size: size, OnConflict: c.Query("on_conflict")}, c.Request.Body)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, out)
}

// uploadName is a plain upload's file name: from its Content-Disposition
// header (attachment; filename*=UTF-8”…, RFC 6266), which keeps the name
// out of the address that proxies and load balancers log, or from ?name=
// as the contract gives it. Both, differing, are refused.
func uploadName(c *gin.Context) (string, error) {
	query, header := c.Query("name"), c.GetHeader("Content-Disposition")
	if header == "" {
		return query, nil
	}
	_, params, err := mime.ParseMediaType(header)
	name, ok := params["filename"]
	if err != nil || !ok {
		return "", badRequest(`Send the file's name as Content-Disposition: attachment; filename*=UTF-8''<the name, percent-encoded>.`)
	}
	if query != "" && query != name {
		return "", badRequest("The file's name in Content-Disposition and in ?name= differ: send it once.")
	}
	return name, nil
}

// listFiles is a page of the visit's files: ?limit= (100 unless given, at
// most 1,000), ?after= the previous page's next, ?q= part of the name,
// ?versions=1 with earlier (superseded) versions.
// ?item= (a code, or unfiled), ?uploader= (a user id), ?from= and ?to=
// (days uploaded, YYYY-MM-DD), ?sort= (name, name-desc, newest, oldest).
func (s *Server) listFiles(c *gin.Context) {
	q, errs := parseFileQuery(c)
	for _, field := range []string{"q", "from", "to", "sort", "uploader"} {
		if msg, ok := errs[field]; ok {
			s.fail(c, badRequest(field+": "+msg+"."))
			return
		}
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > portal.MaxFilePage {
			s.fail(c, badRequest("limit must be a number of files from 1 to 1000."))
			return
		}
		q.Limit = n
	}
	out, err := accessOf(c).FilePage(c.Request.Context(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	b, err := appendFilePage(make([]byte, 0, 512+300*len(out.Files)), out)
	if err != nil {
		s.fail(c, err)
		return
	}
	// Its length is known: sent whole, not in chunks.
	c.Header("Content-Length", strconv.Itoa(len(b)))
	c.Data(http.StatusOK, "application/json; charset=utf-8", b)
}

// fileNameTaken answers whether a current file the person may see holds a
// name in an item: {"item": "1.03", "name": "1.03 MI report.xlsx"} ->
// {"taken": true}. The upload page asks it before sending each file; the
// name is in the body, never in the address (which proxies log).
func (s *Server) fileNameTaken(c *gin.Context) {
	var req struct {
		Item string `json:"item"`
		Name string `json:"name"`
	}
	if !s.bindJSON(c, &req, `Send {"item": "1.03", "name": "1.03 MI report.xlsx"}: the item, "" for none, and the file's name.`) {
		return
	}
	taken, err := accessOf(c).NameTaken(c.Request.Context(), req.Item, req.Name)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"taken": taken})
}

// refileFile files a file under another item: {"item": "1.03"}.
func (s *Server) refileFile(c *gin.Context) {
	var req struct {
		Item string `json:"item"`
	}
	if !s.bindJSON(c, &req, `Send {"item": "1.03"}: the item to file the file under.`) {
		return
	}
	f, err := accessOf(c).Refile(c.Request.Context(), req.Item)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, f)
}

// refileForm is the visit page's control for the same.
func (s *Server) refileForm(c *gin.Context) {
	acc := accessOf(c)
	f, err := acc.Refile(c.Request.Context(), c.PostForm("item"))
	if err != nil {
		s.refuse(c, &form{}, err, nil, "refile-item-"+acc.File.ID, s.visitPage)
		return
	}
	c.Redirect(http.StatusSeeOther, "/visits/"+acc.Visit.ID+"?filed="+url.QueryEscape(f.Item)+"#files")
}

// deleteFile deletes a file (204), or withdraws it once the inspection
// team has downloaded it (200, {"status": "withdrawn"}).
func (s *Server) deleteFile(c *gin.Context) {
	withdrawn, err := accessOf(c).DeleteFile(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	if withdrawn {
		c.JSON(http.StatusOK, gin.H{"status": "withdrawn"})
		return
	}
	c.Status(http.StatusNoContent)
}

// downloadFile sends a file's plaintext, decrypted on the fly. The first
// part is authenticated before the status line is written, so a corrupt
// file is a 500 "corrupt", not a broken download; later damage cuts the
// connection before any byte of it is sent.
func (s *Server) downloadFile(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	f := acc.File
	// ?disposition=inline asks to view the file in the browser; it is
	// honoured only for the types inline.go lists, and the whole file is
	// sent (no ranges), so that its first bytes can be checked.
	inline := c.Query("disposition") == "inline"
	if d := c.Query("disposition"); d != "" && d != "inline" && d != "attachment" {
		s.fail(c, badRequest("disposition must be inline or attachment."))
		return
	}
	rangeHeader := c.GetHeader("Range")
	if inline || !ifRangeHolds(c.GetHeader("If-Range"), f.SHA256) {
		rangeHeader = ""
	}
	off, length, partial, err := ParseRange(rangeHeader, f.Size)
	if err != nil {
		c.Header("Content-Range", fmt.Sprintf("bytes */%d", f.Size))
		s.fail(c, &httpError{http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable", "The requested range is outside the file."})
		return
	}
	if !partial {
		off, length = 0, f.Size
	}
	release, ok := s.takeDownload(c, acc)
	if !ok {
		return
	}
	defer release()
	d, err := acc.OpenDownload(ctx, off, length, partial)
	if err != nil {
		s.fail(c, err)
		return
	}
	defer d.Close()
	// The domain may send the whole file for a range (d.Whole).
	off, length, partial = d.Offset, d.Length, d.Partial
	var body io.Reader = d
	var kind *inlineKind
	if inline {
		if body, kind, err = sniffInline(d.Name, d); err != nil {
			acc.DownloadCut(ctx, d, 0, err)
			s.fail(c, err)
			return
		}
	}
	sum, _ := hex.DecodeString(f.SHA256)
	h := c.Writer.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", contentDisposition(d.Name))
	if kind != nil {
		h.Set("Content-Type", kind.contentType)
		h.Set("Content-Disposition", "inline"+strings.TrimPrefix(contentDisposition(d.Name), "attachment"))
		h.Set("Content-Security-Policy", kind.csp)
		h.Set("X-Content-Type-Options", "nosniff")
	} else if d.Whole {
		h.Set("Accept-Ranges", "none")
	} else {
		h.Set("Accept-Ranges", "bytes")
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
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
	if sent, err := io.Copy(c.Writer, body); err != nil {
		acc.DownloadCut(ctx, d, sent, err)
		s.fail(c, err) // headers are sent: this cuts the connection
		return
	}
	s.log.Info("file downloaded", "visit", acc.Visit.ID, "file", f.ID, "user", acc.Actor.UserID, "from", off, "bytes", length)
}

// ifRangeHolds says whether a Range may be served under this If-Range: with
// none, or with this file's ETag exactly. A weak tag never matches, nor a
// date (no Last-Modified is sent): then the whole file is sent (RFC 9110
// section 13.1.5), so a client resuming never splices bytes of another
// representation onto what it has.
func ifRangeHolds(ifRange, sha256 string) bool {
	return ifRange == "" || ifRange == `"`+sha256+`"`
}

// downloadArchive streams the chosen files (?file=ID, repeated, and/or
// ?item=CODE, repeated) as one zip, with no temporary file.
func (s *Server) downloadArchive(c *gin.Context) {
	ctx := c.Request.Context()
	acc := accessOf(c)
	release, ok := s.takeDownload(c, acc)
	if !ok {
		return
	}
	defer release()
	a, err := acc.PrepareArchive(ctx, c.QueryArray("file"), c.QueryArray("item"))
	if err != nil {
		s.fail(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", contentDisposition(acc.Visit.Reference+" evidence.zip"))
	c.Status(http.StatusOK)
	c.Writer.WriteHeaderNow()
	w := &countingWriter{w: c.Writer}
	if err := a.WriteTo(ctx, w); err != nil {
		acc.ArchiveCut(ctx, a, w.n, err)
		// Headers are sent: this cuts the connection, also when the
		// client left (a client that half-closed its side still reads,
		// and a zip ended cleanly would read as the whole).
		s.fail(c, err)
	}
}

// countingWriter counts what reached the client.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Flush sends what the response buffers to the client (an archive flushes
// each file before it counts it sent), with the error of a connection
// gone.
func (c *countingWriter) Flush() error {
	rw, ok := c.w.(http.ResponseWriter)
	if !ok {
		return nil
	}
	// gin's writer writes what it holds and flushes the server's
	// response, but says nothing of a failed write; the server's own
	// response does (FlushError: the failure stays with its buffer).
	if f, ok := rw.(http.Flusher); ok {
		f.Flush()
	}
	if u, ok := rw.(interface{ Unwrap() http.ResponseWriter }); ok {
		rw = u.Unwrap()
	}
	if err := http.NewResponseController(rw).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}
