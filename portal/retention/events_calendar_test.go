package retention

import (
	"errors"
	"strings"
	"testing"

	"github.com/ofsted-portal/evidence/portal/calendar"
)

// TestCheckRefusesAComplaintWindowBeyondTheCalendar: the provider's five
// working days to complain are counted with the bank holiday calendar; in a
// year it does not vouch for, a holiday announced for it (a jubilee, a state
// funeral) would count as a working day, so a complaint made in time would
// be refused and publication (and so destruction) allowed a day early. The
// final letter whose window runs into such a year is refused; where one was
// recorded before, publication is refused and a complaint is taken whatever
// its date (it only keeps the evidence); a window inside the calendar's
// years is decided as ever. Before, the window was counted from the
// standing rules alone and decided both.
func TestCheckRefusesAComplaintWindowBeyondTheCalendar(t *testing.T) {
	cal, err := calendar.New()
	if err != nil {
		t.Fatal(err)
	}
	y := calendar.LastCovered
	end := calendar.Date(y, 12, 4)
	ev := func(e string, m, d int) Event {
		return Event{Event: e, Date: calendar.Date(y, 12, 0).AddDate(0, 0, d).AddDate(0, m, 0)}
	}
	draft := ev(DraftSent, 0, 14)
	late := ev(FinalSent, 0, 27) // its fifth working day is in the next year
	for _, tc := range []struct {
		name    string
		history []Event
		next    Event
		ok      bool
	}{
		{"final letter whose window ends in the year", []Event{draft}, ev(FinalSent, 0, 17), true},
		{"final letter whose window ends after it", []Event{draft}, late, false},
		{"publication after a window beyond it", []Event{draft, late}, ev(Published, 1, 20), false},
		{"complaint after a window beyond it", []Event{draft, late}, ev(ComplaintReceived, 1, 10), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(cal, tc.history, tc.next, end)
			if (err == nil) != tc.ok {
				t.Fatalf("%s on %s: Check = %v, want ok=%v", tc.next.Event, tc.next.Date.Format("2006-01-02"), err, tc.ok)
			}
			var oo *ErrOutOfOrder
			if err != nil && (!errors.As(err, &oo) || !strings.Contains(err.Error(), "bank holiday calendar")) {
				t.Fatalf("refused without saying why: %v", err)
			}
		})
	}
}
