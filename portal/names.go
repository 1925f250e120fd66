package portal

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// MaxNameBytes is the longest file name accepted, in bytes of UTF-8.
const MaxNameBytes = 255

// NameLength says MaxNameBytes in words a person counts: characters, fewer
// of those that take more than one byte.
const NameLength = "255 characters or fewer (fewer if it has accented letters, symbols or other alphabets)"

// ParseFileName validates a file name given by an uploader and returns it in
// Unicode NFC (a Mac sends NFD: the same name must be one name). It refuses
// what could mislead a reader or a file system: path separators, control
// characters, bidirectional overrides, zero-width characters and byte-order
// marks, and names that are only dots or spaces. The error says what is
// wrong, in words for the uploader.
func ParseFileName(s string) (string, error) {
	if utf8.ValidString(s) {
		s = strings.Map(plainSpace, norm.NFC.String(s))
	}
	switch {
	case s == "":
		return "", errors.New("the file name is empty")
	case !utf8.ValidString(s):
		return "", errors.New("the file name is not valid UTF-8 text")
	case len(s) > MaxNameBytes:
		return "", fmt.Errorf("the file name is too long: shorten it to %s", NameLength)
	case strings.Trim(s, ". ") == "":
		return "", errors.New("the file name must contain more than dots and spaces")
	case strings.TrimSpace(s) != s:
		return "", errors.New("the file name must not start or end with a space")
	case strings.HasSuffix(s, "."):
		// Windows drops it on saving: "a.pdf." would be saved as "a.pdf".
		return "", errors.New("the file name must not end with a dot")
	}
	for _, r := range s {
		switch {
		case r == '/' || r == '\\':
			return "", errors.New("the file name must not contain / or \\")
		case unicode.IsControl(r):
			return "", errors.New("the file name must not contain control characters")
		case unicode.In(r, unicode.Zl, unicode.Zp):
			// U+2028 and U+2029 break a name's line where it is shown.
			return "", errors.New("the file name must not contain line or paragraph breaks")
		case isBidiControl(r):
			return "", errors.New("the file name must not contain text-direction control characters")
		case isZeroWidth(r) || isInvisible(r):
			return "", errors.New("the file name must not contain zero-width or other invisible characters, or a byte-order mark: rename the file")
		case r == utf8.RuneError:
			// Valid UTF-8 here: the character itself, which stands for
			// one lost when the name was copied.
			return "", errors.New("the file name contains a replacement character (�), left where a character was lost: rename the file")
		}
	}
	return s, nil
}

// isBidiControl reports the invisible characters that reorder displayed
// text (U+202E can make "exe.pdf" look like "fdp.exe").
func isBidiControl(r rune) bool {
	switch {
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	}
	return false
}

// isZeroWidth reports the invisible characters that make two names look
// alike (U+200B..U+200D, the word joiner and invisible operators, the
// Mongolian vowel separator) and the byte-order mark.
func isZeroWidth(r rune) bool {
	return r >= 0x200B && r <= 0x200D || r >= 0x2060 && r <= 0x2064 || r == 0x180E || r == 0xFEFF
}

