package web_test

import (
	"context"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkVisitList times GET /visits, the page a person sees first, as
// the administrator and as a lead inspector, with one visit on the page
// (the demo visit) and then with a full page of fifty: what a row costs
// is the difference over 49. make bench times the same request at volume
// against a near-empty portal and wants the two within 1.5×.
func BenchmarkVisitList(b *testing.B) {
	ctx := context.Background()
	ts := startStackSetup(b, nil)
	admin := ts.signIn(b, "ofsted", "admin@ofsted.example")
	lead := ts.signIn(b, "ofsted", "lead@ofsted.example")
	var leadID string
	if err := ts.Portal.Store().DB().QueryRow(`SELECT id FROM users WHERE email = ?`, "lead@ofsted.example").Scan(&leadID); err != nil {
		b.Fatal(err)
	}
	run := func(name string, who *browser, want int) {
		b.Run(name, func(b *testing.B) {
			who.t = b
			rows := 0
			start := processCPU()
			for b.Loop() {
				resp := who.get("/visits")
				page := readAll(b, resp)
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("GET /visits: %d", resp.StatusCode)
				}
				rows = strings.Count(page, `<tr class="govuk-table__row">`) - 1 // the head's
			}
			// The process's CPU time (the portal's and the client's, with
			// the collector's) is steadier than ns/op on a shared host.
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
			if rows != want {
				b.Fatalf("%d visits on the page, want %d", rows, want)
			}
		})
	}
	run("administrator/visits=1", admin, 1)
	run("member/visits=1", lead, 1)
	if _, err := ts.Portal.SeedVisits(ctx, 49, "FV-BENCH", leadID); err != nil {
		b.Fatal(err)
	}
	run("administrator/visits=50", admin, 50)
	run("member/visits=50", lead, 50)
}

// processCPU is the CPU time this process has used, in user and system
// mode.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
