package main

import (
	"errors"
	"slices"
	"testing"
)

// Both sides of a ratio are timed in turn, neither always first, and a
// failed request stops the timing.
func TestAlternate(t *testing.T) {
	var order []int
	ms, err := alternate(3, func(side int) (float64, error) {
		order = append(order, side)
		return float64(len(order)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 1, 0, 0, 1}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	if !slices.Equal(ms[0], []float64{1, 4, 5}) || !slices.Equal(ms[1], []float64{2, 3, 6}) {
		t.Errorf("timings %v", ms)
	}
	boom := errors.New("boom")
	calls := 0
	if _, err := alternate(3, func(int) (float64, error) { calls++; return 0, boom }); !errors.Is(err, boom) || calls != 1 {
		t.Errorf("after a failure: %v, %d calls", err, calls)
	}
}
