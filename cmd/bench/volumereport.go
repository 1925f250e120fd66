package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/ofsted-portal/evidence/deploy/pgserver"
)

// volume runs the volume cases on SQLite and on PostgreSQL and returns the
// latency table, the growth rows they give, and whether a target was
// missed.
func (b *bench) volume(ctx context.Context) (string, []growthRow, bool, error) {
	fmt.Println("Volume: seeding a year of visits and timing every page, on SQLite...")
	lite, lv, err := volumeOn(ctx, "", "")
	if err != nil {
		return "", nil, false, fmt.Errorf("volume on SQLite: %w", err)
	}
	fmt.Println("Volume: the same on PostgreSQL...")
	dir, err := os.MkdirTemp("", "portal-bench-pg-")
	if err != nil {
		return "", nil, false, err
	}
	defer os.RemoveAll(dir)
	pg, err := pgserver.Start(ctx, pgserver.Options{Dir: dir, Fast: os.Getenv("BENCH_PG_FAST") != ""})
	if err != nil {
		return "", nil, false, err
	}
	defer pg.Stop()
	baseURL, err := pg.CreateDatabase(ctx, "portal_base")
	if err != nil {
		return "", nil, false, err
	}
	post, pv, err := volumeOn(ctx, baseURL, pg.URL)
	if err != nil {
		return "", nil, false, fmt.Errorf("volume on PostgreSQL: %w", err)
	}
	var s strings.Builder
	phases := volumePhases()
	fmt.Fprintf(&s, "Latency at volume (%s), against the same requests on a second stack holding the measured visit alone (%s), the two timed in alternation; p50 / p99 in ms, ratio of the p50s; targets p50 < 50 ms, p99 < 200 ms, ratio ≤ 1.5:\n\n",
		phases[2].plan, phases[0].plan)
	s.WriteString("| request | SQLite empty | SQLite volume | ratio | PostgreSQL empty | PostgreSQL volume | ratio | result |\n|---|---|---|---|---|---|---|---|\n")
	failed := lv.missed || pv.missed
	for i, r := range volumeRoutes {
		le, lvol, pe, pvol := lite["empty"][i], lite["volume"][i], post["empty"][i], post["volume"][i]
		if le.na || lvol.na {
			fmt.Fprintf(&s, "| %s | n/a (not in this build) | | | | | | n/a |\n", r.name)
			continue
		}
		ok := true
		cell := func(l latency) string { return fmt.Sprintf("%.1f / %.1f", l.p50, l.p99) }
		ratio := func(e, v latency) float64 {
			ok = ok && v.p50 < 50 && v.p99 < 200 && v.p50/e.p50 <= 1.5
			return v.p50 / e.p50
		}
		lr, pr := ratio(le, lvol), ratio(pe, pvol)
		failed = failed || !ok
		fmt.Fprintf(&s, "| %s | %s | %s | %.2f | %s | %s | %.2f | %s |\n", r.name, cell(le), cell(lvol), lr, cell(pe), cell(pvol), pr, map[bool]string{true: "PASS", false: "FAIL"}[ok])
	}
	// The host's speed in each round: the ratios hold whatever it was,
	// as each route's requests alternate between the two stacks, but the
	// absolute times are the host's as much as the portal's.
	s.WriteString("\nMachine check (ms of fixed CPU work, around each round's timings: a tenth, the volume):\n\n")
	for _, db := range []struct {
		name string
		v    *volumeRun
	}{{"SQLite", lv}, {"PostgreSQL", pv}} {
		fmt.Fprintf(&s, "- %s: %.0f, %.0f\n", db.name, db.v.checks[0], db.v.checks[1])
	}
	s.WriteString("\nSeeding (SQLite):\n\n")
	for _, l := range lv.seedTimes {
		s.WriteString("- " + l + "\n")
	}
	s.WriteString("\nSeeding (PostgreSQL):\n\n")
	for _, l := range pv.seedTimes {
		s.WriteString("- " + l + "\n")
	}
	// The growth rows: a tenth of the volume against the volume.
	var rows []growthRow
	for _, db := range []struct {
		name string
		res  map[string][]latency
	}{{"SQLite", lite}, {"PostgreSQL", post}} {
		for i, r := range volumeRoutes {
			var what string
			switch {
			case strings.HasPrefix(r.name, "visit list"):
				what = fmt.Sprintf("%d → %d visits", phases[1].plan.visits, phases[2].plan.visits)
			case r.name == "visit page" || strings.HasPrefix(r.name, "file list") || r.name == "search by name":
				what = fmt.Sprintf("%d → %d files in the visit", phases[1].plan.bigFiles, phases[2].plan.bigFiles)
			default:
				continue
			}
			a, z := db.res["tenth"][i], db.res["volume"][i]
			if a.na || z.na {
				continue
			}
			rows = append(rows, growthRow{name: fmt.Sprintf("%s, %s (%s)", r.name, what, db.name), t1: a.p50, t10: z.p50, m1: a.peakRSS, m10: z.peakRSS, unit: "ms"})
		}
	}
	return strings.TrimRight(s.String(), "\n"), rows, failed, nil
}
