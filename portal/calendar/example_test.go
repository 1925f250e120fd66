package calendar_test

import (
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/ofsted-portal/evidence/portal/calendar"
)

func ExampleCalendar_AddWorkingDays() {
	cal, err := calendar.New()
	if err != nil {
		log.Fatal(err)
	}
	christmasEve := calendar.Date(2026, time.December, 24)
	fmt.Println(cal.AddWorkingDays(christmasEve, 1).Format(time.DateOnly))
	fmt.Println(cal.AddWorkingDays(christmasEve, 4).Format(time.DateOnly))
	fmt.Println(cal.WorkingDaysBetween(christmasEve, calendar.Date(2027, time.January, 4)))
	// Output:
	// 2026-12-29
	// 2027-01-04
	// 4
}

func ExampleCalendar_Holidays() {
	cal, err := calendar.New()
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range cal.Holidays(2022)[4:] {
		fmt.Println(h.Date.Format("Mon 2 Jan"), h.Name)
	}
	// Output:
	// Thu 2 Jun Spring bank holiday
	// Fri 3 Jun Platinum Jubilee bank holiday
	// Mon 29 Aug Summer bank holiday
	// Mon 19 Sep Bank holiday for the State Funeral of Queen Elizabeth II
	// Mon 26 Dec Boxing Day
	// Tue 27 Dec Christmas Day (substitute day)
}

func ExampleNew() {
	// An operator file, in the format of the built-in data.
	extra := strings.NewReader(`
# announced after this release
2031-06-13 add Example extra bank holiday
`)
	cal, err := calendar.New(extra)
	if err != nil {
		log.Fatal(err)
	}
	d := calendar.Date(2031, time.June, 13)
	h, _ := cal.HolidayOn(d)
	fmt.Println(cal.IsWorkingDay(d), h.Name)

	_, err = calendar.New(strings.NewReader("2031-06-13 add\n"))
	fmt.Println(err)
	// Output:
	// false Example extra bank holiday
	// calendar: extra file 1 line 1: want "YYYY-MM-DD add <name>", "YYYY-MM-DD remove <name>" or "YYYY covered", got "2031-06-13 add"
}

func ExampleParseDate() {
	d, err := calendar.ParseDate("2026-11-03")
	fmt.Println(d.Weekday(), err)
	_, err = calendar.ParseDate("3/11/2026")
	fmt.Println(err)
	// Output:
	// Tuesday <nil>
	// calendar: "3/11/2026" is not a real date in the form YYYY-MM-DD
}
