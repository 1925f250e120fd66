package portal

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
)

func TestCompareNatural(t *testing.T) {
	want := []string{"1.1 Plan.pdf", "1.2 a.pdf", "1.9 b.pdf", "1.10 c.pdf", "case-1 notes", "case-2 notes", "Case-10 notes", "case-19 notes", "cld 2024.xlsx", "CLD 2025.xlsx", "file", "file0", "file2", "file10"}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortStableFunc(got, compareNatural)
	if !slices.Equal(got, want) {
		t.Fatalf("natural order:\n got %q\nwant %q", got, want)
	}
	if compareNatural("a", "A") != 0 || compareNatural("x10", "x010") != 0 {
		t.Fatal("case or leading zeros change the order")
	}
}

// TestCompareNaturalAllocatesNothing: it sorts 20,000 names when a visit's
// index is built, and a page's uploaders on every request; it used to
// copy both names into rune slices at every comparison.
func TestCompareNaturalAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { compareNatural("Case-0019 Notes ünïcode.pdf", "case-19 notes ÜNÏCODE.pdf") }); n != 0 {
		t.Fatalf("%v allocations a comparison", n)
	}
}

// TestCompareNaturalAsBefore: reading the names in place orders them
// exactly as reading them as runes does (compareNaturalRunes is that
// plainer form), over names of ASCII and other digits, letters of both
// cases and invalid UTF-8.
func TestCompareNaturalAsBefore(t *testing.T) {
	parts := []string{"0", "1", "2", "9", "10", "007", "٣", "٠", "a", "A", "z", "é", "É", "ß", "-", " ", ".", "\xff", "case-", "日本"}
	r := rand.New(rand.NewPCG(1, 2))
	name := func() string {
		var b strings.Builder
		for range r.IntN(6) {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		return b.String()
	}
	sign := func(n int) int { return min(max(n, -1), 1) }
	for range 200_000 {
		a, b := name(), name()
		if got, want := sign(compareNatural(a, b)), sign(compareNaturalRunes(a, b)); got != want {
			t.Fatalf("compareNatural(%q, %q) = %d, want %d", a, b, got, want)
		}
	}
}

// TestCompareNaturalIsAnOrder: the comparison is transitive over names
// of any digits, so that a sort of them is one order whatever order the
// rows came in. Before, other scripts' digits were read as runs beside
// ASCII's, and "١" < "100" < "a" < "١".
func TestCompareNaturalIsAnOrder(t *testing.T) {
	parts := []string{"0", "1", "2", "9", "10", "100", "007", "٣", "١", "٠", "２", "a", "A", "z", "é", "-", " ", ".", "\xff", "case-", "日本"}
	r := rand.New(rand.NewPCG(3, 4))
	name := func() string {
		var b strings.Builder
		for range 1 + r.IntN(3) {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		return b.String()
	}
	sign := func(a, b string) int { return min(max(compareNatural(a, b), -1), 1) }
	check := func(a, b, c string) {
		t.Helper()
		ab, bc, ac := sign(a, b), sign(b, c), sign(a, c)
		if ab == bc && ab != 0 && ac != ab || ab == 0 && bc == 0 && ac != 0 {
			t.Fatalf("not an order: %q vs %q: %d, %q vs %q: %d, %q vs %q: %d", a, b, ab, b, c, bc, a, c, ac)
		}
	}
	check("١", "100", "a")
	check("a", "١", "100")
	for range 300_000 {
		check(name(), name(), name())
	}
}

func compareNaturalRunes(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	i, j := 0, 0
	for i < len(ra) && j < len(rb) {
		if isDigit(ra[i]) && isDigit(rb[j]) {
			si, sj := i, j
			for i < len(ra) && isDigit(ra[i]) {
				i++
			}
			for j < len(rb) && isDigit(rb[j]) {
				j++
			}
			da := strings.TrimLeft(string(ra[si:i]), "0")
			db := strings.TrimLeft(string(rb[sj:j]), "0")
			if len(da) != len(db) {
				return len(da) - len(db)
			}
			if c := strings.Compare(da, db); c != 0 {
				return c
			}
			continue
		}
		ca, cb := unicode.ToLower(ra[i]), unicode.ToLower(rb[j])
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
		i++
		j++
	}
	return (len(ra) - i) - (len(rb) - j)
}

// BenchmarkSortNames: the natural order of a 20,000-file visit, as an
// index rebuild sorts it (go test -run XXX -bench SortNames ./portal).
func BenchmarkSortNames(b *testing.B) {
	names := make([]string, 20000)
	for i := range names {
		names[i] = fmt.Sprintf("case-%d notes.pdf", i*7919%len(names))
	}
	b.ReportAllocs()
	for b.Loop() {
		slices.SortFunc(slices.Clone(names), compareNatural)
	}
}
