package timeline

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/calendar"
)

func newCalendar(t *testing.T) *calendar.Calendar {
	t.Helper()
	cal, err := calendar.New()
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

func date(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := calendar.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCompute(t *testing.T) {
	cal := newCalendar(t)
	for _, tc := range []struct {
		name                    string
		notification, fieldwork string
		want                    [14]string // in field order, checked by hand
	}{
		{
			// No holidays near. Week 1 Mon 2 to Fri 6 November, fieldwork
			// Tue 10 and Wed 11; then working days after Wed 11 November:
			// Nov 12 13 16 17 18 19 20 23 24 25 (+10) 26 (+11) 27 30
			// Dec 1 2 (+15) 3 4 7 8 9 10 11 (+22) 14 (+23) 15 16 17 18 (+27)
			// 21 22 23 (+30).
			name: "ordinary", notification: "2026-11-03", fieldwork: "2026-11-10",
			want: [14]string{
				"2026-11-02", "2026-11-03", "2026-11-04", "2026-11-06", "2026-11-09", "2026-11-10", "2026-11-11",
				"2026-11-25", "2026-11-26", "2026-12-02", "2026-12-11", "2026-12-14", "2026-12-18", "2026-12-23",
			},
		},
		{
			// Christmas Fri 25, Boxing Day substitute Mon 28 December, New
			// Year's Day Fri 1 January. Working days after Tue 22 December:
			// 23 (day 3), 24, 29 (day 5), 30 (day 6), 31 (day 7), Jan 4 (day 8).
			// Then after Mon 4 January: 5 6 7 8 11 12 13 14 15 18 (+10) 19 (+11)
			// 20 21 22 25 (+15) 26 27 28 29 Feb 1 2 3 (+22) 4 (+23) 5 8 9 10 (+27)
			// 11 12 15 (+30).
			name: "across Christmas, Boxing Day and New Year", notification: "2026-12-22", fieldwork: "2026-12-31",
			want: [14]string{
				"2026-12-21", "2026-12-22", "2026-12-23", "2026-12-29", "2026-12-30", "2026-12-31", "2027-01-04",
				"2027-01-18", "2027-01-19", "2027-01-25", "2027-02-03", "2027-02-04", "2027-02-10", "2027-02-15",
			},
		},
		{
			// Easter 2026: Good Friday 3 April, Easter Monday 6 April.
			// Notification Wed 1 April: day 1 Tue 31 March, day 3 Thu 2,
			// then 7 (4), 8 (day 5), 9 (day 6), fieldwork Fri 10 and Mon 13.
			// After Mon 13 April: 14 15 16 17 20 21 22 23 24 27 (+10) 28 (+11)
			// 29 30 May 1 5 (+15; 4 May is the early May holiday) 6 7 8 11 12
			// 13 14 (+22) 15 (+23) 18 19 20 21 (+27) 22 26 (+29; 25 May is
			// the spring holiday) 27 (+30).
			name: "across Easter and both May holidays", notification: "2026-04-01", fieldwork: "2026-04-10",
			want: [14]string{
				"2026-03-31", "2026-04-01", "2026-04-02", "2026-04-08", "2026-04-09", "2026-04-10", "2026-04-13",
				"2026-04-27", "2026-04-28", "2026-05-05", "2026-05-14", "2026-05-15", "2026-05-21", "2026-05-27",
			},
		},
		{
			// Fieldwork 15 working days on, the latest allowed: the cases are
			// still named the working day before fieldwork. After Wed 25
			// November: 26 27 30 Dec 1 2 3 4 7 8 9 (+10) 10 (+11) 11 14 15 16
			// (+15) 17 18 21 22 23 24 29 (+22; 25 and 28 are holidays) 30 (+23)
			// 31 Jan 4 5 6 (+27; 1 is a holiday) 7 8 11 (+30).
			name: "fieldwork on the latest day", notification: "2026-11-03", fieldwork: "2026-11-24",
			want: [14]string{
				"2026-11-02", "2026-11-03", "2026-11-04", "2026-11-06", "2026-11-23", "2026-11-24", "2026-11-25",
				"2026-12-09", "2026-12-10", "2026-12-16", "2026-12-29", "2026-12-30", "2027-01-06", "2027-01-11",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Compute(cal, date(t, tc.notification), date(t, tc.fieldwork))
			if err != nil {
				t.Fatal(err)
			}
			v := reflect.ValueOf(got)
			for i, f := range reflect.VisibleFields(v.Type()) {
				if g := v.FieldByIndex(f.Index).Interface().(time.Time).Format(time.DateOnly); g != tc.want[i] {
					t.Errorf("%s = %s, want %s", f.Name, g, tc.want[i])
				}
			}
		})
	}
}

func TestComputeRefuses(t *testing.T) {
	cal := newCalendar(t)
	for _, tc := range []struct {
		name, notification, fieldwork string
		want                          string
	}{
		{"notification on a Saturday", "2026-11-07", "2026-11-16",
			"the notification date must be a working day, but Saturday 7 November 2026 is a weekend"},
		{"notification on a bank holiday", "2026-12-25", "2027-01-06",
			"the notification date must be a working day, but Friday 25 December 2026 is a bank holiday (Christmas Day)"},
		{"notification on a substitute day", "2026-12-28", "2027-01-06",
			"but Monday 28 December 2026 is a bank holiday (Boxing Day (substitute day))"},
		{"fieldwork on a Sunday", "2026-11-03", "2026-11-15",
			"the fieldwork start must be a working day, but Sunday 15 November 2026 is a weekend"},
		{"fieldwork on a bank holiday", "2026-12-15", "2026-12-28",
			"the fieldwork start must be a working day, but Monday 28 December 2026 is a bank holiday"},
		{"fieldwork on day 6", "2026-11-03", "2026-11-09",
			"fieldwork must start at least 5 working days after the notification date, so that the team has days 3 to 6 off site first: for a notification on Tuesday 3 November 2026 the earliest start is Tuesday 10 November 2026"},
		{"fieldwork on the notification day", "2026-11-03", "2026-11-03", "the earliest start is Tuesday 10 November 2026"},
		{"fieldwork before the notification", "2026-11-03", "2026-10-27", "the earliest start is Tuesday 10 November 2026"},
		{"fieldwork too soon over Christmas", "2026-12-22", "2026-12-30", "the earliest start is Thursday 31 December 2026"},
		{"fieldwork 16 working days on", "2026-11-03", "2026-11-25",
			"fieldwork must start no more than 15 working days after the notification date: for a notification on Tuesday 3 November 2026 the latest start is Tuesday 24 November 2026"},
		{"fieldwork in a mistyped year", "2026-11-03", "9026-11-10", "the latest start is Tuesday 24 November 2026"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Compute(cal, date(t, tc.notification), date(t, tc.fieldwork))
			if err == nil {
				t.Fatalf("Compute accepted it: %+v", got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
			if got != (Timeline{}) {
				t.Fatal("Compute returned a timeline with its error")
			}
		})
	}
}

// Check the package invariants for every allowed pair over a season with
// Christmas, New Year and Easter in it.
func TestComputeInvariants(t *testing.T) {
	cal := newCalendar(t)
	for n := date(t, "2026-11-02"); n.Before(date(t, "2027-04-30")); n = n.AddDate(0, 0, 1) {
		if !cal.IsWorkingDay(n) {
			continue
		}
		for gap := 5; gap <= 15; gap++ {
			tl, err := Compute(cal, n, cal.AddWorkingDays(n, gap))
			if err != nil {
				t.Fatalf("notification %s, gap %d: %v", n.Format(time.DateOnly), gap, err)
			}
			v := reflect.ValueOf(tl)
			var prev time.Time
			for _, f := range reflect.VisibleFields(v.Type()) {
				d := v.FieldByIndex(f.Index).Interface().(time.Time)
				if !cal.IsWorkingDay(d) || d.Location() != time.UTC || !d.Equal(calendar.Date(d.Date())) {
					t.Fatalf("notification %s, gap %d: %s %s is not a working day at midnight UTC", n.Format(time.DateOnly), gap, f.Name, d)
				}
				if !prev.IsZero() && !prev.Before(d) {
					t.Fatalf("notification %s, gap %d: %s %s is not after the field before", n.Format(time.DateOnly), gap, f.Name, d.Format(time.DateOnly))
				}
				prev = d
			}
		}
	}
}

// Only the dates of the times given count, in their own location.
func TestComputeUsesDatesOnly(t *testing.T) {
	cal := newCalendar(t)
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Skip("no Europe/London zone:", err)
	}
	got, err := Compute(cal, time.Date(2026, 11, 3, 9, 0, 0, 0, london), time.Date(2026, 11, 10, 23, 30, 0, 0, london))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Compute(cal, date(t, "2026-11-03"), date(t, "2026-11-10"))
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

// TestComputeRefusesYearsTheCalendarDoesNotHold: a timeline is counted in
// working days, so one that runs into a year whose bank holidays the
// calendar does not vouch for would count them as working days and bring
// every later date (the provider's days to complain, publication, and so
// destruction) forward without a word. Such a timeline is refused, naming
// the calendar's years; one that ends inside them is computed. Before, a
// visit notified in December 2035 got a timeline into 2036.
func TestComputeRefusesYearsTheCalendarDoesNotHold(t *testing.T) {
	cal := newCalendar(t)
	last := calendar.LastCovered
	for _, tc := range []struct {
		name                    string
		notification, fieldwork time.Time
		ok                      bool
	}{
		{"publication expected in the last year held", calendar.Date(last, 10, 2), calendar.Date(last, 10, 9), true},
		{"publication expected in the year after", calendar.Date(last, 12, 3), calendar.Date(last, 12, 10), false},
		{"day 1 in the year before the first held", calendar.Date(calendar.FirstCovered, 1, 2), calendar.Date(calendar.FirstCovered, 1, 9), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for !cal.IsWorkingDay(tc.notification) {
				tc.notification = tc.notification.AddDate(0, 0, 1)
			}
			tc.fieldwork = cal.AddWorkingDays(tc.notification, 5)
			tl, err := Compute(cal, tc.notification, tc.fieldwork)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.ok && err == nil:
				t.Fatalf("a timeline from %s to %s, beyond the years the calendar holds (%d to %d)",
					tl.Day1.Format(time.DateOnly), tl.PublicationExpected.Format(time.DateOnly), calendar.FirstCovered, last)
			case !tc.ok && !strings.Contains(err.Error(), "bank holiday calendar"):
				t.Fatalf("refused without saying why: %v", err)
			}
		})
	}
	// An operator who has checked the next year's holidays says so, and
	// the visit notified in December is then computed.
	next, err := calendar.New(strings.NewReader(fmt.Sprintf("%d covered\n", last+1)))
	if err != nil {
		t.Fatal(err)
	}
	n := calendar.Date(last, 12, 3)
	for !next.IsWorkingDay(n) {
		n = n.AddDate(0, 0, 1)
	}
	if _, err := Compute(next, n, next.AddWorkingDays(n, 5)); err != nil {
		t.Fatalf("with %d covered by the operator: %v", last+1, err)
	}
}
