package portal

import (
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestMemberDatesAreLondonDays: a member's access dates given as plain
// dates (the members page's date inputs) are read at midnight in London
// (parseWhen; an end date is the last day, TestMemberAccessUntilADateLastsThatDay), as the default windows do, in summer as in winter: read as
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

// TestMemberAccessUntilADateLastsThatDay: an administrator who gives a
// member access until a date (the members page's "Access until", or a
// plain date for valid_until) gives them that whole day in London, to
// 23:59:59, in winter and in summer and on the days the clocks change; a
// date for valid_from still opens access as that day begins. Before, access
// closed as the day began, so a member "until 30 September" had none on 30
// September.
func TestMemberAccessUntilADateLastsThatDay(t *testing.T) {
	s := &Service{cfg: Config{IdPs: []IdPConfig{{Name: "cafcass", Issuer: "https://idp.example/cafcass", Organisation: OrgProvider}}}}
	for _, date := range []string{"2026-09-30", "2026-12-01", "2027-03-28", "2027-10-31", "2028-02-29"} {
		t.Run(date, func(t *testing.T) {
			d, _ := calendar.ParseDate(date)
			m, err := s.parseMember(MemberRequest{Email: "c@cafcass.example", Role: "provider_coordinator", ValidFrom: "2026-01-05", ValidUntil: date}, "v")
			if err != nil {
				t.Fatal(err)
			}
			w := Window{From: m.ValidFrom, Until: m.ValidUntil}
			y, mo, day := d.Date()
			last := time.Date(y, mo, day, 23, 59, 59, 0, calendar.London)
			if !w.Contains(last) {
				t.Errorf("access until %s: closed at %s, before 23:59:59 that day in London (%s)", date,
					w.Until.In(calendar.London).Format(time.RFC3339), last.Format(time.RFC3339))
			}
			if next := calendar.StartOfDay(d.AddDate(0, 0, 1)); w.Contains(next) {
				t.Errorf("access until %s: still open at %s, the next day in London", date, next.Format(time.RFC3339))
			}
			if got := lastDay(w.Until); !got.Equal(d) {
				t.Errorf("access until %s: the last day the mail names is %s", date, got.Format(time.DateOnly))
			}
			if from := calendar.StartOfDay(calendar.Date(2026, 1, 5)); !m.ValidFrom.Equal(from) {
				t.Errorf("access from 2026-01-05 opens at %s, want %s", m.ValidFrom.Format(time.RFC3339), from.Format(time.RFC3339))
			}
		})
	}
}

// TestAccessEndNamesTheLastDay: a window that ends as a day begins in
// London (a date an administrator set, or a role's default) is told as the
// end of the day before, the last day of access, and a window that ends at
// another time as that time. Before, a member given access until 30
// September was told it ends "on Thursday 1 October 2026 at 00:00: the date
// the portal administrator set for you".
func TestAccessEndNamesTheLastDay(t *testing.T) {
	until, err := parseUntil("2026-09-30")
	if err != nil {
		t.Fatal(err)
	}
	m := store.Member{Role: policy.RoleProviderCoordinator, ValidUntil: until}
	acc := &Access{Member: m, Window: Window{From: calendar.StartOfDay(calendar.Date(2026, 9, 1)), Until: until}}
	if got, want := acc.AccessEnd(), "Your access ends at the end of Wednesday 30 September 2026: the date the portal administrator set for you."; got != want {
		t.Errorf("access end:\n got %q\nwant %q", got, want)
	}
	if got, want := windowMessage(acc.Window, until.Add(time.Hour)), "Your access to this visit closed at the end of Wednesday 30 September 2026."; !strings.HasPrefix(got, want) {
		t.Errorf("window closed:\n got %q\nwant %q…", got, want)
	}
	at := time.Date(2026, 9, 30, 12, 30, 0, 0, calendar.London)
	acc.Window.Until, acc.Member.ValidUntil = at, at
	if got, want := acc.AccessEnd(), "Your access ends on Wednesday 30 September 2026 at 12:30: the date the portal administrator set for you."; got != want {
		t.Errorf("access end at a time:\n got %q\nwant %q", got, want)
	}
	// A date set past the role's end is not what ends it: the role's
	// rule is (TestEndDateNarrowsTheRolesWindow), and the reason says so.
	inspector := &Access{Member: store.Member{Role: policy.RoleInspector, ValidUntil: until.AddDate(0, 3, 0)},
		Window: Window{From: acc.Window.From, Until: until}}
	if got, want := inspector.AccessEnd(), "Your access ends at the end of Wednesday 30 September 2026: inspectors and analysts have access until the day the letter of findings is published."; got != want {
		t.Errorf("access end of an inspector given a date past publication:\n got %q\nwant %q", got, want)
	}
}
