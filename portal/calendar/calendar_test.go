package calendar

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustNew(t *testing.T) *Calendar {
	t.Helper()
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The published England and Wales lists (GOV.UK), every holiday of each year.
var published = []struct {
	year  int
	dates string
}{
	{2018, "01-01 03-30 04-02 05-07 05-28 08-27 12-25 12-26"},
	{2019, "01-01 04-19 04-22 05-06 05-27 08-26 12-25 12-26"},
	{2020, "01-01 04-10 04-13 05-08 05-25 08-31 12-25 12-28"},
	{2021, "01-01 04-02 04-05 05-03 05-31 08-30 12-27 12-28"},
	{2022, "01-03 04-15 04-18 05-02 06-02 06-03 08-29 09-19 12-26 12-27"},
	{2023, "01-02 04-07 04-10 05-01 05-08 05-29 08-28 12-25 12-26"},
	{2024, "01-01 03-29 04-01 05-06 05-27 08-26 12-25 12-26"},
	{2025, "01-01 04-18 04-21 05-05 05-26 08-25 12-25 12-26"},
	{2026, "01-01 04-03 04-06 05-04 05-25 08-31 12-25 12-28"},
	{2027, "01-01 03-26 03-29 05-03 05-31 08-30 12-27 12-28"},
}

func TestHolidaysMatchPublishedLists(t *testing.T) {
	c := mustNew(t)
	for _, tc := range published {
		t.Run(strconv.Itoa(tc.year), func(t *testing.T) {
			var got []string
			for _, h := range c.Holidays(tc.year) {
				got = append(got, h.Date.Format("01-02"))
				if !c.IsHoliday(h.Date) || c.IsWorkingDay(h.Date) {
					t.Errorf("%s %s: listed but not a holiday", h.Date.Format(time.DateOnly), h.Name)
				}
			}
			if g := strings.Join(got, " "); g != tc.dates {
				t.Fatalf("got  %s\nwant %s", g, tc.dates)
			}
		})
	}
}

func TestHolidayNames2022(t *testing.T) {
	want := []string{
		"2022-01-03 New Year's Day (substitute day)",
		"2022-04-15 Good Friday",
		"2022-04-18 Easter Monday",
		"2022-05-02 Early May bank holiday",
		"2022-06-02 Spring bank holiday",
		"2022-06-03 Platinum Jubilee bank holiday",
		"2022-08-29 Summer bank holiday",
		"2022-09-19 Bank holiday for the State Funeral of Queen Elizabeth II",
		"2022-12-26 Boxing Day",
		"2022-12-27 Christmas Day (substitute day)",
	}
	got := mustNew(t).Holidays(2022)
	if len(got) != len(want) {
		t.Fatalf("got %d holidays, want %d: %v", len(got), len(want), got)
	}
	for i, h := range got {
		if s := h.Date.Format(time.DateOnly) + " " + h.Name; s != want[i] {
			t.Errorf("got %q, want %q", s, want[i])
		}
	}
}

func TestCovered(t *testing.T) {
	c := mustNew(t)
	for _, tc := range []struct {
		year int
		want bool
	}{
		{2017, false}, {2018, true}, {2026, true}, {2035, true}, {2036, false},
	} {
		t.Run(strconv.Itoa(tc.year), func(t *testing.T) {
			if got := c.Covered(tc.year); got != tc.want {
				t.Fatalf("Covered(%d) = %v, want %v", tc.year, got, tc.want)
			}
		})
	}
	// Outside the covered years the rules still answer.
	if !c.IsHoliday(day(t, "2040-12-25")) {
		t.Fatal("Christmas 2040 is not a holiday")
	}
}

// TestOperatorDataCoversAYear: an operator who has checked the exceptions
// announced for a year beyond the built-in data says so in their calendar
// file ("2036 covered"), and the calendar vouches for that year from then
// on, so visits and letters in it are no longer refused; a year nobody
// vouched for stays uncovered. Before, no operator file could extend the
// covered years, though every refusal asked the operator to extend the
// calendar: only a new release could.
func TestOperatorDataCoversAYear(t *testing.T) {
	next := LastCovered + 1
	c, err := New(strings.NewReader(fmt.Sprintf("# checked against GOV.UK\n%d-06-02 add Extra bank holiday\n%d covered\n", next, next)))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Covered(next) || c.Covered(next+1) || !c.Covered(LastCovered) {
		t.Fatalf("Covered(%d, %d, %d) = %v, %v, %v, want true, false, true", next, next+1, LastCovered, c.Covered(next), c.Covered(next+1), c.Covered(LastCovered))
	}
	if !c.IsHoliday(Date(next, time.June, 2)) {
		t.Fatal("the operator's holiday is not one")
	}
	for _, line := range []string{"36 covered", "2036 covered twice", "2036-01-01 covered", "20366 covered", "2036 checked"} {
		if _, err := New(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("%q was accepted", line)
		}
	}
}
