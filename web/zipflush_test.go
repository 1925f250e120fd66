package web

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
)

// brokenConnection is the server's response on a connection gone: a
// write and a flush fail (net/http's buffered writer keeps the error).
type brokenConnection struct{ h http.Header }

var errGone = errors.New("write: broken pipe")

func (b *brokenConnection) Header() http.Header       { return b.h }
func (b *brokenConnection) Write([]byte) (int, error) { return 0, errGone }
func (b *brokenConnection) WriteHeader(int)           {}
func (b *brokenConnection) FlushError() error         { return errGone }

// TestZipFlushSeesTheConnectionGone: the zip flushes each file before it
// counts it whole (archive.download's files_whole), and that flush must
// fail on a connection gone, through gin's writer and the session's as
// requests have them. Before, the session's writer answered the flush as
// a plain http.Flusher, which cannot fail: the flush said nothing, and a
// file that never reached the client was recorded as downloaded whole.
func TestZipFlushSeesTheConnectionGone(t *testing.T) {
	sw := &sessionWriter{ResponseWriter: &brokenConnection{h: http.Header{}}, saved: true}
	c, _ := gin.CreateTestContext(sw)
	if err := (&countingWriter{w: c.Writer}).Flush(); !errors.Is(err, errGone) {
		t.Errorf("the flush on a connection gone: %v, want %v", err, errGone)
	}
}
