// Command bench measures the portal side by side with the raw object store
// in the same run (make bench): it starts its own MinIO, dev identity
// provider and portal process, runs each case as raw baseline and portal
// alternately, and prints (and writes to bench/results.md) medians, ratios
// and PASS/FAIL against the targets. It exits 1 when a target is missed.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Println("Usage: bench (no arguments; run by make bench)\n\nEnvironment: BENCH_PAIRS (3), BENCH_SIZE_MIB (1024), BENCH_CASES (all; e.g. volume,growth),\nBENCH_SCALE (1: the volume of 1,000 visits), BENCH_SEED (2026), BENCH_LATENCY_N (200), BENCH_PG_FAST,\nBENCH_PROFILE (CPU profiles of the portal into bench/: the small-file and download cases, and each route at volume),\nBENCH_PROFILE_SECONDS (each profile's window: 2 s for a case's first run, 3 s for a route, by default).")
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed, err := run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}
