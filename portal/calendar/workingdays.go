package calendar

import (
	"slices"
	"time"
)

// HolidayOn returns the bank holiday on d's date, if there is one.
func (c *Calendar) HolidayOn(d time.Time) (Holiday, bool) {
	d = civil(d)
	if name, ok := c.added[d]; ok {
		return Holiday{d, name}, true
	}
	if c.removed[d] {
		return Holiday{}, false
	}
	h, ok := c.ruleDays(d.Year())[d]
	return h, ok
}

// ruleDays is the year's rule holidays by date, computed once: working-day
// arithmetic asks for them on every day it steps over.
func (c *Calendar) ruleDays(year int) map[time.Time]Holiday {
	if m, ok := c.rules.Load(year); ok {
		return m.(map[time.Time]Holiday)
	}
	m := map[time.Time]Holiday{}
	for _, h := range ruleHolidays(year) {
		m[h.Date] = h
	}
	c.rules.Store(year, m)
	return m
}

// IsHoliday reports whether d's date is a bank holiday.
func (c *Calendar) IsHoliday(d time.Time) bool {
	_, ok := c.HolidayOn(d)
	return ok
}

// IsWorkingDay reports whether d's date is Monday to Friday and not a bank
// holiday.
func (c *Calendar) IsWorkingDay(d time.Time) bool {
	d = civil(d)
	return c.workingDays(d.Year())[d.YearDay()-1]
}

// workingDays is the year's days by day of the year (from 0), true for a
// working day, computed once a year: every visit on a page computes its
// timeline, and each timeline steps over hundreds of days.
func (c *Calendar) workingDays(year int) []bool {
	if w, ok := c.working.Load(year); ok {
		return w.([]bool)
	}
	var w []bool
	for d := Date(year, time.January, 1); d.Year() == year; d = d.AddDate(0, 0, 1) {
		w = append(w, !isWeekend(d) && !c.IsHoliday(d))
	}
	c.working.Store(year, w)
	return w
}

// Holidays returns year's bank holidays in date order. A day added by data
// that is also a rule holiday appears once, with the data's name.
func (c *Calendar) Holidays(year int) []Holiday {
	names := map[time.Time]string{}
	for _, h := range ruleHolidays(year) {
		if !c.removed[h.Date] {
			names[h.Date] = h.Name
		}
	}
	for d, name := range c.added {
		if d.Year() == year {
			names[d] = name
		}
	}
	out := make([]Holiday, 0, len(names))
	for d, name := range names {
		out = append(out, Holiday{d, name})
	}
	slices.SortFunc(out, func(a, b Holiday) int { return a.Date.Compare(b.Date) })
	return out
}

// AddWorkingDays returns the n-th working day strictly after d's date, or
// for negative n the |n|-th strictly before it. n = 0 returns d's date itself,
// working day or not. It takes time proportional to |n|.
func (c *Calendar) AddWorkingDays(d time.Time, n int) time.Time {
	d = civil(d)
	step := 1
	if n < 0 {
		step = -1
	}
	// It steps over the year's day numbers and makes the date once at the
	// end: a page of visits computes hundreds of these.
	year, i := d.Year(), d.YearDay()-1
	w := c.workingDays(year)
	moved := 0
	for n != 0 {
		i, moved = i+step, moved+step
		if i < 0 || i >= len(w) {
			at := d.AddDate(0, 0, moved)
			year, i = at.Year(), at.YearDay()-1
			w = c.workingDays(year)
		}
		if w[i] {
			n -= step
		}
	}
	return d.AddDate(0, 0, moved)
}

// NextWorkingDay returns the first working day strictly after d's date.
func (c *Calendar) NextWorkingDay(d time.Time) time.Time { return c.AddWorkingDays(d, 1) }

// PreviousWorkingDay returns the last working day strictly before d's date.
func (c *Calendar) PreviousWorkingDay(d time.Time) time.Time { return c.AddWorkingDays(d, -1) }

// WorkingDaysBetween counts the working days in (a, b], by date: so
// AddWorkingDays(a, WorkingDaysBetween(a, b)) is b when b is a working day
// after a. When b is before a it is minus the count in (b, a]. It takes time
// proportional to the number of years spanned, not days.
func (c *Calendar) WorkingDaysBetween(a, b time.Time) int {
	a, b = civil(a), civil(b)
	if b.Before(a) {
		return -c.WorkingDaysBetween(b, a)
	}
	// Weekdays first, whole weeks at a time: the day numbers are exact
	// because both dates are midnight UTC.
	days := int((b.Unix() - a.Unix()) / (24 * 60 * 60))
	n := days / 7 * 5
	for d := a.AddDate(0, 0, days/7*7+1); !d.After(b); d = d.AddDate(0, 0, 1) {
		if !isWeekend(d) {
			n++
		}
	}
	for y := a.Year(); y <= b.Year(); y++ {
		for _, h := range c.Holidays(y) {
			if h.Date.After(a) && !h.Date.After(b) && !isWeekend(h.Date) {
				n--
			}
		}
	}
	return n
}