// isInvisible reports the other characters that show as nothing, so
// that a name carrying one looks like one without it under another key:
// format characters (the soft hyphen, tag characters), variation
// selectors, the rest of Unicode's default-ignorable code points (the
// combining grapheme joiner, the Hangul fillers) and the braille blank.
func isInvisible(r rune) bool {
	// U+2800, the braille pattern blank, shows as a space: "\u2800.pdf"
	// read as a file with no name.
	return r == 0x2800 || unicode.In(r, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}

// NameKey is the form in which two names of one item collide, so that no
// two names of an item look alike to the people who read them (version
// 2, migration 54): Unicode's compatibility forms folded (NFKC: fullwidth
// "Ｒｅｐｏｒｔ" is "Report", "…" is "...", a ligature its letters), case
// folded (full folding: "Straße" and "STRASSE" are one name), every kind
// of space a plain one and each run of spaces one (a page shows "a  b" as
// "a b"), and the characters that show as nothing left out (ParseFileName
// refuses them now; a name stored before may carry one). Only its keyed
// hash is stored (crypto NameIndex), so a change here is a migration:
// the names already held are keyed again (Service.indexNames).
//
// Letters of other scripts that look like Latin ones (Cyrillic "р" for
// "p") are not folded: no table of them is kept here.
func NameKey(name string) string {
	k := norm.NFKC.String(cases.Fold().String(norm.NFKC.String(strings.Map(keyRune, name))))
	var b strings.Builder
	b.Grow(len(k))
	space := false
	for _, r := range k {
		if r = keyRune(r); r < 0 {
			continue
		}
		if r == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// keyRune is r as NameKey compares it: any space a plain one, one that
// shows as nothing left out (-1).
func keyRune(r rune) rune {
	switch {
	case isZeroWidth(r) || isInvisible(r) || isBidiControl(r):
		return -1
	case unicode.IsSpace(r):
		return ' '
	}
	return r
}

// renamed is name with " (n)" before its extension, shortened (by whole
// characters) to fit MaxNameBytes: the name a file kept beside another of
// its name is stored as.
func renamed(name string, n int) string {
	return fitName(name, fmt.Sprintf(" (%d)", n))
}

// fitName is name with insert before its extension, cut by whole
// characters to MaxNameBytes: off the end of the stem, so the extension
// (what opens the file) stays. An "extension" too long to leave the stem
// room (a name with one dot early on: "NUL.<a long text>") is taken as
// part of the stem, so the start of the name stays rather than the whole
// stem going.
func fitName(name, insert string) string {
	stem, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= MaxNameBytes/2 {
		stem, ext = name[:i], name[i:]
	}
	for len(stem)+len(insert)+len(ext) > MaxNameBytes && stem != "" {
		_, size := utf8.DecodeLastRuneInString(stem)
		stem = stem[:len(stem)-size]
	}
	return stem + insert + ext
}

// itemNumber is what may be an item number, however written: a section
// and a number (with a ".0" after it, as a version might be written), or a
// case file request.
var itemNumber = regexp.MustCompile(`^(?:([0-9]{1,2})\.([0-9]{1,3})(?:\.0+)?|case-([0-9]{1,3}))$`)

// canonicalItem is the one form of the item number s ("1.4", "01.04" and
// "1.04.0" are all 1.04; "case-01" is case-1): the section without leading
// zeros, the number in at least two digits, both from 1. Restrictions, the
// request and files name items in this form, so that a restriction cannot
// be escaped by writing its item another way. ok is false when s is no
// item number.
func canonicalItem(s string) (item string, ok bool) {
	m := itemNumber.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	if m[3] != "" {
		n, _ := strconv.Atoi(m[3])
		return "case-" + strconv.Itoa(n), n > 0
	}
	section, _ := strconv.Atoi(m[1])
	n, _ := strconv.Atoi(m[2])
	return fmt.Sprintf("%d.%02d", section, n), section > 0 && n > 0
}

// itemKey is the form by which a stored item (or restriction) is matched:
// its canonical form, so that one stored before there was one form still
// meets the other.
func itemKey(s string) string {
	if c, ok := canonicalItem(s); ok {
		return c
	}
	return s
}

// Named items that are not numbered in Annex A.
const (
	ItemChildLevelData = "cld"    // child-level data lists (day 3)
	ItemAuditedCases   = "audits" // the list of recently audited cases (day 3)
)

// ParseItem validates an information-request item: a number such as "1.03"
// or "case-1", in its one form (canonicalItem), or one of the named items
// (cld, audits). Empty means "not filed under an item". Another way of
// writing a number is refused with the form to use, not rewritten: items
// stored before there was one form keep theirs.
func ParseItem(s string) (string, error) {
	if s == "" || s == ItemChildLevelData || s == ItemAuditedCases {
		return s, nil
	}
	if c, ok := canonicalItem(s); ok {
		if c == s {
			return s, nil
		}
		return "", fmt.Errorf("item %s is written %s", s, c)
	}
	return "", errors.New("the item must be an item number such as 1.03, a case file request such as case-1, or cld (child-level data) or audits")
}

var itemPrefix = regexp.MustCompile(`^([0-9]{1,2}\.[0-9]{1,3}|case-[0-9]{1,3})[ _\-]`)

// ItemFromName returns the item a provider named at the start of a file
// name, or "". codes are the items of the visit's information request: a
// name that starts with one of them, in any case, followed by a space, "-",
// "_" or "." is filed under it ("CLD - cases closed.xlsx" -> "cld",
// "audits_list.docx" -> "audits", "case-3 chronology.pdf" -> "case-3").
// Otherwise an Annex A item number or case file request followed by a
// space, "-" or "_" ("1.03 MI report.xlsx" -> "1.03") is taken, in its one
// form ("1.4 SI log.xlsx" -> "1.04"), whether or not it is on the request.
// Nothing else is guessed.
func ItemFromName(name string, codes []string) string {
	best := ""
	for _, c := range codes {
		if len(c) > len(best) && len(name) > len(c) && strings.EqualFold(name[:len(c)], c) && strings.IndexByte(" -_.", name[len(c)]) >= 0 {
			best = c
		}
	}
	if best != "" {
		return best
	}
	if m := itemPrefix.FindStringSubmatch(name); m != nil {
		if c, ok := canonicalItem(m[1]); ok {
			return c
		}
	}
	return ""
}

// plainSpace maps a space of another width or kind (Unicode's space
// separators: the no-break space, the em space, the ideographic space)
// to the ordinary space it reads as.
func plainSpace(r rune) rune {
	if r != ' ' && unicode.Is(unicode.Zs, r) {
		return ' '
	}
	return r
}
