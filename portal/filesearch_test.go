package portal

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestCandidatesHoldEveryMatch: the files a search walks include every
// file whose name contains the text, for names and searches of any
// script, and the index does not miss a name at the ends of the list.
func TestCandidatesHoldEveryMatch(t *testing.T) {
	names := []string{"Évaluation de l’enfant.pdf", "case-2 notes.pdf", "case-19 notes.pdf", "case-123 notes.pdf", "CASE-1234.PDF",
		"ab", "", "Zoë’s chronology (final).docx", "日本語の文書.pdf", "case-123"}
	for i := range 200 {
		names = append(names, fmt.Sprintf("case-%d letter %d.pdf", i*7, i))
	}
	vf := &visitFiles{}
	for _, n := range names {
		vf.files = append(vf.files, indexedFile{name: n, lower: strings.ToLower(n)})
	}
	for _, q := range []string{"case-123", "CASE-12", "évaluation", "l’enf", "oë’", "語の文", ".pdf", "(final)", "zzz", "ase", "letter 19", "ab"} {
		search := strings.ToLower(q)
		if len(search) < 3 {
			continue
		}
		var want []int
		for i, f := range vf.files {
			if strings.Contains(f.lower, search) {
				want = append(want, i)
			}
		}
		got := vf.candidates(search)
		for _, i := range want {
			if !slices.Contains(got, i) {
				t.Errorf("%q: %q is not a candidate", q, vf.files[i].name)
			}
		}
		if !slices.IsSorted(got) {
			t.Errorf("%q: candidates out of order: %v", q, got)
		}
	}
}
