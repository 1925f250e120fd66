package timeline

import (
	"testing"
	"time"
)

func TestPhase(t *testing.T) {
	tl, err := Compute(newCalendar(t), date(t, "2026-11-03"), date(t, "2026-11-10"))
	if err != nil {
		t.Fatal(err)
	}
	west := time.FixedZone("UTC-5", -5*60*60)
	for _, tc := range []struct {
		name  string
		today time.Time
		want  string
	}{
		{"long before", date(t, "2026-01-01"), Preparing},
		{"day 1", date(t, "2026-11-02"), Preparing},
		{"day 1 late evening", time.Date(2026, 11, 2, 23, 59, 0, 0, time.UTC), Preparing},
		{"the notification day", date(t, "2026-11-03"), Collecting},
		{"day 6", date(t, "2026-11-09"), Collecting},
		{"the weekend before fieldwork", date(t, "2026-11-08"), Collecting},
		{"the first fieldwork day", date(t, "2026-11-10"), Fieldwork},
		{"the last fieldwork day", date(t, "2026-11-11"), Fieldwork},
		{"the last fieldwork day, afternoon", time.Date(2026, 11, 11, 15, 0, 0, 0, time.UTC), Fieldwork},
		{"the last fieldwork day, evening west of UTC", time.Date(2026, 11, 11, 22, 0, 0, 0, west), Fieldwork},
		{"the day after fieldwork", date(t, "2026-11-12"), Reporting},
		{"after publication is expected", date(t, "2027-06-01"), Reporting},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tl.Phase(tc.today); got != tc.want {
				t.Fatalf("Phase(%s) = %s, want %s", tc.today, got, tc.want)
			}
		})
	}
}
