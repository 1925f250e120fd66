package calendar

import (
	"slices"
	"time"
)

// ruleHolidays computes year y's bank holidays from the standing rules, with
// weekend substitutes, before exceptions. The result is in date order.
func ruleHolidays(y int) []Holiday {
	easter := easterSunday(y)
	hs := []Holiday{
		{Date(y, time.January, 1), "New Year's Day"},
		{easter.AddDate(0, 0, -2), "Good Friday"},
		{easter.AddDate(0, 0, 1), "Easter Monday"},
		{firstMonday(y, time.May), "Early May bank holiday"},
		{lastMonday(y, time.May), "Spring bank holiday"},
		{lastMonday(y, time.August), "Summer bank holiday"},
		{Date(y, time.December, 25), "Christmas Day"},
		{Date(y, time.December, 26), "Boxing Day"},
	}
	// A holiday that falls on a weekday keeps its day; one on a weekend
	// takes the next weekday not yet taken, in date order. That is why a
	// Sunday Christmas is observed on the Tuesday: Boxing Day has the Monday.
	taken := map[time.Time]bool{}
	for _, h := range hs {
		if !isWeekend(h.Date) {
			taken[h.Date] = true
		}
	}
	for i, h := range hs {
		if !isWeekend(h.Date) {
			continue
		}
		d := h.Date
		for isWeekend(d) || taken[d] {
			d = d.AddDate(0, 0, 1)
		}
		taken[d] = true
		hs[i] = Holiday{d, h.Name + " (substitute day)"}
	}
	slices.SortFunc(hs, func(a, b Holiday) int { return a.Date.Compare(b.Date) })
	return hs
}

func firstMonday(y int, m time.Month) time.Time {
	d := Date(y, m, 1)
	return d.AddDate(0, 0, (int(time.Monday)-int(d.Weekday())+7)%7)
}

func lastMonday(y int, m time.Month) time.Time {
	d := Date(y, m+1, 0) // the last day of m
	return d.AddDate(0, 0, -((int(d.Weekday()) - int(time.Monday) + 7) % 7))
}

// easterSunday is the anonymous Gregorian algorithm (Meeus/Jones/Butcher),
// valid for every Gregorian year.
func easterSunday(y int) time.Time {
	a := y % 19
	b, c := y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return Date(y, time.Month(month), day)
}
