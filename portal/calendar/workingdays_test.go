package calendar

import (
	"strings"
	"testing"
	"time"
)

func TestIsWorkingDay(t *testing.T) {
	c := mustNew(t)
	for _, tc := range []struct {
		name, date string
		want       bool
	}{
		{"a Tuesday", "2026-11-03", true},
		{"a Saturday", "2026-11-07", false},
		{"a Sunday", "2026-11-08", false},
		{"Good Friday", "2026-04-03", false},
		{"Easter Monday", "2026-04-06", false},
		{"Boxing Day substitute", "2026-12-28", false},
		{"Christmas Eve", "2026-12-24", true},
		{"the 2020 early May day that moved away", "2020-05-04", true},
		{"VE day 2020", "2020-05-08", false},
		{"the 2022 spring day that moved away", "2022-05-30", true},
		{"Platinum Jubilee", "2022-06-03", false},
		{"the state funeral", "2022-09-19", false},
		{"the coronation", "2023-05-08", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.IsWorkingDay(day(t, tc.date)); got != tc.want {
				t.Fatalf("IsWorkingDay(%s) = %v, want %v", tc.date, got, tc.want)
			}
		})
	}
}

func TestAddWorkingDays(t *testing.T) {
	c := mustNew(t)
	for _, tc := range []struct {
		name string
		from string
		n    int
		want string
	}{
		{"zero is the day itself", "2026-11-03", 0, "2026-11-03"},
		{"zero on a Saturday is still the Saturday", "2026-11-07", 0, "2026-11-07"},
		{"within a week", "2026-11-03", 2, "2026-11-05"},
		{"over a weekend", "2026-11-06", 1, "2026-11-09"},
		{"from a Saturday", "2026-11-07", 1, "2026-11-09"},
		{"from a Saturday backwards", "2026-11-07", -1, "2026-11-06"},
		{"over Easter", "2026-04-02", 1, "2026-04-07"},
		{"into Easter week", "2026-04-01", 3, "2026-04-08"},
		{"backwards over Easter", "2026-04-07", -2, "2026-04-01"},
		{"over Christmas and Boxing Day", "2026-12-24", 1, "2026-12-29"},
		{"over Christmas into New Year", "2026-12-24", 4, "2027-01-04"},
		{"over a Saturday Christmas", "2027-12-24", 1, "2027-12-29"},
		{"backwards over Christmas", "2026-12-29", -1, "2026-12-24"},
		{"over New Year", "2026-12-31", 1, "2027-01-04"},
		{"backwards over New Year", "2027-01-04", -2, "2026-12-30"},
		{"backwards over two year ends", "2027-01-04", -300, "2025-10-24"},
		{"over the 2022 jubilee", "2022-06-01", 1, "2022-06-06"},
		{"over the moved 2020 holiday", "2020-05-07", 1, "2020-05-11"},
		{"a whole year: 261 weekdays less 8 holidays", "2025-12-31", 253, "2026-12-31"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := c.AddWorkingDays(day(t, tc.from), tc.n)
			if got.Format(time.DateOnly) != tc.want || got.Location() != time.UTC || !got.Equal(civil(got)) {
				t.Fatalf("AddWorkingDays(%s, %d) = %s, want %s", tc.from, tc.n, got, tc.want)
			}
		})
	}
}

func TestNextAndPreviousWorkingDay(t *testing.T) {
	c := mustNew(t)
	for _, tc := range []struct{ name, date, next, prev string }{
		{"mid-week", "2026-11-04", "2026-11-05", "2026-11-03"},
		{"a Friday", "2026-11-06", "2026-11-09", "2026-11-05"},
		{"a Sunday", "2026-11-08", "2026-11-09", "2026-11-06"},
		{"Christmas Day", "2026-12-25", "2026-12-29", "2026-12-24"},
		{"Easter Monday", "2026-04-06", "2026-04-07", "2026-04-02"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := day(t, tc.date)
			if got := c.NextWorkingDay(d).Format(time.DateOnly); got != tc.next {
				t.Errorf("NextWorkingDay = %s, want %s", got, tc.next)
			}
			if got := c.PreviousWorkingDay(d).Format(time.DateOnly); got != tc.prev {
				t.Errorf("PreviousWorkingDay = %s, want %s", got, tc.prev)
			}
		})
	}
}

