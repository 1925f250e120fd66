package portal

import (
	"slices"
	"testing"
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
