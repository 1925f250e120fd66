package store

import (
	"context"
	"testing"
	"time"
)

// TestStoreSidesFollowTheActs: a visit is listed for the retention run to
// bring its object store to its legal hold, or its expiry rule, once an
// act on them is older than the settling time and has not recorded them
// done; a destroyed visit is never listed. An act carried twice (by two
// processes) is recorded once. Two acts whose store calls overlap leave
// the store's side unknown whichever records first: the store holds
// whichever calls landed last, which neither can tell.
func TestStoreSidesFollowTheActs(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	visitV1(t, s, now)
	later := now.Add(time.Hour)
	todo := func(at time.Time) []StoreSide {
		t.Helper()
		hs, err := s.StoreSidesToApply(ctx, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		return hs
	}
	hold := func(on bool, at time.Time) StoreAct {
		t.Helper()
		act, err := s.SetLegalHold(ctx, "v1", LegalHold{On: on, At: at})
		if err != nil {
			t.Fatal(err)
		}
		return act
	}
	applied := func(act StoreAct, rule bool, audit ...AuditRecord) {
		t.Helper()
		if err := s.HoldApplied(ctx, act, now, audit...); err != nil {
			t.Fatal(err)
		}
		if rule {
			if err := s.RuleApplied(ctx, act, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	if hs := todo(later); len(hs) != 0 {
		t.Fatalf("a new visit, never held: %+v", hs)
	}
	set := now.Add(time.Minute)
	a := hold(true, set)
	if hs := todo(set); len(hs) != 0 {
		t.Fatalf("an act still settling was listed: %+v", hs)
	}
	if hs := todo(set.Add(time.Second)); len(hs) != 1 || hs[0].ID != "v1" || !hs[0].Hold.On || !hs[0].Hold.At.Equal(set) ||
		!hs[0].HoldUnknown || !hs[0].RuleUnknown || hs[0].Act != a {
		t.Fatalf("a hold not carried to the store: %+v (the act %+v)", hs, a)
	}
	// Two processes carry the same act: one record.
	rec := AuditRecord{Time: now, ActorSubject: "portal", Role: "system", VisitID: "v1", Action: "legal_hold.store_applied", Outcome: "success"}
	applied(a, false, rec)
	applied(a, false, rec)
	if recs, err := s.AuditRecords(ctx, AuditFilter{VisitID: "v1", Action: "legal_hold.store_applied"}); err != nil || len(recs) != 1 {
		t.Fatalf("records of an act carried twice: %d %v", len(recs), err)
	}
	if hs := todo(later); len(hs) != 1 || hs[0].HoldUnknown || !hs[0].RuleUnknown {
		t.Fatalf("the hold carried, its rule not yet: %+v", hs)
	}
	applied(a, true)
	if hs := todo(later); len(hs) != 0 {
		t.Fatalf("a hold carried to the store: %+v", hs)
	}

	// Overlapping acts, the earlier recording first, then the later.
	b, c := hold(false, now.Add(2*time.Minute)), hold(true, now.Add(3*time.Minute))
	applied(b, true)
	if hs := todo(later); len(hs) != 1 || !hs[0].HoldUnknown || !hs[0].RuleUnknown {
		t.Fatalf("an earlier act recorded after a later one began: %+v", hs)
	}
	applied(c, true)
	if hs := todo(later); len(hs) != 1 || !hs[0].HoldUnknown || !hs[0].RuleUnknown || !hs[0].Hold.On {
		t.Fatalf("overlapping acts, the later recorded last (its calls may have landed first): %+v", hs)
	}
	// The run carries the visit as it now is.
	applied(todo(later)[0].Act, true)
	if hs := todo(later); len(hs) != 0 {
		t.Fatalf("the run carried the visit: %+v", hs)
	}

	// Overlapping acts, the later recording first.
	d, e := hold(false, now.Add(4*time.Minute)), hold(true, now.Add(5*time.Minute))
	applied(e, true)
	applied(d, true)
	if hs := todo(later); len(hs) != 1 || !hs[0].HoldUnknown || !hs[0].RuleUnknown || !hs[0].Hold.On {
		t.Fatalf("overlapping acts, the earlier recorded last (its calls may have landed last): %+v", hs)
	}
	applied(todo(later)[0].Act, true)

	// A letter event moves the rule alone.
	ev, err := s.AddEvent(ctx, Event{VisitID: "v1", Event: "draft_sent", Date: now, RecordedBy: "u", RecordedAt: now.Add(6 * time.Minute)}, func([]Event) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if hs := todo(later); len(hs) != 1 || hs[0].HoldUnknown || !hs[0].RuleUnknown {
		t.Fatalf("a letter event, its rule not yet carried: %+v", hs)
	}
	if err := s.RuleApplied(ctx, ev, now); err != nil {
		t.Fatal(err)
	}
	if hs := todo(later); len(hs) != 0 {
		t.Fatalf("a letter event carried: %+v", hs)
	}

	hold(false, now.Add(7*time.Minute))
	if _, err := s.DB().Exec(`UPDATE visits SET state = 'destroyed', title_sealed = ? WHERE id = 'v1'`, []byte{}); err != nil {
		t.Fatal(err)
	}
	if hs := todo(later); len(hs) != 0 {
		t.Fatalf("a destroyed visit: %+v", hs)
	}
}
