package portal

import (
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/calendar"
)

// TestMemberDatesAreLondonDays: a member's access dates given as plain
// dates (the members page's date inputs) start and end at midnight in
// London, as the default windows do, in summer as in winter: read as
// midnight UTC, access closed at 01:00 in British Summer Time, and the
// mail's "last day" moved with the season.
func TestMemberDatesAreLondonDays(t *testing.T) {
	for _, date := range []string{"2026-09-30", "2026-12-01", "2027-03-28", "2027-10-31"} {
		got, err := parseWhen(date)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := calendar.ParseDate(date)
		if want := calendar.StartOfDay(d); !got.Equal(want) {
			t.Errorf("%s: access changes at %s, want midnight in London (%s)", date, got.In(calendar.London).Format(time.RFC3339), want.Format(time.RFC3339))
		}
		if last := lastDay(got); !last.Equal(calendar.Today(d.AddDate(0, 0, -1))) {
			t.Errorf("until %s: the last day inside is %s, want the day before", date, last.Format(time.DateOnly))
		}
	}
	if got, err := parseWhen("2026-09-30T12:00:00Z"); err != nil || !got.Equal(time.Date(2026, 9, 30, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("an exact time: %s (%v)", got, err)
	}
}
