package store

import (
	"context"
	"errors"
	"slices"
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
	hold := func(on bool, at time.Time) StoreAct { return holdAct(t, s, "v1", on, at) }
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

// TestRestoreLeavesTheStoreSidesUnknown: the object store may have been
// brought to acts a restored backup does not hold (a hold lifted since,
// whose rule would expire the evidence the database holds again): after a
// restore every live visit's rule is to be brought to the database, and
// the objects' holds of a held visit; a visit not held keeps whatever
// holds the store has (a restore never frees evidence), and a destroyed
// visit is left alone.
func TestRestoreLeavesTheStoreSidesUnknown(t *testing.T) {
	ctx := context.Background()
	s, now := threeLiveVisits(t)
	act := holdAct(t, s, "v1", true, now)
	if err := s.HoldApplied(ctx, act, now); err != nil {
		t.Fatal(err)
	}
	if err := s.RuleApplied(ctx, act, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`UPDATE visits SET state = 'destroyed', title_sealed = ? WHERE id = 'v3'`, []byte{}); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Hour)
	if hs, err := s.StoreSidesToApply(ctx, later, 10); err != nil || len(hs) != 0 {
		t.Fatalf("before the restore: %+v %v", hs, err)
	}
	if err := s.BeginRestore(ctx, Restore{ID: "r1", BackupCreatedAt: now, StartedAt: later}); err != nil {
		t.Fatal(err)
	}
	hs, err := s.StoreSidesToApply(ctx, later, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0].ID != "v1" || !hs[0].HoldUnknown || !hs[0].RuleUnknown || hs[1].ID != "v2" || hs[1].HoldUnknown || !hs[1].RuleUnknown {
		t.Fatalf("after the restore: %+v", hs)
	}
}

