package portal

import (
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/retention"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestWindowWithoutTimelineIsClosed: a visit whose timeline no longer
// computes (a bank holiday added to the calendar inside its notice period)
// gives provider staff no window at all, not one without an end; a date an
// administrator set still stands, and the other roles' windows, which do not
// come from the timeline, are as before.
func TestWindowWithoutTimelineIsClosed(t *testing.T) {
	n := calendar.Date(2026, 9, 7)   // Monday
	fs := calendar.Date(2026, 9, 14) // Monday, 5 working days later
	v := store.Visit{ID: "v", NotificationDate: n, FieldworkStart: fs, State: StateActive, CreatedAt: n.Add(-24 * time.Hour)}
	cal, err := calendar.New(strings.NewReader("2026-09-09 add State funeral\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		now   time.Time
		role  string
		until time.Time // the member's stored end date
		open  bool
	}{
		{"coordinator months after fieldwork", calendar.Date(2027, 3, 1), policy.RoleProviderCoordinator, time.Time{}, false},
		{"uploader on fieldwork day", fs, policy.RoleProviderUploader, time.Time{}, false},
		{"coordinator with an end date set", fs, policy.RoleProviderCoordinator, calendar.Date(2026, 9, 20), true},
		{"coordinator after the end date set", calendar.Date(2026, 9, 21), policy.RoleProviderCoordinator, calendar.Date(2026, 9, 20), false},
		{"inspector on fieldwork day", fs, policy.RoleInspector, time.Time{}, true},
		{"lead inspector months after", calendar.Date(2027, 3, 1), policy.RoleLeadInspector, time.Time{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now.Add(12 * time.Hour)
			s := &Service{cal: cal, now: func() time.Time { return now }, retention: &retention.Service{}, log: NewLogger(&strings.Builder{}, "error")}
			st := s.statusOf(store.VisitRow{Visit: v})
			if st.Timeline != nil || st.TimelineProblem == "" {
				t.Fatalf("timeline %v, problem %q: want none, and why", st.Timeline, st.TimelineProblem)
			}
			w := s.memberWindow(v, st, store.Member{Role: tc.role, ValidUntil: tc.until})
			if got := w.Contains(now); got != tc.open {
				t.Fatalf("window %+v contains %s = %v, want %v", w, now, got, tc.open)
			}
		})
	}
}
