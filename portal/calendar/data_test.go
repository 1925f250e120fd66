package calendar

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOperatorFiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   []string
		date    string
		holiday bool
		holName string
	}{
		{"adds an announced day", []string{"# announced\n2031-06-13 add Example extra holiday\n"}, "2031-06-13", true, "Example extra holiday"},
		{"removes a rule day", []string{"2031-05-26 remove Spring bank holiday # moved\n"}, "2031-05-26", false, ""},
		{"renames a rule day", []string{"2031-05-26 add Spring bank holiday (renamed)\n"}, "2031-05-26", true, "Spring bank holiday (renamed)"},
		{"undoes a built-in exception", []string{"2023-05-08 remove Coronation\n"}, "2023-05-08", false, ""},
		{"later lines win within a file", []string{"2031-06-13 add X\n2031-06-13 remove X\n"}, "2031-06-13", false, ""},
		{"later files win", []string{"2031-06-13 add X\n", "2031-06-13 remove X\n", "2031-06-13 add Y\n"}, "2031-06-13", true, "Y"},
		{"blank and comment lines", []string{"\n   \n# only comments\n\t# indented\n"}, "2031-06-13", false, ""},
		{"CRLF line endings", []string{"2031-06-13 add Example\r\n"}, "2031-06-13", true, "Example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rs []io.Reader
			for _, f := range tc.files {
				rs = append(rs, strings.NewReader(f))
			}
			c, err := New(rs...)
			if err != nil {
				t.Fatal(err)
			}
			d := day(t, tc.date)
			h, ok := c.HolidayOn(d)
			if ok != tc.holiday || h.Name != tc.holName || c.IsWorkingDay(d) == tc.holiday {
				t.Fatalf("HolidayOn(%s) = %q, %v; want %q, %v", tc.date, h.Name, ok, tc.holName, tc.holiday)
			}
		})
	}
}

func TestOperatorFileRejected(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string // all must appear in the error
	}{
		{"impossible date", "2031-02-30 add X\n", []string{"extra file 1 line 1", "YYYY-MM-DD"}},
		{"UK date order", "# ok\n13/06/2031 add X\n", []string{"line 2", "YYYY-MM-DD"}},
		{"unknown verb", "\n\n2031-06-13 move X\n", []string{"line 3", `"move" must be add or remove`}},
		{"no name", "2031-06-13 add\n", []string{"line 1", "want"}},
		{"date alone", "2031-06-13\n", []string{"line 1", "want"}},
		{"name only in a comment", "2031-06-13 add # X\n", []string{"line 1", "want"}},
		{"added on a Saturday", "2031-06-14 add X\n", []string{"line 1", "Saturday"}},
		{"removing a working day", "2031-05-27 remove Spring bank holiday\n", []string{"line 1", "nothing to remove"}},
		{"removing twice", "2031-05-26 remove A\n2031-05-26 remove A\n", []string{"line 2", "nothing to remove"}},
		{"control character in name", "2031-06-13 add X\x07Y\n", []string{"line 1", "not printable"}},
		{"a line too long", strings.Repeat("#", 70000) + "\n", []string{"line 1", "too long"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(strings.NewReader(tc.text))
			if err == nil {
				t.Fatalf("New accepted %q", tc.text)
			}
			if c != nil {
				t.Fatal("New returned a calendar with its error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestSecondExtraFileNamedInError(t *testing.T) {
	_, err := New(strings.NewReader("2031-06-13 add X\n"), strings.NewReader("oops\n"))
	if err == nil || !strings.Contains(err.Error(), "extra file 2 line 1") {
		t.Fatalf("err = %v, want it to name extra file 2 line 1", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "extra.txt")
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(good, []byte("2031-06-13 add Example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("\n2031-06-13 add\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.IsWorkingDay(day(t, "2031-06-13")) || c.IsWorkingDay(day(t, "2026-12-25")) {
		t.Fatal("Load lost the operator day or the rules")
	}
	for _, tc := range []struct{ name, path, want string }{
		{"bad line", bad, bad + " line 2"},
		{"missing file", filepath.Join(dir, "missing.txt"), "missing.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Load(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load(%s) err = %v, want %q", tc.path, err, tc.want)
			}
		})
	}
}
