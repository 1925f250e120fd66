// Package retention follows a visit from its letter of findings to the
// destruction of its evidence: letter events and the states they give, the
// destruction date, legal holds, and the idempotent, leased destruction run
// that ends with a signed certificate.
//
// Invariants: nothing is destroyed before its date, nor while a legal hold is
// set, nor without a publication event; each destruction step is recorded
// before the next begins, so a crash resumes where it stopped; the visit key
// goes before the objects, so from that moment every copy of the ciphertext
// (replicas, versions, backups) is unreadable.
package retention

import (
	"fmt"
	"time"

	"github.com/ofsted-portal/evidence/portal/calendar"
)

// Letter events, in the order they may happen.
const (
	DraftSent         = "draft_sent"
	FinalSent         = "final_sent"
	ComplaintReceived = "complaint_received"
	ComplaintResolved = "complaint_resolved"
	Published         = "published"
)

// Event is one recorded letter event.
type Event struct {
	Event string
	Date  time.Time // civil date
}

// ErrOutOfOrder is returned when an event cannot follow the visit's history;
// its message says why, for the person recording it. Callers answer 409.
type ErrOutOfOrder struct{ Reason string }

func (e *ErrOutOfOrder) Error() string { return e.Reason }

// IsEvent reports whether s names a letter event.
func IsEvent(s string) bool {
	switch s {
	case DraftSent, FinalSent, ComplaintReceived, ComplaintResolved, Published:
		return true
	}
	return false
}

// Letter is what a visit's events say about its letter of findings.
type Letter struct {
	DraftSent     time.Time
	FinalSent     time.Time
	ComplaintOpen bool
	Published     time.Time
}

// Replay folds events (in recording order) into the letter's state.
func Replay(events []Event) Letter {
	var l Letter
	for _, e := range events {
		switch e.Event {
		case DraftSent:
			l.DraftSent = e.Date
		case FinalSent:
			l.FinalSent = e.Date
		case ComplaintReceived:
			l.ComplaintOpen = true
		case ComplaintResolved:
			l.ComplaintOpen = false
		case Published:
			l.Published = e.Date
		}
	}
	return l
}

// ComplaintDays is how long the provider (Cafcass) has to complain, in
// working days after the final letter is sent: a complaint made in that
// time stops publication while it is considered.
const ComplaintDays = 5

// ComplaintsUntil is the last day on which a complaint about a letter whose
// final version was sent on finalSent stops its publication: the fifth
// working day after it. Publication can be recorded from the day after.
func ComplaintsUntil(cal *calendar.Calendar, finalSent time.Time) time.Time {
	return cal.AddWorkingDays(finalSent, ComplaintDays)
}

// vouched reports whether the calendar vouches for every day of the
// complaint window after finalSent: in a year it does not cover, a holiday
// announced later would be counted as a working day, and the window would
// end a day early.
func vouched(cal *calendar.Calendar, finalSent time.Time) bool {
	return cal.Covered(finalSent.Year()) && cal.Covered(ComplaintsUntil(cal, finalSent).Year())
}

// unvouched is the reason given where the complaint window cannot be
// counted.
func unvouched(cal *calendar.Calendar, finalSent time.Time) string {
	y := finalSent.Year()
	if cal.Covered(y) {
		y = ComplaintsUntil(cal, finalSent).Year()
	}
	return fmt.Sprintf("The provider's %d working days to complain after a final letter sent on %s cannot be counted: the bank holiday calendar does not cover %d. Ask the operator to add %d to the calendar.",
		ComplaintDays, long(finalSent), y, y)
}

