package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Growth: how time and memory grow from 1× to 10× the work. Ten times the
// work may take up to ten times as long (a transfer of ten times the
// bytes); a request whose work should not grow at all (a page of a list)
// shows up in the latency table's ratio instead. A factor over 12 (10×,
// with a fifth for the noise of a shared machine) is flagged super-linear.
const superLinear = 12.0

type growthRow struct {
	name    string
	unit    string
	t1, t10 float64 // time at 1× and 10×
	m1, m10 float64 // the portal's peak RSS (MiB) at 1× and 10×
}

// growthSizes uploads and downloads a file of 64 MiB and one of 640 MiB.
func (b *bench) growthSizes(ctx context.Context) ([]growthRow, error) {
	fmt.Println("Growth: upload and download of 64 MiB and 640 MiB...")
	up, down := growthRow{name: "upload, 64 → 640 MiB", unit: "s"}, growthRow{name: "download, 64 → 640 MiB", unit: "s"}
	for k, size := range []int64{64 << 20, 640 << 20} {
		if err := b.st.resetPeakRSS(); err != nil {
			return nil, err
		}
		t := time.Now()
		id, err := b.portalUpload(b.visitID, fmt.Sprintf("growth-%d.bin", size>>20), size)
		if err != nil {
			return nil, err
		}
		ut := time.Since(t).Seconds()
		um, err := b.st.peakRSS()
		if err != nil {
			return nil, err
		}
		if err := b.st.resetPeakRSS(); err != nil {
			return nil, err
		}
		t = time.Now()
		last, lastSize := b.lastFile, b.size
		b.lastFile, b.size = id, size
		err = b.portalDownload()
		b.lastFile, b.size = last, lastSize
		if err != nil {
			return nil, err
		}
		dt := time.Since(t).Seconds()
		dm, err := b.st.peakRSS()
		if err != nil {
			return nil, err
		}
		if k == 0 {
			up.t1, up.m1, down.t1, down.m1 = ut, float64(um)/(1<<20), dt, float64(dm)/(1<<20)
		} else {
			up.t10, up.m10, down.t10, down.m10 = ut, float64(um)/(1<<20), dt, float64(dm)/(1<<20)
		}
	}
	return []growthRow{up, down}, nil
}

// formatGrowth prints the rows and reports whether one grew super-linearly.
func formatGrowth(rows []growthRow) (string, bool) {
	var s strings.Builder
	fmt.Fprintf(&s, "Cost from 1× to 10× the work (time, and the portal's peak RSS); over %.0f× is super-linear:\n\n", superLinear)
	s.WriteString("| case | time 1× | time 10× | time factor | peak RSS 1× | peak RSS 10× | memory factor | result |\n|---|---|---|---|---|---|---|---|\n")
	failed := false
	for _, r := range rows {
		tf, mf := r.t10/r.t1, r.m10/r.m1
		res := "PASS"
		if tf > superLinear || mf > superLinear {
			res, failed = "FAIL (super-linear)", true
		}
		fmt.Fprintf(&s, "| %s | %.2f %s | %.2f %s | %.1f | %.0f MiB | %.0f MiB | %.2f | %s |\n", r.name, r.t1, r.unit, r.t10, r.unit, tf, r.m1, r.m10, mf, res)
	}
	return strings.TrimRight(s.String(), "\n"), failed
}