func TestWorkingDaysBetween(t *testing.T) {
	c := mustNew(t)
	for _, tc := range []struct {
		name, a, b string
		want       int
	}{
		{"same day", "2026-11-03", "2026-11-03", 0},
		{"the next day", "2026-11-03", "2026-11-04", 1},
		{"counts b not a", "2026-11-02", "2026-11-06", 4},
		{"a weekend counts nothing", "2026-11-06", "2026-11-08", 0},
		{"over Christmas and New Year", "2026-12-24", "2027-01-04", 4},
		{"reversed", "2027-01-04", "2026-12-24", -4},
		{"over Easter", "2026-04-02", "2026-04-07", 1},
		{"the whole of 2026", "2025-12-31", "2026-12-31", 253},
		{"the whole of 2022, with its extra days", "2021-12-31", "2022-12-31", 250},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.WorkingDaysBetween(day(t, tc.a), day(t, tc.b)); got != tc.want {
				t.Fatalf("WorkingDaysBetween(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

// WorkingDaysBetween counts by weeks and years; check it against counting
// day by day, and against AddWorkingDays.
func TestWorkingDaysBetweenAgreesWithCounting(t *testing.T) {
	c := mustNew(t)
	for _, from := range []string{"2021-12-20", "2022-05-28", "2026-12-22"} {
		a := day(t, from)
		n := 0
		for b := a; b.Before(a.AddDate(2, 0, 0)); b = b.AddDate(0, 0, 1) {
			if b.After(a) && c.IsWorkingDay(b) {
				n++
				if got := c.AddWorkingDays(a, n); !got.Equal(b) {
					t.Fatalf("AddWorkingDays(%s, %d) = %s, want %s", from, n, got.Format(time.DateOnly), b.Format(time.DateOnly))
				}
			}
			if got := c.WorkingDaysBetween(a, b); got != n {
				t.Fatalf("WorkingDaysBetween(%s, %s) = %d, want %d", from, b.Format(time.DateOnly), got, n)
			}
		}
	}
}

// Answers depend on the date a time has where it is, never on its clock.
func TestTimeOfDayAndZoneIgnored(t *testing.T) {
	c := mustNew(t)
	ny := time.FixedZone("UTC-5", -5*60*60)
	late := time.Date(2026, time.December, 24, 23, 30, 0, 0, ny) // already 25th in UTC
	if !c.IsWorkingDay(late) {
		t.Fatal("Christmas Eve late evening west of UTC is not a working day")
	}
	if got := c.AddWorkingDays(late, 0); !got.Equal(day(t, "2026-12-24")) {
		t.Fatalf("AddWorkingDays(late, 0) = %s", got)
	}
	if got := c.WorkingDaysBetween(late, time.Date(2026, time.December, 29, 1, 0, 0, 0, ny)); got != 1 {
		t.Fatalf("WorkingDaysBetween = %d, want 1", got)
	}
}

// TestWorkingDayTableAgreesWithTheRules: the per-year table that working-day
// arithmetic reads gives the same answers as the holidays themselves, day
// by day from 2017 to 2037 (over every year boundary, leap years, and days
// an operator file added or removed), forwards and backwards.
func TestWorkingDayTableAgreesWithTheRules(t *testing.T) {
	c, err := New(strings.NewReader("2031-06-13 add Example extra holiday\n2031-05-26 remove Spring bank holiday\n2036-12-31 add Example year end\n"))
	if err != nil {
		t.Fatal(err)
	}
	working := func(d time.Time) bool {
		_, holiday := c.HolidayOn(d)
		return !isWeekend(d) && !holiday
	}
	var days []time.Time // the working days, in order
	for d := Date(2017, 1, 1); d.Year() < 2038; d = d.AddDate(0, 0, 1) {
		if c.IsWorkingDay(d) != working(d) {
			t.Fatalf("IsWorkingDay(%s) = %v, want %v", d.Format(time.DateOnly), !working(d), working(d))
		}
		if working(d) {
			days = append(days, d)
		}
	}
	for i := 0; i+300 < len(days); i += 7 {
		for _, n := range []int{1, 5, 65, 300} {
			if got := c.AddWorkingDays(days[i], n); !got.Equal(days[i+n]) {
				t.Fatalf("AddWorkingDays(%s, %d) = %s, want %s", days[i].Format(time.DateOnly), n, got.Format(time.DateOnly), days[i+n].Format(time.DateOnly))
			}
			if got := c.AddWorkingDays(days[i+n], -n); !got.Equal(days[i]) {
				t.Fatalf("AddWorkingDays(%s, %d) = %s, want %s", days[i+n].Format(time.DateOnly), -n, got.Format(time.DateOnly), days[i].Format(time.DateOnly))
			}
		}
		// From a day that need not be a working day: the one before
		// the next working day.
		from, want := days[i+1].AddDate(0, 0, -1), days[i+1]
		if got := c.AddWorkingDays(from, 1); !got.Equal(want) {
			t.Fatalf("AddWorkingDays(%s, 1) = %s, want %s", from.Format(time.DateOnly), got.Format(time.DateOnly), want.Format(time.DateOnly))
		}
	}
}

// BenchmarkAddWorkingDays is one deadline of a visit's timeline: 65
// working days on.
func BenchmarkAddWorkingDays(b *testing.B) {
	c, err := New()
	if err != nil {
		b.Fatal(err)
	}
	d := Date(2026, 11, 30)
	for b.Loop() {
		c.AddWorkingDays(d, 65)
	}
}
