package timeline_test

import (
	"fmt"
	"log"
	"time"

	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/timeline"
)

func ExampleCompute() {
	cal, err := calendar.New()
	if err != nil {
		log.Fatal(err)
	}
	// Notified on Tuesday 22 December 2026; Christmas, Boxing Day and New
	// Year's Day do not count.
	tl, err := timeline.Compute(cal, calendar.Date(2026, time.December, 22), calendar.Date(2026, time.December, 31))
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range []struct {
		what string
		when time.Time
	}{
		{"data lists due", tl.DataListsDue},
		{"Annex A due", tl.AnnexADue},
		{"fieldwork", tl.FieldworkStart},
		{"fieldwork ends", tl.FieldworkEnd},
		{"draft letter", tl.DraftLetterDue},
		{"publication", tl.PublicationExpected},
	} {
		fmt.Printf("%-15s %s\n", e.what, e.when.Format("Mon 2 Jan 2006"))
	}
	fmt.Println(tl.Phase(calendar.Date(2026, time.December, 24)))

	_, err = timeline.Compute(cal, calendar.Date(2026, time.December, 22), calendar.Date(2026, time.December, 30))
	fmt.Println(err)
	// Output:
	// data lists due  Wed 23 Dec 2026
	// Annex A due     Tue 29 Dec 2026
	// fieldwork       Thu 31 Dec 2026
	// fieldwork ends  Mon 4 Jan 2027
	// draft letter    Mon 18 Jan 2027
	// publication     Mon 15 Feb 2027
	// collecting
	// fieldwork must start at least 5 working days after the notification date, so that the team has days 3 to 6 off site first: for a notification on Tuesday 22 December 2026 the earliest start is Thursday 31 December 2026
}
