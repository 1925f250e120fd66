package portal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
)

// TestLatePublicationIsTold: a visit whose letter's publication is never
// recorded keeps its evidence for ever (its destruction date is counted
// from the publication). Once publication is ten working days past its
// usual day, the lead inspector and the administrators are told, once a
// week, until it is recorded. Before, nothing said so: the evidence was
// kept, and nobody knew.
func TestLatePublicationIsTold(t *testing.T) {
	d := startMailDomain(t)
	ctx := context.Background()
	box := &mailbox{d: d, seen: map[string]bool{}}
	d.deliver()
	box.fresh()
	v := d.demo()
	tl, err := timelineOf(d, v)
	if err != nil {
		t.Fatal(err)
	}
	cal := d.svc.Calendar()
	schedule := func() {
		t.Helper()
		if err := d.svc.ScheduleNotifications(ctx); err != nil {
			t.Fatal(err)
		}
		d.deliver()
	}
	const subject = "FV-DEMO: the letter's publication is not recorded"
	expected := cal.AddWorkingDays(tl.FieldworkEnd, 30)
	late := cal.AddWorkingDays(expected, 10)
	d.at(cal.PreviousWorkingDay(late))
	schedule()
	box.expect("the day before it is late", "", []string{}...)
	d.at(late)
	schedule()
	schedule()
	for _, m := range box.expect("late", subject, "lead@ofsted.example", "admin@ofsted.example") {
		if !strings.Contains(m.Text, expected.Format("Monday 2 January 2006")) {
			t.Errorf("the mail does not say when publication was expected: %s", m.Text)
		}
	}
	d.later(3 * time.Hour)
	schedule()
	box.expect("later the same day", "", []string{}...)
	d.at(late.AddDate(0, 0, 7))
	schedule()
	box.expect("a week later", subject, "lead@ofsted.example", "admin@ofsted.example")

	// Recorded: nobody is told again.
	lead := d.person("ofsted", "lead@ofsted.example")
	acc := d.mustAccess(lead, policy.VisitRecordEvent)
	for _, ev := range d.letterDays(tl.FieldworkEnd) {
		if _, err := acc.RecordEvent(ctx, ev.event, ev.on.Format(time.DateOnly)); err != nil {
			t.Fatal(err)
		}
	}
	d.at(late.AddDate(0, 0, 14))
	schedule()
	for _, m := range box.fresh() {
		if m.Subject == subject {
			t.Errorf("told of a late publication once it was recorded: to %v", m.To)
		}
	}
}
