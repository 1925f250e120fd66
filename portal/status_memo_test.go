package portal

import (
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/timeline"
)

// TestTimelineMemoAnswersAsCompute: the memo gives what timeline.Compute
// gives for every pair of dates, the refusals included, whatever the time
// of day or zone the dates come with, and holds no more than maxTimelines
// pairs.
func TestTimelineMemoAnswersAsCompute(t *testing.T) {
	cal, err := calendar.New()
	if err != nil {
		t.Fatal(err)
	}
	var tm timelineMemo
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for round := range 2 { // the second round answers from the memo
		for d := 0; d < 120; d++ {
			nd := calendar.Date(2026, time.November, 20).AddDate(0, 0, d)
			for gap := 3; gap <= 17; gap += 2 {
				fs := nd.AddDate(0, 0, gap)
				asked := fs
				if round == 1 {
					asked = time.Date(fs.Year(), fs.Month(), fs.Day(), 9, 30, 0, 0, london)
				}
				want, wantErr := timeline.Compute(cal, nd, fs)
				got, gotErr, _ := tm.compute(cal, nd, asked)
				if (got == nil) != (wantErr != nil) || got != nil && *got != want || (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
					t.Fatalf("round %d, %s to %s: memo %+v, %v; Compute %+v, %v", round, nd.Format(time.DateOnly), fs.Format(time.DateOnly), got, gotErr, want, wantErr)
				}
				n++
			}
		}
	}
	if n < 1000 || len(tm.m) > 120*8 {
		t.Fatalf("%d asked, memo holds %d", n, len(tm.m))
	}
	for i := range maxTimelines + 10 {
		nd := calendar.Date(2000, time.January, 3).AddDate(0, 0, i)
		tm.compute(cal, nd, nd.AddDate(0, 0, 9))
	}
	if len(tm.m) > maxTimelines {
		t.Fatalf("memo holds %d pairs, want at most %d", len(tm.m), maxTimelines)
	}
}
