package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestEventsKeepTheOrderTheyWereCheckedIn: a letter event is checked
// against the events before it, with the visit held; two recorded at once
// are checked one after the other. The one that read the clock first may
// be checked second (it waited for the visit), and the history replayed
// afterwards (a complaint open or not, the publication, the destruction
// date) must be the one that was checked: events are kept in the order
// they were checked in, whatever their requests' clocks said.
func TestEventsKeepTheOrderTheyWereCheckedIn(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	now := time.Now()
	visitV1(t, s, now)
	day := time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC)
	var checked []string
	add := func(event string, recordedAt time.Time) {
		t.Helper()
		check := func(history []Event) error {
			checked = append(checked, event)
			return nil
		}
		if _, err := s.AddEvent(ctx, Event{VisitID: "v1", Event: event, Date: day, RecordedBy: "u", RecordedAt: recordedAt}, check); err != nil {
			t.Fatal(err)
		}
	}
	add("complaint_received", now)
	add("complaint_resolved", now.Add(6*time.Second))
	// Checked third, though its request read the clock before the second's.
	add("complaint_received", now.Add(5*time.Second))
	// And one whose request read the same instant as the one before.
	add("complaint_resolved", now.Add(5*time.Second))
	evs, err := events(ctx, s.db, "v1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Event)
	}
	if !slices.Equal(got, checked) {
		t.Fatalf("the events as kept: %v, want them as checked: %v", got, checked)
	}
}
