package calendar

import (
	"fmt"
	"time"
	_ "time/tzdata" // Europe/London without relying on the host
)

// Date returns the civil date y-m-d as midnight UTC. Out-of-range values
// normalise as they do for time.Date (Date(2026, 12, 32) is 1 January 2027).
func Date(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// civil is the calendar date t has in its own location, as midnight UTC.
func civil(t time.Time) time.Time { return Date(t.Date()) }

// ParseDate parses untrusted input of exactly the form YYYY-MM-DD (four-digit
// year, two-digit month and day) naming a real date. It accepts nothing
// else: no time, no zone, no other layout, no 30 February.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	// The round trip rejects anything time.Parse tolerates but does not
	// print back the same way.
	if err != nil || t.Format(time.DateOnly) != s {
		return time.Time{}, fmt.Errorf("calendar: %q is not a real date in the form YYYY-MM-DD", s)
	}
	return t, nil
}

// London is the time zone of the visits' working days: every date the portal
// computes and every time it shows is London's.
var London = func() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return l
}()

// Today is the civil date in London at the instant now.
func Today(now time.Time) time.Time { return Date(now.In(London).Date()) }

// StartOfDay is midnight in London at the start of the civil date d.
func StartOfDay(d time.Time) time.Time {
	y, m, day := d.Date()
	return time.Date(y, m, day, 0, 0, 0, 0, London)
}
