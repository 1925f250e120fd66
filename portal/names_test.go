package portal

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseFileName(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		ok   bool
	}{
		{"good_plain", "1.01 Structure.pdf", true},
		{"good_unicode", "Évaluation – région.docx", true},
		{"good_max_length", strings.Repeat("a", 255), true},
		{"fail_empty", "", false},
		{"fail_too_long", strings.Repeat("a", 256), false},
		{"fail_too_long_multibyte", strings.Repeat("é", 128), false},
		{"fail_slash", "a/b.pdf", false},
		{"fail_backslash", `a\b.pdf`, false},
		{"fail_dotdot", "..", false},
		{"fail_dots_spaces", ". . .", false},
		{"fail_nul", "a\x00b", false},
		{"fail_newline", "a\nb", false},
		{"fail_del", "a\x7fb", false},
		{"fail_c1", "a\u0085b", false},
		{"fail_rlo", "invoice\u202Efdp.exe", false},
		{"fail_isolate", "a\u2066b", false},
		{"fail_rlm", "a\u200Fb", false},
		{"fail_invalid_utf8", "a\xffb", false},
		{"fail_leading_space", " a.pdf", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFileName(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseFileName(%q) = %q, %v; want ok=%v", tc.in, got, err, tc.ok)
			}
		})
	}
}

func FuzzParseFileName(f *testing.F) {
	for _, s := range []string{"1.01 Structure.pdf", "a/b", "\u202E", "..", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := ParseFileName(s)
		if err != nil {
			return
		}
		if name != s || len(name) > MaxNameBytes || !utf8.ValidString(name) || strings.ContainsAny(name, "/\\\x00\n\r") {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range name {
			if isBidiControl(r) || r < 0x20 {
				t.Fatalf("accepted %q with %U", s, r)
			}
		}
	})
}

func TestItemFromName(t *testing.T) {
	for in, want := range map[string]string{
		"1.03 MI report.xlsx": "1.03",
		"1.01_Structure.pdf":  "1.01",
		"12.105-x":            "12.105",
		"1.03MI.xlsx":         "",
		"Structure 1.01.pdf":  "",
		"2024.12 report":      "",
	} {
		if got := ItemFromName(in); got != want {
			t.Errorf("ItemFromName(%q) = %q, want %q", in, got, want)
		}
	}
}
