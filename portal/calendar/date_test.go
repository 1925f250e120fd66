package calendar

import (
	"strings"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     time.Time // zero: an error is expected
	}{
		{"ordinary", "2026-11-03", Date(2026, time.November, 3)},
		{"leap day", "2024-02-29", Date(2024, time.February, 29)},
		{"first covered day", "2018-01-01", Date(2018, time.January, 1)},
		{"year zero padded", "0999-12-31", Date(999, time.December, 31)},
		{"not a leap year", "2026-02-29", time.Time{}},
		{"30 February", "2026-02-30", time.Time{}},
		{"month 13", "2026-13-01", time.Time{}},
		{"day zero", "2026-01-00", time.Time{}},
		{"single-digit month", "2026-1-03", time.Time{}},
		{"single-digit day", "2026-01-3", time.Time{}},
		{"two-digit year", "26-01-03", time.Time{}},
		{"five-digit year", "20260-01-03", time.Time{}},
		{"UK order", "03/11/2026", time.Time{}},
		{"slashes", "2026/11/03", time.Time{}},
		{"with a time", "2026-11-03T09:00:00Z", time.Time{}},
		{"leading space", " 2026-11-03", time.Time{}},
		{"trailing newline", "2026-11-03\n", time.Time{}},
		{"signed year", "+2026-11-03", time.Time{}},
		{"empty", "", time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDate(tc.in)
			if tc.want.IsZero() {
				if err == nil {
					t.Fatalf("ParseDate(%q) = %s, want an error", tc.in, got)
				}
				if !strings.Contains(err.Error(), "YYYY-MM-DD") {
					t.Fatalf("error %q does not say the expected form", err)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Fatalf("ParseDate(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestDateIsMidnightUTC(t *testing.T) {
	d := Date(2026, time.December, 32)
	if want := time.Date(2027, time.January, 1, 0, 0, 0, 0, time.UTC); !d.Equal(want) || d.Location() != time.UTC {
		t.Fatalf("Date(2026, 12, 32) = %s, want %s", d, want)
	}
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2026-11-22", "2026-2-3", "2026-02-30", "", "99999-01-01", "2026-11-22T00:00:00Z", "0000-01-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(s)
		if err != nil {
			return
		}
		if d.Format(time.DateOnly) != s {
			t.Fatalf("ParseDate(%q) = %s: does not print back the same", s, d)
		}
		if !d.Equal(civil(d)) || d.Location() != time.UTC {
			t.Fatalf("ParseDate(%q) = %s: not midnight UTC", s, d)
		}
	})
}
