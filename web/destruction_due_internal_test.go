package web

import (
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/calendar"
)

// TestDestructionDateSaysWhenTheSweepMay: what the visit page and the
// administrators' banner say of a visit's destruction is what the sweep
// does. A notice given late (again after a legal hold was lifted, or a
// publication recorded late) holds the destruction back past its date:
// both say from when. Before, the banner said "will be destroyed on" the
// date, days before the sweep could, and members counted down past it
// ("-1 days from today").
func TestDestructionDateSaysWhenTheSweepMay(t *testing.T) {
	on := "2025-12-31"
	from := time.Date(2026, 1, 5, 10, 5, 0, 0, calendar.London)
	days := 2
	held := portal.VisitView{Reference: "FV-1", DestroyOn: &on, DaysUntilDestruction: &days, DestroyFrom: &from,
		Destruction: &portal.DestructionView{NotBefore: from}}
	if w := destructionWarning(held, 7*24*time.Hour); !strings.Contains(w, "from 5 January 2026 10:05") || strings.Contains(w, "will be destroyed on") {
		t.Errorf("the banner of a visit whose notice runs past its date: %q, want it to say from when", w)
	}
	member := held
	member.Destruction = nil
	if got := destructionDue(member); !strings.Contains(got, "from 5 January 2026 10:05") {
		t.Errorf("the visit page of a visit whose notice runs past its date: %q, want it to say from when", got)
	}
	overdue := -1
	late := portal.VisitView{Reference: "FV-2", DestroyOn: &on, DaysUntilDestruction: &overdue}
	if got := destructionDue(late); strings.Contains(got, "-1 day") || !strings.Contains(got, "was due") {
		t.Errorf("the visit page of a visit past its date: %q, want it to say it was due", got)
	}
	one := 1
	soon := portal.VisitView{Reference: "FV-3", DestroyOn: &on, DaysUntilDestruction: &one}
	if got := destructionDue(soon); !strings.Contains(got, "on 2025-12-31: 1 day from today") {
		t.Errorf("the visit page a day before: %q", got)
	}
}
