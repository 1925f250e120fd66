package portal

import (
	"slices"
	"strings"
	"sync"

	"golang.org/x/text/unicode/norm"
)

// A search of a visit's names ("case-123") reads only the files whose
// names may hold the text: for every three bytes of the lower-case names
// the index keeps the files that hold them, and a search of three bytes
// or more walks the files that hold all of its own. The sequences are
// built at the first search of a version of the file index, in memory
// beside the names they come from, and go with them.

// searchForm is the form in which names and searches meet: lower case,
// NFC (names are stored so, and a search typed or pasted on a Mac comes
// as NFD: "é" as "e" and a combining accent), and every space the
// ordinary one (as names are stored: plainSpace).
func searchForm(s string) string { return strings.Map(plainSpace, norm.NFC.String(strings.ToLower(s))) }

// SearchTooLong says whether a search by name is longer than any name
// can be, in the form names are stored in (NFC): a name pasted as NFD
// takes more bytes than the name it is.
func SearchTooLong(s string) bool {
	return len(s) > 4*MaxNameBytes || len(norm.NFC.String(s)) > MaxNameBytes
}

type gramIndex struct {
	once  sync.Once
	files map[[3]byte][]int32 // files by index, ascending
}

// gramsOf returns the index of three-byte sequences, built once.
func (vf *visitFiles) gramsOf() map[[3]byte][]int32 {
	vf.grams.once.Do(func() {
		g := map[[3]byte][]int32{}
		for i := range vf.files {
			s := vf.files[i].lower
			for j := 0; j+3 <= len(s); j++ {
				k := [3]byte{s[j], s[j+1], s[j+2]}
				l := g[k]
				if n := len(l); n > 0 && l[n-1] == int32(i) {
					continue
				}
				g[k] = append(l, int32(i))
			}
		}
		vf.grams.files = g
	})
	return vf.grams.files
}

// candidates returns, ascending, the indexes of the files whose lower-case
// names hold every three bytes of search (at least three bytes long): a
// superset of those that contain it.
func (vf *visitFiles) candidates(search string) []int {
	g := vf.gramsOf()
	var lists [][]int32
	for j := 0; j+3 <= len(search); j++ {
		l, ok := g[[3]byte{search[j], search[j+1], search[j+2]}]
		if !ok {
			return nil
		}
		lists = append(lists, l)
	}
	slices.SortFunc(lists, func(a, b []int32) int { return len(a) - len(b) })
	var out []int
	for _, i := range lists[0] {
		in := true
		for _, l := range lists[1:] {
			if _, ok := slices.BinarySearch(l, i); !ok {
				in = false
				break
			}
		}
		if in {
			out = append(out, int(i))
		}
	}
	return out
}

// orderOf yields the files idx (ascending indexes) in the order sort
// names, as order does for all of them.
func (vf *visitFiles) orderOf(idx []int, sort string) func(yield func(int) bool) {
	switch sort {
	case SortNameDesc:
		slices.Reverse(idx)
	case SortNewest, SortOldest:
		slices.SortFunc(idx, func(a, b int) int { return int(vf.timeRank[a] - vf.timeRank[b]) })
		if sort == SortNewest {
			slices.Reverse(idx)
		}
	}
	return slices.Values(idx)
}
