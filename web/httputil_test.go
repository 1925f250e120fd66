package web

import (
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/portal"
)

func TestParseRange(t *testing.T) {
	const size = 1000
	for _, tc := range []struct {
		h           string
		off, length int64
		ok, err     bool
	}{
		{"", 0, 0, false, false},
		{"bytes=0-99", 0, 100, true, false},
		{"bytes=990-2000", 990, 10, true, false},
		{"bytes=500-", 500, 500, true, false},
		{"bytes=-10", 990, 10, true, false},
		{"bytes=-5000", 0, 1000, true, false},
		{"bytes=0-1,5-6", 0, 0, false, false},
		{"items=0-1", 0, 0, false, false},
		{"bytes=1000-", 0, 0, false, true},
		{"bytes=5-1", 0, 0, false, true},
		{"bytes=-0", 0, 0, false, true},
		{"bytes=x-1", 0, 0, false, true},
		{"bytes=5", 0, 0, false, true},
	} {
		t.Run(tc.h, func(t *testing.T) {
			off, length, ok, err := ParseRange(tc.h, size)
			if off != tc.off || length != tc.length || ok != tc.ok || (err != nil) != tc.err {
				t.Fatalf("ParseRange(%q) = %d, %d, %v, %v", tc.h, off, length, ok, err)
			}
		})
	}
}

func FuzzParseRange(f *testing.F) {
	f.Add("bytes=0-99", int64(1000))
	f.Add("bytes=-5", int64(3))
	f.Add("bytes=9223372036854775806-", int64(9223372036854775807))
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return
		}
		off, length, ok, err := ParseRange(h, size)
		if err != nil || !ok {
			return
		}
		if off < 0 || length <= 0 || off+length > size {
			t.Fatalf("ParseRange(%q, %d) = %d+%d outside the file", h, size, off, length)
		}
	})
}

func TestContentDisposition(t *testing.T) {
	got := contentDisposition(`Évaluation "final" 100%.pdf`)
	want := `attachment; filename="_valuation _final_ 100_.pdf"; filename*=UTF-8''%C3%89valuation%20%22final%22%20100%25.pdf`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// FuzzContentDisposition: every name the portal accepts makes a header
// that cannot be split or broken out of.
func FuzzContentDisposition(f *testing.F) {
	for _, s := range []string{"1.01 Structure.pdf", "a/b", "\u202E", "..", strings.Repeat("x", 300), `Évaluation "final" 100%.pdf`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := portal.ParseFileName(s)
		if err != nil {
			return
		}
		cd := contentDisposition(name)
		if strings.ContainsAny(cd, "\r\n") || strings.Count(cd, `"`) != 2 {
			t.Fatalf("unsafe Content-Disposition %q", cd)
		}
	})
}
