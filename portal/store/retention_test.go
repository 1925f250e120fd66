package store

import (
	"context"
	"testing"
	"time"
)

// TestHoldsToApplyFollowTheActs: a visit is listed for the retention run
// to carry its legal hold to the object store once an act on the hold is
// older than the settling time and has not recorded it done; an act that
// finishes after a later one (whose store calls it may have undone) leaves
// the store's side unknown, to be carried again as the hold now is; a
// destroyed visit is never listed. An act carried twice (by two
// processes) is recorded once.
func TestHoldsToApplyFollowTheActs(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	visitV1(t, s, now)
	todo := func(at time.Time) []HoldToApply {
		t.Helper()
		hs, err := s.HoldsToApply(ctx, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		return hs
	}
	if hs := todo(now.Add(time.Hour)); len(hs) != 0 {
		t.Fatalf("a new visit, never held: %+v", hs)
	}
	set, lift := now.Add(time.Minute), now.Add(2*time.Minute)
	if err := s.SetLegalHold(ctx, "v1", LegalHold{On: true, At: set}); err != nil {
		t.Fatal(err)
	}
	if hs := todo(set); len(hs) != 0 {
		t.Fatalf("an act still settling was listed: %+v", hs)
	}
	if hs := todo(set.Add(time.Second)); len(hs) != 1 || hs[0].ID != "v1" || !hs[0].Hold.On || !hs[0].Hold.At.Equal(set) {
		t.Fatalf("a hold not carried to the store: %+v", hs)
	}
	// Two processes carry the same act: one record.
	rec := AuditRecord{Time: now, ActorSubject: "portal", Role: "system", VisitID: "v1", Action: "legal_hold.store_applied", Outcome: "success"}
	for range 2 {
		if err := s.HoldApplied(ctx, "v1", true, set, rec); err != nil {
			t.Fatal(err)
		}
	}
	if recs, err := s.AuditRecords(ctx, AuditFilter{VisitID: "v1", Action: "legal_hold.store_applied"}); err != nil || len(recs) != 1 {
		t.Fatalf("records of an act carried twice: %d %v", len(recs), err)
	}
	if hs := todo(now.Add(time.Hour)); len(hs) != 0 {
		t.Fatalf("a hold carried to the store: %+v", hs)
	}
	if err := s.SetLegalHold(ctx, "v1", LegalHold{On: false, At: lift}); err != nil {
		t.Fatal(err)
	}
	// The set's store calls end after the lift's began: the store's side
	// is not known.
	if err := s.HoldApplied(ctx, "v1", true, set); err != nil {
		t.Fatal(err)
	}
	if err := s.HoldApplied(ctx, "v1", false, lift); err != nil {
		t.Fatal(err)
	}
	if hs := todo(now.Add(time.Hour)); len(hs) != 0 {
		t.Fatalf("the lift carried to the store: %+v", hs)
	}
	if err := s.SetLegalHold(ctx, "v1", LegalHold{On: true, At: lift.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.HoldApplied(ctx, "v1", false, lift); err != nil {
		t.Fatal(err)
	}
	if hs := todo(now.Add(time.Hour)); len(hs) != 1 || !hs[0].Hold.On {
		t.Fatalf("an earlier act finished after a later one: %+v", hs)
	}
	if _, err := s.DB().Exec(`UPDATE visits SET legal_hold = 0, state = 'destroyed', title_sealed = ? WHERE id = 'v1'`, []byte{}); err != nil {
		t.Fatal(err)
	}
	if hs := todo(now.Add(time.Hour)); len(hs) != 0 {
		t.Fatalf("a destroyed visit: %+v", hs)
	}
}
