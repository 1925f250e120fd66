package portal

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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
		{"fail_zero_width_space", "re\u200Bport.pdf", false},
		{"fail_zero_width_joiner", "re\u200Dport.pdf", false},
		{"fail_zero_width_non_joiner", "re\u200Cport.pdf", false},
		{"fail_word_joiner", "re\u2060port.pdf", false},
		{"fail_bom", "\uFEFFreport.pdf", false},
		{"fail_bom_inside", "report\uFEFF.pdf", false},
		// Invisible characters beyond the zero-width ones: each made a name
		// that showed as "1.01 report.pdf" beside it, under another key.
		{"fail_soft_hyphen", "1.01 re\u00ADport.pdf", false},
		{"fail_grapheme_joiner", "1.01 re\u034Fport.pdf", false},
		{"fail_variation_selector", "1.01 report\uFE0F.pdf", false},
		{"fail_hangul_filler", "1.01 report\u3164.pdf", false},
		{"fail_tag_character", "1.01 report.pdf\U000E0041", false},
		{"fail_trailing_dot", "1.01 report.pdf.", false},
		// Characters that break a name's line or show as nothing: each
		// made a name that read as another, or as none.
		{"fail_line_separator", "Report.pdf\u2028Approved by Ofsted.pdf", false},
		{"fail_paragraph_separator", "Report\u2029.pdf", false},
		{"fail_braille_blank", "\u2800.pdf", false},
		{"fail_braille_blank_inside", "1.01 re\u2800port.pdf", false},
		{"good_inner_dots", "1.01 report.v2.pdf", true},
		{"good_emoji", "1.01 report \u2705.pdf", true},
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
		if name != strings.Map(plainSpace, norm.NFC.String(s)) || len(name) > MaxNameBytes || !utf8.ValidString(name) || strings.ContainsAny(name, "/\\\x00\n\r") {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range name {
			if isBidiControl(r) || isZeroWidth(r) || r < 0x20 {
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
		// Another way of writing an item number is that item.
		"1.4 Serious incidents.xlsx": "1.04",
		"01.04 SI log.xlsx":          "1.04",
		"1.004 SI log.xlsx":          "1.04",
		"case-01 chronology.pdf":     "case-1",
		"0.04 x.pdf":                 "",
	} {
		if got := ItemFromName(in, nil); got != want {
			t.Errorf("ItemFromName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestItemFromNameUsesTheRequest: every code on the visit's information
// request is recognised at the start of a name, in any case, with a space,
// "-", "_" or "." after it; nothing fuzzier.
func TestItemFromNameUsesTheRequest(t *testing.T) {
	codes := []string{"cld", "audits", "1.01", "1.03", "case-1", "case-3", "case-12"}
	for in, want := range map[string]string{
		"CLD - cases closed.xlsx": "cld",
		"cld.xlsx":                "cld",
		"Cld_list.csv":            "cld",
		"audits_list.docx":        "audits",
		"AUDITS list.docx":        "audits",
		"case-3 chronology.pdf":   "case-3",
		"CASE-12_assessment.pdf":  "case-12",
		"case-1.pdf":              "case-1",
		"1.03 MI report.xlsx":     "1.03",
		"1.03.xlsx":               "1.03",
		"2.01 Case records.zip":   "2.01", // an item number, even off the request
		"cldlist.xlsx":            "",
		"child level data.xlsx":   "",
		"audit list.docx":         "",
		"Closed cases list.xlsx":  "",
		"case-123 x.pdf":          "case-123",
		" cld list.xlsx":          "",
		"cases closed CLD.xlsx":   "",
	} {
		if got := ItemFromName(in, codes); got != want {
			t.Errorf("ItemFromName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFileNameSpacesAreSpaces: a space of another width or kind (a
// no-break space from a word processor, an em space) is stored as the
// ordinary space it looks like, so that "a b.pdf" written either way is
// one name. Before, the two were kept as two names that read alike.
func TestFileNameSpacesAreSpaces(t *testing.T) {
	for _, in := range []string{"1.01 a\u00a0b.pdf", "1.01 a\u2003b.pdf", "1.01\u202fa\u3000b.pdf", "1.01 a b.pdf"} {
		if got, err := ParseFileName(in); err != nil || got != "1.01 a b.pdf" || NameKey(got) != NameKey("1.01 a b.pdf") {
			t.Errorf("ParseFileName(%+q) = %+q, %v; want \"1.01 a b.pdf\"", in, got, err)
		}
	}
	if _, err := ParseFileName("a\u00a0.pdf\u00a0"); err == nil {
		t.Error("a name ending with a no-break space was taken")
	}
	if _, err := ParseFileName("a\ufffdb.pdf"); err == nil || !strings.Contains(err.Error(), "replacement character") {
		t.Errorf("a name with U+FFFD: %v, want it refused naming the replacement character", err)
	}
}

// TestFileNamesNormalised: names are stored in NFC, so a name typed on a
// Mac (NFD) and the same name typed elsewhere are one name.
func TestFileNamesNormalised(t *testing.T) {
	got, err := ParseFileName("Cafe\u0301 re\u0301sume\u0301.pdf")
	if err != nil || got != "Caf\u00e9 r\u00e9sum\u00e9.pdf" {
		t.Fatalf("ParseFileName(NFD) = %q, %v", got, err)
	}
}

// TestNameKey: names that collide in an item are those equal once
// normalised and case-folded, and, from version 2, those that look alike
// where they are shown. Before version 2, "Ｒｅｐｏｒｔ.pdf" and "a  b.pdf"
// were stored beside "Report.pdf" and "a b.pdf", and shown as the same.
func TestNameKey(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"Report.pdf", "report.PDF", true},
		{"Caf\u00e9.pdf", "Cafe\u0301.pdf", true},
		{"CAF\u00c9.pdf", "caf\u00e9.pdf", true},
		{"Stra\u00dfe.pdf", "STRASSE.pdf", true},
		{"\ufb01le.pdf", "file.pdf", true},
		{"report.pdf", "report .pdf", false},
		{"report.pdf", "report.pdfx", false},
		{"1.01 a.pdf", "1.02 a.pdf", false},
		{"1.01 a b.pdf", "1.01 ab.pdf", false},
		// Version 2: names that look alike where they are shown.
		{"Report.pdf", "\uff32\uff45\uff50\uff4f\uff52\uff54.pdf", true}, // fullwidth
		{"1.01 a b.pdf", "1.01 a  b.pdf", true},                          // a page shows two spaces as one
		{"1.01 a b.pdf", "1.01 a \u00a0\u2003b.pdf", true},               // other spaces, as stored before they were made plain
		{"report.pdf", "re\u00adport.pdf", true},                         // a soft hyphen, stored before it was refused
		{"report.pdf", "rep\u200bort.pdf", true},                         // a zero-width space, the same
		{"notes\u2026.pdf", "notes....pdf", true},                        // "…" and the dot before the extension
		{"notes\u2026.pdf", "notes...pdf", false},
		{"x\u00b2.pdf", "x2.pdf", true}, // superscript two
	} {
		if same := NameKey(tc.a) == NameKey(tc.b); same != tc.same {
			t.Errorf("NameKey(%q) == NameKey(%q): %v, want %v", tc.a, tc.b, same, tc.same)
		}
	}
}

func TestRenamed(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"report.PDF", 2, "report (2).PDF"},
		{"archive.tar.gz", 3, "archive.tar (3).gz"},
		{"README", 2, "README (2)"},
		{".env", 2, ".env (2)"},
		{strings.Repeat("\u00e9", 125) + ".pdf", 2, strings.Repeat("\u00e9", 123) + " (2).pdf"},
	} {
		got := renamed(tc.in, tc.n)
		if got != tc.want || len(got) > MaxNameBytes || !utf8.ValidString(got) {
			t.Errorf("renamed(%q, %d) = %q (%d bytes), want %q", tc.in, tc.n, got, len(got), tc.want)
		}
	}
}

// TestParseItemCanonical: an item is accepted only as the portal writes it
// (1.04, case-1), since restrictions and the request name items by that
// form; another way of writing one is refused with the form to use.
func TestParseItemCanonical(t *testing.T) {
	for _, tc := range []struct{ in, want, refusal string }{
		{"", "", ""},
		{"cld", "cld", ""},
		{"audits", "audits", ""},
		{"1.04", "1.04", ""},
		{"12.105", "12.105", ""},
		{"case-1", "case-1", ""},
		{"case-12", "case-12", ""},
		{"1.4", "", "1.04"},
		{"01.04", "", "1.04"},
		{"1.04.0", "", "1.04"},
		{"1.004", "", "1.04"},
		{"case-01", "", "case-1"},
		{"1", "", "item number such as 1.03"},
		{"1.04.2", "", "item number such as 1.03"},
		{"0.04", "", "item number such as 1.03"},
		{"1.00", "", "item number such as 1.03"},
		{"case-0", "", "item number such as 1.03"},
		{"CLD", "", "item number such as 1.03"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseItem(tc.in)
			if tc.refusal == "" {
				if err != nil || got != tc.want {
					t.Fatalf("ParseItem(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.refusal) {
				t.Fatalf("ParseItem(%q) = %q, %v; want a refusal naming %q", tc.in, got, err, tc.refusal)
			}
		})
	}
}

// TestNameKeyGolden pins NameKey, version 2 (testdata/name-key-v2.json;
// UPDATE_NAME_KEYS=1 writes it): the keys of the names already held are
// its keyed hashes, so a change to it is a migration (54), never an edit.
func TestNameKeyGolden(t *testing.T) {
	const path = "testdata/name-key-v2.json"
	type pair struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	}
	if os.Getenv("UPDATE_NAME_KEYS") != "" {
		var out []pair
		for _, n := range []string{"1.03 MI report.xlsx", "Stra\u00dfe.pdf", "\uff32\uff45\uff50\uff4f\uff52\uff54 \u00a0 final.pdf", "re\u00adport\u200b.pdf",
			"Caf\u00e9 r\u00e9sum\u00e9.pdf", "Cafe\u0301.pdf", "notes\u2026 x\u00b2 \ufb01le.PDF", "\u0391\u03b8\u03ae\u03bd\u03b1.docx"} {
			out = append(out, pair{n, NameKey(n)})
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		// Every character outside ASCII escaped: the invisible ones show.
		var ascii strings.Builder
		for _, r := range string(b) {
			if r < 0x80 {
				ascii.WriteRune(r)
			} else {
				for _, u := range utf16.Encode([]rune{r}) {
					fmt.Fprintf(&ascii, "\\u%04x", u)
				}
			}
		}
		if err := os.WriteFile(path, []byte(ascii.String()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pairs []pair
	if err := json.Unmarshal(b, &pairs); err != nil || len(pairs) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	for _, p := range pairs {
		if got := NameKey(p.Name); got != p.Key {
			t.Errorf("NameKey(%q) = %q, pinned %q", p.Name, got, p.Key)
		}
	}
}
