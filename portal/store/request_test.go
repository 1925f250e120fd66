package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRemovedCaseFileNumberRefusedAtItsInsert: a case-file number taken
// out of the request is never given to another child, decided as the new
// item is written, not only by the caller's earlier read of the numbers
// used: one that read them before the number was added and removed is
// refused (ErrConflict) and takes the next. Before, the insert went in,
// and the first child's threads and restriction read as the second's.
func TestRemovedCaseFileNumberRefusedAtItsInsert(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	visitWithF1(t, s, now)
	it := RequestItem{VisitID: "v1", Code: "case-4", Kind: "case_file", TitleSealed: []byte("first child"), Due: "fieldwork_start", AddedBy: "system", AddedAt: now}
	if err := s.AddRequestItem(ctx, it); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRequestItem(ctx, "v1", "case-4"); err != nil {
		t.Fatal(err)
	}
	it.TitleSealed = []byte("second child")
	if err := s.AddRequestItem(ctx, it); !errors.Is(err, ErrConflict) {
		t.Fatalf("case-4 added again after its removal: %v, want ErrConflict", err)
	}
	it.Code, it.Kind = "1.06", "annex_a"
	if err := s.AddRequestItem(ctx, it); err != nil {
		t.Fatalf("an Annex A item: %v", err)
	}
	if err := s.DeleteRequestItem(ctx, "v1", "1.06"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRequestItem(ctx, it); err != nil {
		t.Fatalf("an Annex A item added again after its removal: %v", err)
	}
}
