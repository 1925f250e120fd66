package timeline

import (
	"fmt"
	"time"

	"github.com/ofsted-portal/evidence/portal/calendar"
)

// The notice the provider gets, in working days from the notification to the
// start of fieldwork.
const (
	minNotice = 5  // fieldwork on day 7: days 3 to 6 come first
	maxNotice = 15 // the usual notice is 5: far more is likelier a mistyped date
)

// Timeline is computed from the notification date (day 2) and the fieldwork
// start. Dates are civil dates at midnight UTC and marshal to JSON as
// "YYYY-MM-DD".
type Timeline struct {
	Day1                time.Time `json:"day1"`                 // working day before notification: lead evaluates off site
	Notification        time.Time `json:"notification"`         // day 2: notification call; access opens for the provider
	DataListsDue        time.Time `json:"data_lists_due"`       // day 3 end of day: child-level data lists and audited cases list
	AnnexADue           time.Time `json:"annex_a_due"`          // day 5 end of day: Annex A management information
	CasesNamed          time.Time `json:"cases_named"`          // day 6 (the working day before fieldwork): lead names the children's cases
	FieldworkStart      time.Time `json:"fieldwork_start"`      // day 7 at the earliest
	FieldworkEnd        time.Time `json:"fieldwork_end"`        // fieldwork start + 1 working day (two fieldwork days)
	DraftLetterDue      time.Time `json:"draft_letter_due"`     // fieldwork end + 10 working days
	CommentsFrom        time.Time `json:"comments_from"`        // +11
	CommentsUntil       time.Time `json:"comments_until"`       // +15
	FinalLetterDue      time.Time `json:"final_letter_due"`     // +22
	ComplaintsFrom      time.Time `json:"complaints_from"`      // +23
	ComplaintsUntil     time.Time `json:"complaints_until"`     // +27; once the final letter is recorded, the deadline the portal enforces (Status)
	PublicationExpected time.Time `json:"publication_expected"` // +30
}

// Compute returns the timeline for a visit notified on notification with
// fieldwork starting on fieldworkStart (only their dates count), or an error
// that says what to change, written for the administrator who entered them.
//
// When fieldwork starts later than day 7, CasesNamed stays the working day
// before fieldwork: the provider learns which children's cases are wanted as
// late as the schedule allows.
func Compute(cal *calendar.Calendar, notification, fieldworkStart time.Time) (Timeline, error) {
	n := calendar.Date(notification.Date())
	fs := calendar.Date(fieldworkStart.Date())
	if err := WorkingDay(cal, "notification date", n); err != nil {
		return Timeline{}, err
	}
	if err := WorkingDay(cal, "fieldwork start", fs); err != nil {
		return Timeline{}, err
	}
	// Compare with the bounds rather than counting the days between, so
	// that a mistyped year costs nothing.
	if earliest := cal.AddWorkingDays(n, minNotice); fs.Before(earliest) {
		return Timeline{}, fmt.Errorf("fieldwork must start at least %d working days after the notification date, so that the team has days 3 to 6 off site first: for a notification on %s the earliest start is %s",
			minNotice, long(n), long(earliest))
	}
	if latest := cal.AddWorkingDays(n, maxNotice); fs.After(latest) {
		return Timeline{}, fmt.Errorf("fieldwork must start no more than %d working days after the notification date: for a notification on %s the latest start is %s",
			maxNotice, long(n), long(latest))
	}
	end := cal.AddWorkingDays(fs, 1)
	after := func(d time.Time, days int) time.Time { return cal.AddWorkingDays(d, days) }
	// Every date is counted in working days: in a year whose bank holidays
	// the calendar does not vouch for, they would count as working days and
	// bring each later date forward, publication and destruction with them.
	for _, d := range []time.Time{after(n, -1), after(end, 30)} {
		if !cal.Covered(d.Year()) {
			return Timeline{}, fmt.Errorf("this visit's timeline runs to %s, but the bank holiday calendar does not cover %d, so its working days cannot be counted: check the dates, or ask the operator to add %d to the calendar",
				long(d), d.Year(), d.Year())
		}
	}
	return Timeline{
		Day1:                after(n, -1),
		Notification:        n,
		DataListsDue:        after(n, 1),
		AnnexADue:           after(n, 3),
		CasesNamed:          after(fs, -1),
		FieldworkStart:      fs,
		FieldworkEnd:        end,
		DraftLetterDue:      after(end, 10),
		CommentsFrom:        after(end, 11),
		CommentsUntil:       after(end, 15),
		FinalLetterDue:      after(end, 22),
		ComplaintsFrom:      after(end, 23),
		ComplaintsUntil:     after(end, 27),
		PublicationExpected: after(end, 30),
	}, nil
}

// WorkingDay says why d is not a working day, if it is not: "the what must
// be a working day, but ... is a weekend" (or the bank holiday it is).
func WorkingDay(cal *calendar.Calendar, what string, d time.Time) error {
	if cal.IsWorkingDay(d) {
		return nil
	}
	why := "a weekend"
	if h, ok := cal.HolidayOn(d); ok {
		why = "a bank holiday (" + h.Name + ")"
	}
	return fmt.Errorf("the %s must be a working day, but %s is %s", what, long(d), why)
}

// long writes a date as people read it, for example "Tuesday 3 November 2026".
func long(d time.Time) string { return d.Format("Monday 2 January 2006") }
