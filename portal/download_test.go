package portal

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
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

// TestArchivePathsUnpackOnWindows: every path in a zip is one Windows can
// create, so that unpacking it there neither fails on a file nor puts its
// bytes somewhere else: a name with a character Windows refuses (a name
// from a Mac or Linux may hold : ? * < > | or "; ":" would open an NTFS
// alternate stream, so "a.txt:x" unpacked as an empty a.txt), or a device
// name (CON, NUL, COM1, LPT1, with any extension), is written with "_"
// instead, and the names so made stay distinct from the others'.
func TestArchivePathsUnpackOnWindows(t *testing.T) {
	reserved := func(base string) bool {
		stem := strings.ToUpper(strings.TrimRight(strings.SplitN(base, ".", 2)[0], " "))
		switch stem {
		case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
			return true
		}
		for _, p := range []string{"COM", "LPT"} {
			if rest, ok := strings.CutPrefix(stem, p); ok && len([]rune(rest)) == 1 && strings.ContainsAny(rest, "0123456789¹²³") {
				return true
			}
		}
		return false
	}
	used := map[string]bool{}
	seen := map[string]string{}
	for _, name := range []string{
		"CON.pdf", "con", "Nul.tar.gz", "aux .txt", "COM1.docx", "lpt9", "COM¹.txt", "CONIN$.txt",
		"Is this right?.docx", "a<b>.xlsx", "a:b.pdf", "a_b.pdf", `Say "hi".txt`, "x|y.pdf", "star*.pdf",
		"report.txt:hidden", "Console.pdf", "COM10.txt",
	} {
		p := archivePath("1.01", name, used)
		base := strings.TrimPrefix(p, "1.01/")
		if strings.ContainsAny(base, `<>:"|?*\/`) || reserved(base) || strings.TrimRight(base, ". ") != base {
			t.Errorf("%q is in the zip as %q, which Windows cannot create", name, p)
		}
		k := strings.ToLower(p)
		if other, ok := seen[k]; ok {
			t.Errorf("%q and %q unpack into one file (%q)", other, name, p)
		}
		seen[k] = name
	}
	for _, name := range []string{"Console.pdf", "COM10.txt", "Report.pdf"} {
		if p := archivePath("1.02", name, map[string]bool{}); p != "1.02/"+name {
			t.Errorf("%q is in the zip as %q: a name Windows takes was changed", name, p)
		}
	}
}

// TestArchivePathsFitANameLength: a name made unique in a zip (" (2)"
// added) is shortened to fit the longest name a file system takes (255
// bytes), as a name kept beside another is when it is stored: two files
// whose names of 255 bytes differ only in case were otherwise unpacked as
// one, and the other refused ("File name too long").
func TestArchivePathsFitANameLength(t *testing.T) {
	long := strings.Repeat("é", 125) + "x.pdf" // 255 bytes
	used := map[string]bool{}
	first := archivePath("1.01", long, used)
	second := archivePath("1.01", strings.ToUpper(long), used)
	for _, p := range []string{first, second} {
		if base := strings.TrimPrefix(p, "1.01/"); len(base) > MaxNameBytes || !utf8.ValidString(base) || !strings.HasSuffix(base, ".pdf") && !strings.HasSuffix(base, ".PDF") {
			t.Errorf("%d bytes in the zip's name %q", len(base), base)
		}
	}
	if first == second || !strings.Contains(second, " (2)") {
		t.Errorf("the second name is %q, the first %q", second, first)
	}
}

// TestArchivePathsFitWithADeviceName: a device name (CON, NUL, …) is
// written with "_" before it, so one of 255 bytes became 256 and was
// refused where the zip was unpacked ("File name too long"). It is
// shortened to fit, by whole characters, keeping its last extension, and
// stays distinct and one Windows can create.
func TestArchivePathsFitWithADeviceName(t *testing.T) {
	used := map[string]bool{}
	seen := map[string]string{}
	for _, name := range []string{
		"CON." + strings.Repeat("é", 123) + "x.pdf",       // 255 bytes, the extension kept
		"NUL." + strings.Repeat("é", 125) + "x",           // 255 bytes, one extension
		"nul." + strings.Repeat("é", 125) + "x",           // the same, as Windows compares names
		"LPT1 ." + strings.Repeat("é", 120) + "xy.tar.gz", // 255 bytes
	} {
		if len(name) != MaxNameBytes {
			t.Fatalf("%d bytes in the test's name", len(name))
		}
		p := archivePath("1.01", name, used)
		base := strings.TrimPrefix(p, "1.01/")
		if len(base) > MaxNameBytes || !utf8.ValidString(base) {
			t.Errorf("%q is in the zip as a name of %d bytes (valid UTF-8: %v)", name[:8], len(base), utf8.ValidString(base))
		}
		if strings.TrimRight(base, ". ") != base || !strings.HasPrefix(base, "_") {
			t.Errorf("%q is in the zip as %q", name[:8], base)
		}
		if ext := name[strings.LastIndexByte(name, '.'):]; strings.Count(name, ".") > 1 && !strings.HasSuffix(base, ext) {
			t.Errorf("%q lost its extension %q: %q", name[:8], ext, base)
		}
		k := strings.ToLower(strings.TrimRight(p, ". "))
		if other, ok := seen[k]; ok {
			t.Errorf("%q and %q unpack into one file (%q)", other[:8], name[:8], p)
		}
		seen[k] = name
	}
}
