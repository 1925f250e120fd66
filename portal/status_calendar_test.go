package portal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
)

// TestDomainCalendarChangeClosesProviderAccess: a bank holiday the operator
// adds (PORTAL_CALENDAR_FILE) inside a visit's notice period leaves the
// visit with no timeline. Provider staff are then refused, with a reason,
// rather than given access without an end; the inspection team and
// administrators still see the visit and its information request, and the
// letter events can still be recorded, so that retention runs its course.
func TestDomainCalendarChangeClosesProviderAccess(t *testing.T) {
	d := startDomain(t)
	ctx := context.Background()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	coordinator := d.person("cafcass", "coordinator@cafcass.example")
	d.at(tl.Notification)
	d.mustAccess(coordinator, policy.VisitView)

	holiday := d.svc.Calendar().AddWorkingDays(tl.Notification, 2)
	file := filepath.Join(t.TempDir(), "holidays.txt")
	if err := os.WriteFile(file, []byte(holiday.Format(time.DateOnly)+" add State funeral\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.Config.CalendarFile = file
	d.svc = d.another() // restarted with the operator's calendar
	d.Config.CalendarFile = ""

	for _, day := range []time.Time{tl.FieldworkEnd, tl.FieldworkEnd.AddDate(0, 6, 0)} {
		d.at(day)
		_, err := d.access(coordinator, policy.VisitView, "")
		var pe *portal.Error
		if !errors.As(err, &pe) || pe.Kind != portal.KindLocked || !strings.Contains(pe.Msg, "bank holiday") {
			t.Fatalf("coordinator on %s with the visit's timeline broken: %v (%+v), want locked with the reason", day.Format(time.DateOnly), err, pe)
		}
	}
	d.at(tl.FieldworkEnd)
	admin := d.person("ofsted", "admin@ofsted.example")
	lead := d.person("ofsted", "lead@ofsted.example")
	acc := d.mustAccess(admin, policy.VisitView)
	if vv := acc.View(ctx); !strings.Contains(vv.TimelineProblem, "calendar") {
		t.Fatalf("administrator's view of the visit: problem %q, want the calendar named", vv.TimelineProblem)
	}
	for _, a := range []portal.Actor{admin, lead} {
		if _, err := d.mustAccess(a, policy.VisitView).InformationRequest(ctx); err != nil {
			t.Fatalf("%s: information request: %v", a.Email, err)
		}
	}
	for _, ev := range d.letterDays(tl.FieldworkEnd) {
		d.at(ev.on)
		if _, err := d.mustAccess(lead, policy.VisitRecordEvent).RecordEvent(ctx, ev.event, ev.on.Format(time.DateOnly)); err != nil {
			t.Fatalf("%s: %v", ev.event, err)
		}
	}
}