// TestStoreSidesFailedWaitBehind: a visit the retention run failed to
// bring the store to waits behind the others, so that visits whose store
// refuses for good never keep the rest waiting; a failure recorded for an
// act since replaced changes nothing.
func TestStoreSidesFailedWaitBehind(t *testing.T) {
	ctx := context.Background()
	s, now := threeLiveVisits(t)
	hold := func(id string, at time.Time) StoreAct { return holdAct(t, s, id, true, at) }
	first := func(at time.Time) string {
		t.Helper()
		hs, err := s.StoreSidesToApply(ctx, at, 1)
		if err != nil || len(hs) != 1 {
			t.Fatalf("%+v %v", hs, err)
		}
		return hs[0].ID
	}
	a1 := hold("v1", now)
	hold("v2", now.Add(time.Minute))
	later := now.Add(time.Hour)
	if id := first(later); id != "v1" {
		t.Fatalf("the older act first: %s", id)
	}
	if _, err := s.StoreSideFailed(ctx, a1, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if id := first(later); id != "v2" {
		t.Fatalf("a visit the run failed to carry, first again: %s", id)
	}
	if hs, err := s.StoreSidesToApply(ctx, now.Add(90*time.Second), 10); err != nil || len(hs) != 1 || hs[0].ID != "v2" {
		t.Fatalf("a failed visit waits the settling time again: %+v %v", hs, err)
	}
	// An act since: the failure of the earlier one does not move it.
	hold("v1", now.Add(-time.Hour)) // dated first, so that a move would show
	if _, err := s.StoreSideFailed(ctx, a1, now.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if id := first(later); id != "v1" {
		t.Fatalf("a failure of a replaced act moved the visit: %s", id)
	}
}

// holdAct sets or lifts visit id's legal hold at at.
func holdAct(t *testing.T, s *Store, id string, on bool, at time.Time) StoreAct {
	t.Helper()
	act, err := s.SetLegalHold(context.Background(), id, LegalHold{On: on, At: at})
	if err != nil {
		t.Fatal(err)
	}
	return act
}

// threeLiveVisits is a store with the visits v1, v2 and v3, notified now.
func threeLiveVisits(t *testing.T) (*Store, time.Time) {
	t.Helper()
	s := openTest(t)
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	threeVisits(t, s, now, 0)
	return s, now
}

// TestFilesToHoldFollowTheirVisit: a file stored while its visit is under
// legal hold is written down, in the transaction that stores it, as a file
// whose objects are to be held, with the visit's hold and the generation
// of its store side; one stored while the visit is not held is not. The
// retention run lists those older than the settling time, oldest first, a
// file it failed to hold behind the others. Recording a file's objects
// held takes it off the list, and when another act on the hold came since
// it was read (a lift carried to the store while the objects were held)
// leaves the visit's store side unknown.
func TestFilesToHoldFollowTheirVisit(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	u := visitV1(t, s, now)
	commit := func(id string, at time.Time) {
		t.Helper()
		if err := s.BeginUpload(ctx, id, "v1", "u1", at); err != nil {
			t.Fatal(err)
		}
		if err := s.CommitFile(ctx, File{ID: id, VisitID: "v1", NameSealed: []byte("n"), Item: "1.01", SHA256: "x", SegmentSize: 1, Segments: 1,
			UploadedBy: u.ID, UploadedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	toHold := func(at time.Time) []string {
		t.Helper()
		fs, err := s.FilesToHold(ctx, at, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, f := range fs {
			ids = append(ids, f.FileID)
		}
		return ids
	}
	later := now.Add(time.Hour)
	commit("f0", now)
	if _, err := s.FileToHoldOf(ctx, "f0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a file stored while its visit is not held is to hold: %v", err)
	}
	a := holdAct(t, s, "v1", true, now)
	if err := s.HoldApplied(ctx, a, now); err != nil {
		t.Fatal(err)
	}
	if err := s.RuleApplied(ctx, a, now); err != nil {
		t.Fatal(err)
	}
	commit("f1", now.Add(time.Minute))
	commit("f2", now.Add(2*time.Minute))
	f1, err := s.FileToHoldOf(ctx, "f1")
	if err != nil || f1.FileID != "f1" || f1.Visit.ID != "v1" || f1.Visit.Bucket == "" || f1.Visit.State != "active" || !f1.Hold || f1.Act != a {
		t.Fatalf("a file stored under hold: %+v %v (the act %+v)", f1, err, a)
	}
	if ids := toHold(now.Add(time.Minute)); len(ids) != 0 {
		t.Fatalf("a file still settling was listed: %v", ids)
	}
	behind := func(visits, files int) {
		t.Helper()
		if v, f, err := s.StoreBehind(ctx); err != nil || v != visits || f != files {
			t.Fatalf("the store is behind by %d visits and %d files (%v), want %d and %d", v, f, err, visits, files)
		}
	}
	behind(0, 2)
	if ids := toHold(later); !slices.Equal(ids, []string{"f1", "f2"}) {
		t.Fatalf("files to hold, oldest first: %v", ids)
	}
	if err := s.FileHoldFailed(ctx, "f1", now.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ids := toHold(later); !slices.Equal(ids, []string{"f2", "f1"}) {
		t.Fatalf("a file the run failed to hold, first again: %v", ids)
	}
	f2, err := s.FileToHoldOf(ctx, "f2")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FileHeld(ctx, f2, now); err != nil {
		t.Fatal(err)
	}
	if ids := toHold(later); !slices.Equal(ids, []string{"f1"}) {
		t.Fatalf("a file held is still to hold: %v", ids)
	}
	if hs, err := s.StoreSidesToApply(ctx, later, 10); err != nil || len(hs) != 0 {
		t.Fatalf("a file held with no act since left the store's side unknown: %+v %v", hs, err)
	}
	// A lift carried to the store while f1's objects were being held.
	b := holdAct(t, s, "v1", false, now.Add(4*time.Minute))
	if err := s.HoldApplied(ctx, b, now); err != nil {
		t.Fatal(err)
	}
	if err := s.RuleApplied(ctx, b, now); err != nil {
		t.Fatal(err)
	}
	if err := s.FileHeld(ctx, f1, now.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ids := toHold(later); len(ids) != 0 {
		t.Fatalf("every file held, and still to hold: %v", ids)
	}
	if hs, err := s.StoreSidesToApply(ctx, later, 10); err != nil || len(hs) != 1 || !hs[0].HoldUnknown || hs[0].Hold.On {
		t.Fatalf("a file held as read before a lift carried since, and the store's side is %+v %v", hs, err)
	}
	behind(1, 0)
	commit("f3", now.Add(6*time.Minute))
	if _, err := s.FileToHoldOf(ctx, "f3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a file stored after the lift is to hold: %v", err)
	}
}

// TestRulesToCheckGoRoundTheActiveVisits: the visits whose rules the
// retention run reads back are the active ones whose store side is
// recorded as done, taken a few at a time in id order, starting again
// after the last; a rule found lost is unknown again, and the run after
// carries it, unless an act came since the check read the visit (that
// act carries the rule as the visit now stands).
func TestRulesToCheckGoRoundTheActiveVisits(t *testing.T) {
	ctx := context.Background()
	s, now := threeLiveVisits(t)
	read := func(after string) ([]string, string) {
		t.Helper()
		cs, next, err := s.RulesToCheck(ctx, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.VisitID)
		}
		return ids, next
	}
	ids, next := read("")
	if !slices.Equal(ids, []string{"v1", "v2"}) || next != "v2" {
		t.Fatalf("the first two: %v, then after %q", ids, next)
	}
	if ids, next = read(next); !slices.Equal(ids, []string{"v3"}) || next != "" {
		t.Fatalf("the last: %v, then after %q, want from the start", ids, next)
	}
	// A visit whose act is still being carried is the act's to finish.
	act := holdAct(t, s, "v2", true, now)
	if ids, _ = read(""); !slices.Equal(ids, []string{"v1"}) {
		t.Fatalf("with v2's hold being carried: %v, want v1 alone", ids)
	}
	if err := s.HoldApplied(ctx, act, now); err != nil {
		t.Fatal(err)
	}
	if err := s.RuleApplied(ctx, act, now); err != nil {
		t.Fatal(err)
	}
	cs, _, err := s.RulesToCheck(ctx, "", 3)
	if err != nil || len(cs) != 3 {
		t.Fatalf("every visit's store side done: %+v (%v)", cs, err)
	}

	// v1's rule found lost: carried by the next run.
	at := now.Add(time.Minute)
	if err := s.RuleLost(ctx, cs[0].Act, at); err != nil {
		t.Fatal(err)
	}
	todo, err := s.StoreSidesToApply(ctx, at.Add(time.Second), 10)
	if err != nil || len(todo) != 1 || todo[0].ID != "v1" || !todo[0].RuleUnknown || todo[0].HoldUnknown {
		t.Fatalf("after v1's rule was found lost, the store sides to carry: %+v (%v)", todo, err)
	}
	// v2's: an act came since the check read it, and stands.
	later := holdAct(t, s, "v2", false, at)
	if err := s.HoldApplied(ctx, later, at); err != nil {
		t.Fatal(err)
	}
	if err := s.RuleApplied(ctx, later, at); err != nil {
		t.Fatal(err)
	}
	if err := s.RuleLost(ctx, cs[1].Act, at); err != nil {
		t.Fatal(err)
	}
	todo, err = s.StoreSidesToApply(ctx, at.Add(time.Hour), 10)
	if err != nil || len(todo) != 1 || todo[0].ID != "v1" {
		t.Fatalf("a rule found lost by a check older than the visit's last act was made unknown: %+v (%v)", todo, err)
	}
}

// TestHoldSetAgainKeepsItsStart: setting a hold on a visit already held
// (the retry after the object store refused, or a new reason) is an act
// on the store's side like any other, but the hold began when it was
// first set: its start stays, and the reason given last stands. A lift
// sent again keeps when the hold was lifted the same way.
func TestHoldSetAgainKeepsItsStart(t *testing.T) {
	ctx := context.Background()
	s, now := threeLiveVisits(t)
	set := func(on bool, reason string, at time.Time) StoreAct {
		t.Helper()
		act, err := s.SetLegalHold(ctx, "v1", LegalHold{On: on, ReasonSealed: []byte(reason), At: at})
		if err != nil {
			t.Fatal(err)
		}
		return act
	}
	want := func(on bool, reason string, at time.Time) {
		t.Helper()
		h, err := s.GetLegalHold(ctx, "v1")
		if err != nil || h.On != on || string(h.ReasonSealed) != reason || !h.At.Equal(at) {
			t.Fatalf("hold %+v (%s) %v, want on %v, reason %s, since %s", h, h.ReasonSealed, err, on, reason, at)
		}
	}
	first := set(true, "complaint escalated", now)
	again := set(true, "judicial review", now.Add(time.Hour))
	want(true, "judicial review", now)
	if again.Gen <= first.Gen {
		t.Fatalf("a hold set again is not a new act on the store's side: %+v after %+v", again, first)
	}
	// The act set again is the one the store's side is brought to.
	if err := s.HoldApplied(ctx, first, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	hs, err := s.StoreSidesToApply(ctx, now.Add(2*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var v1 []StoreSide
	for _, h := range hs {
		if h.ID == "v1" {
			v1 = append(v1, h)
		}
	}
	if len(v1) != 1 || v1[0].Act.Gen < again.Gen || !v1[0].HoldUnknown {
		t.Fatalf("the store's side after a hold set again: %+v", v1)
	}
	set(false, "review ended", now.Add(2*time.Hour))
	set(false, "review ended, sent again", now.Add(3*time.Hour))
	want(false, "review ended, sent again", now.Add(2*time.Hour))
	set(true, "new challenge", now.Add(4*time.Hour))
	want(true, "new challenge", now.Add(4*time.Hour))
}

// TestCompletedDestructionForgetsItsFailure: a destruction that failed
// once and then completed leaves no failure behind, whatever happens after
// its completion commits (a crash before the sweep clears it, a restore
// that finishes it): the record is cleared in the completion's own
// transaction. Before, it stayed, for a destroyed visit no sweep reads
// again: its banner and PortalDestructionFailed for ever.
func TestCompletedDestructionForgetsItsFailure(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	visitWithF1(t, s, now)
	if _, err := s.RecordFailure(ctx, "v1", "the object store did not answer", now, func(int) time.Time { return now.Add(time.Hour) }); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteDestruction(ctx, "v1", []byte("certificate"), now); err != nil {
		t.Fatal(err)
	}
	if f, err := s.GetFailure(ctx, "v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the failure of a destruction since completed: %+v (%v), want none", f, err)
	}
	// A process that failed and was slow to say so (its lease lost, its
	// database out of reach) while another completed the destruction
	// records nothing: the visit is destroyed.
	if n, err := s.RecordFailure(ctx, "v1", "late", now, func(int) time.Time { return now.Add(time.Hour) }); !errors.Is(err, ErrDestroyed) {
		t.Fatalf("a failure recorded for a destroyed visit: attempt %d (%v), want ErrDestroyed", n, err)
	}
	if f, err := s.GetFailure(ctx, "v1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the failure of a destroyed visit: %+v (%v), want none", f, err)
	}
}

// TestDestructionCompletesOnce: two processes that both finish a visit's
// destruction (two sweeps the clocks let overlap) each wrote their own
// certificate over the other's, and recorded the visit destroyed twice:
// the database then served a certificate other than the one kept outside
// it. The second completion is refused (ErrDestroyed), and writes nothing.
func TestDestructionCompletesOnce(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	destructionBegun(t, s, now)
	rec := func() AuditRecord {
		return AuditRecord{Time: now, ActorSubject: "portal", Role: "system", VisitID: "v1", Action: "visit.destroyed", Object: "v1", Outcome: "success"}
	}
	if err := s.CompleteDestruction(ctx, "v1", []byte("first certificate"), now, rec()); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteDestruction(ctx, "v1", []byte("second certificate"), now.Add(time.Second), rec()); !errors.Is(err, ErrDestroyed) {
		t.Errorf("a second completion of a destruction: %v, want ErrDestroyed", err)
	}
	d, err := s.GetDestruction(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Certificate) != "first certificate" || !d.CompletedAt.Equal(now) {
		t.Errorf("after a second completion the destruction holds %q, completed at %s: want the first's", d.Certificate, d.CompletedAt)
	}
	recs, err := s.AuditRecords(ctx, AuditFilter{Action: "visit.destroyed"})
	if err != nil || len(recs) != 1 {
		t.Errorf("the visit is recorded destroyed %d times (%v), want once", len(recs), err)
	}
}

// TestDestructionStepsRecordedOnce: a sweep paused past its lease in the
// middle of a destruction runs on once it wakes, with what it read before:
// another has meanwhile superseded the key's epoch, removed the bucket (N
// object versions) and completed the destruction. The late sweep's own
// steps (its bucket removal finding nothing, its epoch superseded again)
// must not overwrite what was recorded nor be recorded again. Before, the
// destruction said 0 objects deleted, against the certificate's N, and
// the trail recorded each step twice, the second after visit.destroyed.
func TestDestructionStepsRecordedOnce(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now().UTC().Truncate(time.Second)
	destructionBegun(t, s, now)
	rec := func(action string) AuditRecord {
		return AuditRecord{Time: now, ActorSubject: "portal", Role: "system", VisitID: "v1", Action: action, Object: "v1", Outcome: "success"}
	}
	retire := now.AddDate(0, 0, 35)
	for i, late := range []time.Duration{0, time.Minute} {
		if err := s.MarkEpochSuperseded(ctx, "v1", now.Add(late), retire.Add(late), rec("destruction.key_epoch_superseded")); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkObjectsDeleted(ctx, "v1", 7-7*i, now.Add(late), rec("destruction.objects_deleted")); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := s.CompleteDestruction(ctx, "v1", []byte("certificate: 7 object versions"), now, rec("visit.destroyed")); err != nil {
				t.Fatal(err)
			}
		}
	}
	d, err := s.GetDestruction(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if d.ObjectsDeleted != 7 || !d.ObjectsDeletedAt.Equal(now) {
		t.Errorf("after a late sweep's steps the destruction says %d object versions deleted at %s, want the 7 at %s it certified", d.ObjectsDeleted, d.ObjectsDeletedAt, now)
	}
	if !d.EpochSupersededAt.Equal(now) || !d.EpochRetireAfter.Equal(retire) {
		t.Errorf("after a late sweep's steps the epoch was superseded at %s, retired after %s: want %s and %s", d.EpochSupersededAt, d.EpochRetireAfter, now, retire)
	}
	for _, action := range []string{"destruction.key_epoch_superseded", "destruction.objects_deleted"} {
		recs, err := s.AuditRecords(ctx, AuditFilter{Action: action})
		if err != nil || len(recs) != 1 {
			t.Errorf("%s is recorded %d times (%v), want once", action, len(recs), err)
		}
	}
}

// destructionBegun begins the destruction of v1 (one file, published with
// its notice given) at now.
func destructionBegun(t *testing.T, s *Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	visitWithF1(t, s, now)
	publishedWithNotice(t, s, now.AddDate(0, 0, -60), now)
	version, err := s.FilesVersion(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.BeginDestruction(ctx, Destruction{VisitID: "v1", Reference: "FV-1", Files: "[]", StartedAt: now, FilesVersion: version, NoticeGivenAt: now}); err != nil {
		t.Fatal(err)
	}
}