// Check says whether next may follow history, with a reason when not.
// fieldworkEnd bounds the earliest date of any letter event; cal counts the
// working days the provider has to complain after the final letter.
//
// A complaint can be recorded from the draft letter to the end of the
// complaint window (ComplaintsUntil); one received later is refused, because
// it does not stop publication, which is all a letter event decides.
// Publication cannot be dated inside the window, for then a complaint made
// in time could no longer be recorded.
func Check(cal *calendar.Calendar, history []Event, next Event, fieldworkEnd time.Time) error {
	if !IsEvent(next.Event) {
		return fmt.Errorf("unknown event %q", next.Event)
	}
	l := Replay(history)
	var last time.Time
	if n := len(history); n > 0 {
		last = history[n-1].Date
	}
	out := func(format string, args ...any) error {
		return &ErrOutOfOrder{Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case !l.Published.IsZero():
		return out("The letter has already been published; no further letter events can be recorded.")
	case next.Date.Before(fieldworkEnd):
		return out("Letter events cannot be dated before the end of fieldwork (%s).", fieldworkEnd.Format(time.DateOnly))
	case next.Date.Before(last):
		return out("Events must be recorded in date order: the last one is dated %s.", last.Format(time.DateOnly))
	}
	switch next.Event {
	case DraftSent:
		if !l.DraftSent.IsZero() {
			return out("The draft letter has already been recorded as sent.")
		}
	case FinalSent:
		if l.DraftSent.IsZero() {
			return out("Record the draft letter before the final letter.")
		}
		if !l.FinalSent.IsZero() {
			return out("The final letter has already been recorded as sent.")
		}
		if !vouched(cal, next.Date) {
			return out("%s", unvouched(cal, next.Date))
		}
	case ComplaintReceived:
		if l.DraftSent.IsZero() {
			return out("A complaint can only follow the draft letter.")
		}
		if l.ComplaintOpen {
			return out("A complaint is already open.")
		}
		// A window the calendar cannot vouch for does not refuse a
		// complaint: taking one only keeps the evidence.
		if !l.FinalSent.IsZero() && vouched(cal, l.FinalSent) {
			if until := ComplaintsUntil(cal, l.FinalSent); next.Date.After(until) {
				return out("The provider had until %s to complain, %d working days after the final letter was sent on %s. A complaint received later does not stop publication, so it is not recorded as a letter event. To keep the visit's evidence while it is considered, set a legal hold.",
					long(until), ComplaintDays, long(l.FinalSent))
			}
		}
	case ComplaintResolved:
		if !l.ComplaintOpen {
			return out("There is no open complaint to resolve.")
		}
	case Published:
		if l.ComplaintOpen {
			return out("The letter cannot be published while a complaint is open: record the complaint as resolved first.")
		}
		if l.FinalSent.IsZero() {
			return out("Record the final letter before publication.")
		}
		if !vouched(cal, l.FinalSent) {
			return out("%s", unvouched(cal, l.FinalSent))
		}
		if until := ComplaintsUntil(cal, l.FinalSent); !next.Date.After(until) {
			return out("Publication can be recorded from %s. The provider can complain until %s, %d working days after the final letter was sent on %s.",
				long(until.AddDate(0, 0, 1)), long(until), ComplaintDays, long(l.FinalSent))
		}
	}
	return nil
}

// long writes a date as people read it, for example "3 November 2026".
func long(d time.Time) string { return d.Format("2 January 2006") }

// DestroyOn is the date a published visit's evidence is destroyed: the
// publication date plus the visit's retention period. Zero when not
// published, and for a period under a day, which no visit keeps (the store
// refuses one): never destroyed for want of a period rather than on the
// day of publication.
func DestroyOn(l Letter, retentionDays int) time.Time {
	if l.Published.IsZero() || retentionDays < 1 {
		return time.Time{}
	}
	return l.Published.AddDate(0, 0, retentionDays)
}

// IsDue reports whether destruction may run on today: published, past its
// date, and not on legal hold.
func IsDue(l Letter, retentionDays int, legalHold bool, today time.Time) bool {
	d := DestroyOn(l, retentionDays)
	return !d.IsZero() && !legalHold && !today.Before(d)
}
