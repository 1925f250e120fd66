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

// TestEndDateNarrowsTheRolesWindow: an end date an administrator gives a
// member can end their access sooner than their role's rule, never later:
// an inspector or analyst given a date past publication loses access at
// publication, as without one, and provider staff at the end of the
// fifth working day after fieldwork. Before, any date given replaced the
// role's rule: an inspector with "access until" the year's end read the
// visit's evidence through the whole retention period, and under a legal
// hold for as long as it lasted.
func TestEndDateNarrowsTheRolesWindow(t *testing.T) {
	n := calendar.Date(2026, 9, 7)   // Monday
	fs := calendar.Date(2026, 9, 14) // Monday, 5 working days later
	published := calendar.Date(2026, 11, 2)
	v := store.Visit{ID: "v", NotificationDate: n, FieldworkStart: fs, State: StateActive, CreatedAt: n.Add(-24 * time.Hour), RetentionDays: 30}
	cal, err := calendar.New()
	if err != nil {
		t.Fatal(err)
	}
	events := []store.Event{{Event: retention.DraftSent, Date: calendar.Date(2026, 10, 1)}, {Event: retention.FinalSent, Date: calendar.Date(2026, 10, 14)},
		{Event: retention.Published, Date: published}}
	late := calendar.Date(2026, 12, 31)
	for _, tc := range []struct {
		name  string
		now   time.Time
		role  string
		until time.Time
		open  bool
	}{
		{"inspector, given a late date, after publication", calendar.Date(2026, 11, 3), policy.RoleInspector, late, false},
		{"analyst, given a late date, after publication", calendar.Date(2026, 11, 3), policy.RoleAnalyst, late, false},
		{"inspector, given a late date, on publication day", published, policy.RoleInspector, late, true},
		{"coordinator, given a late date, weeks after fieldwork", calendar.Date(2026, 10, 19), policy.RoleProviderCoordinator, late, false},
		{"inspector, given an early date, after it", calendar.Date(2026, 9, 16), policy.RoleInspector, calendar.Date(2026, 9, 15), false},
		{"lead inspector, given a date, before it", calendar.Date(2026, 12, 1), policy.RoleLeadInspector, late, true},
		{"lead inspector, given a date, after it", calendar.Date(2027, 1, 4), policy.RoleLeadInspector, late, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now.Add(12 * time.Hour)
			s := &Service{cal: cal, now: func() time.Time { return now }, retention: &retention.Service{}, log: NewLogger(&strings.Builder{}, "error")}
			st := s.statusOf(store.VisitRow{Visit: v, Events: events})
			if st.Timeline == nil || st.Letter.Published.IsZero() {
				t.Fatalf("timeline %v, published %v: want both", st.Timeline, st.Letter.Published)
			}
			w := s.memberWindow(v, st, store.Member{Role: tc.role, ValidUntil: tc.until})
			if got := w.Contains(now); got != tc.open {
				t.Fatalf("window %+v contains %s = %v, want %v", w, now, got, tc.open)
			}
		})
	}
}

// TestNoOneApprovesARestoredPublication: a publication a restore recorded
// again whose first recorder the restored database does not know (they
// first signed in after the backup) is approved by no administrator: any
// of them may be that person. Its destruction goes ahead once its notice
// has run. One whose recorder it knows is refused to them alone.
func TestNoOneApprovesARestoredPublication(t *testing.T) {
	st := Status{PublishedBy: restoredRecorder}
	for _, who := range []string{"admin-1", "admin-2"} {
		if st.ownDestruction(who) == "" {
			t.Errorf("%s may approve the destruction of a publication a restore recorded again without its recorder", who)
		}
	}
	st.PublishedBy = "admin-1"
	if st.ownDestruction("admin-1") == "" || st.ownDestruction("admin-2") != "" {
		t.Errorf("a publication recorded by admin-1: they may approve (%q), admin-2 may not (%q)", st.ownDestruction("admin-1"), st.ownDestruction("admin-2"))
	}
}
