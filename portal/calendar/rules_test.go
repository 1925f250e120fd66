package calendar

import (
	"testing"
	"time"
)

func TestEasterSunday(t *testing.T) {
	for _, tc := range []struct {
		year int
		want string
	}{
		{1818, "1818-03-22"}, // the earliest possible
		{1943, "1943-04-25"}, // the latest possible
		{2000, "2000-04-23"},
		{2008, "2008-03-23"},
		{2019, "2019-04-21"},
		{2024, "2024-03-31"},
		{2025, "2025-04-20"},
		{2026, "2026-04-05"},
		{2027, "2027-03-28"},
		{2035, "2035-03-25"},
		{2038, "2038-04-25"},
		{2285, "2285-03-22"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := easterSunday(tc.year).Format(time.DateOnly); got != tc.want {
				t.Fatalf("easterSunday(%d) = %s, want %s", tc.year, got, tc.want)
			}
		})
	}
}

// The Christmas substitutes are the subtle rule: the names say which holiday
// each weekday stands for, as on GOV.UK.
func TestWeekendSubstitutes(t *testing.T) {
	for _, tc := range []struct {
		name string
		year int
		want map[string]string // date -> name, for the days checked
	}{
		{"Christmas on a Friday", 2026, map[string]string{
			"2026-12-25": "Christmas Day", "2026-12-28": "Boxing Day (substitute day)",
		}},
		{"Christmas on a Saturday", 2027, map[string]string{
			"2027-12-27": "Christmas Day (substitute day)", "2027-12-28": "Boxing Day (substitute day)",
		}},
		{"Christmas on a Sunday", 2022, map[string]string{
			"2022-12-26": "Boxing Day", "2022-12-27": "Christmas Day (substitute day)",
		}},
		{"New Year on a Saturday", 2022, map[string]string{"2022-01-03": "New Year's Day (substitute day)"}},
		{"New Year on a Sunday", 2023, map[string]string{"2023-01-02": "New Year's Day (substitute day)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for _, h := range ruleHolidays(tc.year) {
				got[h.Date.Format(time.DateOnly)] = h.Name
			}
			for d, want := range tc.want {
				if got[d] != want {
					t.Errorf("%s: got %q, want %q", d, got[d], want)
				}
			}
		})
	}
}

func TestRuleHolidaysAreDistinctWeekdaysInOrder(t *testing.T) {
	for y := 1900; y <= 2300; y++ {
		hs := ruleHolidays(y)
		for i, h := range hs {
			if isWeekend(h.Date) || h.Date.Year() != y {
				t.Fatalf("%d: %s %s is on a weekend or in another year", y, h.Date.Format(time.DateOnly), h.Name)
			}
			if i > 0 && !hs[i-1].Date.Before(h.Date) {
				t.Fatalf("%d: %s and %s out of order or the same day", y, hs[i-1].Name, h.Name)
			}
		}
	}
}
