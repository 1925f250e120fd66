package web

import (
	"slices"
	"testing"
)

func TestInertCells(t *testing.T) {
	in := []string{"=1+1", "+1", "-1", "@A1", "\tx", "\rx", "plain", "", "a=b", "'quoted"}
	want := []string{"'=1+1", "'+1", "'-1", "'@A1", "'\tx", "'\rx", "plain", "", "a=b", "'quoted"}
	if got := inertCells(in...); !slices.Equal(got, want) {
		t.Fatalf("inertCells = %q, want %q", got, want)
	}
}
