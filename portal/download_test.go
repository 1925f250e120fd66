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

// TestArchivePathsDifferWhereUnpacked: the paths inside a zip differ as
// the systems it is unpacked on compare names, ignoring case (Windows,
// macOS) and the dots and spaces Windows drops from a name's end: two
// versions of "Report.pdf" and "REPORT.pdf" chosen together would
// otherwise unpack into one file, holding either's bytes.
func TestArchivePathsDifferWhereUnpacked(t *testing.T) {
	used := map[string]bool{}
	seen := map[string]string{}
	for _, c := range []struct{ item, name string }{
		{"1.01", "Report.pdf"}, {"1.01", "REPORT.pdf"}, {"1.01", "report.pdf"}, {"1.01", "Report.pdf."},
		{"", "Notes"}, {"", "notes "}, {"1.02", "Report.pdf"},
	} {
		p := archivePath(c.item, c.name, used)
		k := strings.TrimRight(strings.ToLower(p), ". ")
		if other, ok := seen[k]; ok {
			t.Errorf("%q and %q unpack into one file", other, p)
		}
		seen[k] = p
	}
}
