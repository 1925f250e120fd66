package portal

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// writerTo is a body that says whether it was asked to write itself out.
type writerTo struct {
	io.Reader
	wrote bool
}

func (w *writerTo) WriteTo(dst io.Writer) (int64, error) {
	w.wrote = true
	return io.Copy(dst, w.Reader)
}

func (w *writerTo) Close() error { return nil }

// TestDownloadWritesItself: io.Copy of a download to the response hands
// over the evidence reader's blocks (its WriteTo) rather than copying
// them through a buffer of its own; a plain reader still copies.
func TestDownloadWritesItself(t *testing.T) {
	body := &writerTo{Reader: strings.NewReader("decrypted")}
	var out bytes.Buffer
	if n, err := io.Copy(&out, &Download{ReadCloser: body}); err != nil || n != 9 || out.String() != "decrypted" || !body.wrote {
		t.Fatalf("copied %d bytes %q (%v); the reader wrote itself: %v", n, out.String(), err, body.wrote)
	}
	out.Reset()
	if n, err := io.Copy(&out, &Download{ReadCloser: io.NopCloser(strings.NewReader("plain"))}); err != nil || n != 5 || out.String() != "plain" {
		t.Fatalf("copied %d bytes %q (%v)", n, out.String(), err)
	}
}
