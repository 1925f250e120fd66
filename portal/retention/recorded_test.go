package retention

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/store"
)

// TestDestructionDateHeldToTheTrail: the sweep dates a destruction from
// the visit's letter events and retention period as the database holds
// them. Someone who can write to the database moves the publication back
// a month, adds a second publication the trail never recorded, or
// shortens the period: the sweep gives no notice and destroys nothing, and records why
// as a failure for administrators to see. Before, it destroyed the visit
// a month early under a certificate that said it was on time.
func TestDestructionDateHeldToTheTrail(t *testing.T) {
	for _, c := range []struct{ name, tamper string }{
		{"publication moved back", `UPDATE visit_events SET date = '2026-11-30' WHERE visit_id = 'v1' AND event = 'published'`},
		{"retention shortened", `UPDATE visits SET retention_days = 5 WHERE id = 'v1'`},
		// Recorded after the real one, so that it is the publication the
		// events leave (the one that dates the destruction).
		{"publication recorded again", `INSERT INTO visit_events (id, visit_id, event, date, recorded_by, recorded_at)
			SELECT 'e-forged', visit_id, event, '2026-11-30', recorded_by, '2030-01-01T00:00:00.000000000Z' FROM visit_events WHERE visit_id = 'v1' AND event = 'published'`},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t)
			h.visit(t, "v1", wrappedKey())
			if err := h.st.Audit(ctx, store.AuditRecord{Time: time.Now(), ActorSubject: "portal", VisitID: "v1", Object: "v1", Action: "visit.created",
				Outcome: "success", Detail: `{"reference":"FV-v1","retention_days":30}`}); err != nil {
				t.Fatal(err)
			}
			s := h.service("p1")
			// As recorded, the visit is not due until 2027-01-22.
			h.today = day("2027-01-05")
			if got, err := s.Sweep(ctx); err != nil || len(got) != 0 {
				t.Fatalf("before it is due: destroyed %v, %v", got, err)
			}
			if _, err := h.st.DB().Exec(c.tamper); err != nil {
				t.Fatal(err)
			}
			got, err := s.Sweep(ctx)
			if len(got) != 0 {
				t.Fatalf("destroyed %v on %s, due 2027-01-22 as recorded (%v)", got, h.today.Format(time.DateOnly), err)
			}
			if !errors.Is(err, ErrNotAsRecorded) {
				t.Errorf("the sweep: %v, want ErrNotAsRecorded", err)
			}
			if _, err := h.st.GetNotice(ctx, "v1"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a notice was given on the database's date: %v", err)
			}
			if f, err := h.st.GetFailure(ctx, "v1"); err != nil || !strings.Contains(f.Reason, "not what its audit trail recorded") {
				t.Errorf("the failure administrators see: %+v (%v), want it to say the rows are not as recorded", f, err)
			}
		})
	}
}

// TestWithdrawnEventIsTakenOffTheTrail: an event withdrawn and recorded
// again with the right date is what the trail holds, as the database
// does: the visit is destroyed when due.
func TestWithdrawnEventIsTakenOffTheTrail(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey())
	if _, _, err := h.st.WithdrawLastEvent(ctx, "v1", store.Event{Event: Published, Date: day("2026-12-23")}, time.Now(),
		store.AuditRecord{Time: time.Now(), ActorSubject: "admin", VisitID: "v1", Action: "letter.withdrawn", Outcome: "success",
			Detail: `{"event":"published","date":"2026-12-23"}`}); err != nil {
		t.Fatal(err)
	}
	h.event(t, "v1", Event{Published, day("2026-12-24")})
	s := h.service("p1")
	h.today = day("2027-01-22")
	if got, err := s.Sweep(ctx); err != nil || len(got) != 0 {
		t.Fatalf("the day before it is due: destroyed %v, %v", got, err)
	}
	h.today = day("2027-01-23")
	if got, err := s.Sweep(ctx); err != nil || len(got) != 1 {
		t.Fatalf("when due: destroyed %v, %v; want it", got, err)
	}
}

// TestEventsStoredInAnotherOrderAreAsRecorded: events stored before they
// kept the order they were checked in may stand in another order than
// their records; the same events, each the same day, are as recorded, and
// the visit is destroyed when due. (Compared in order, such a visit could
// never be destroyed.)
func TestEventsStoredInAnotherOrderAreAsRecorded(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.visit(t, "v1", wrappedKey())
	if _, err := h.st.DB().Exec(`UPDATE visit_events SET recorded_at = '2000-01-01T00:00:00.000000000Z' WHERE visit_id = 'v1' AND event = ?`, FinalSent); err != nil {
		t.Fatal(err)
	}
	evs, err := h.st.Events(ctx, "v1")
	if err != nil || len(evs) != 3 || evs[0].Event != FinalSent {
		t.Fatalf("the events as stored: %+v %v; want the final letter first", evs, err)
	}
	s := h.service("p1")
	h.today = day("2027-01-23")
	if got, err := s.Sweep(ctx); err != nil || len(got) != 1 {
		t.Fatalf("when due: destroyed %v, %v; want it", got, err)
	}
}
