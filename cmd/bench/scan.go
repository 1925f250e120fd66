package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
)

// scanning measures plain uploads with malware scanning off (the bench's
// own stack, as every other case runs) and on (a second stack whose
// portal scans with a real clamd and the test signature database),
// alternately (BENCH_CASES=scan). The second stack holds only files it
// scanned, so its worker has nothing to scan again while it is measured.
// The bytes are random, the slowest kind for clamd, and clamd receives a
// whole stream before it scans it: the upload's answer waits for the
// verdict, so the rate with scanning on is the scanner's pace.
func (b *bench) scanning(ctx context.Context) (row, error) {
	c, err := devstack.StartClamd(ctx, devstack.ClamdOptions{Dir: filepath.Join(b.st.dir, "clamd"), InMemory: true})
	if err != nil {
		return row{}, err
	}
	defer c.Close()
	fmt.Println("Starting a second stack whose portal scans uploads with clamd...")
	st, err := startStack(ctx, "", "PORTAL_SCAN=required", "PORTAL_CLAMD_ADDR="+c.Addr)
	if st != nil {
		defer st.close()
	}
	if err != nil {
		return row{}, err
	}
	on := &bench{st: st, pairs: b.pairs, size: b.size}
	if err := on.setUp(ctx); err != nil {
		return row{}, err
	}
	run := func(b *bench, want string) func(int) (float64, error) {
		return func(i int) (float64, error) {
			t := time.Now()
			got, err := b.scannedUpload(fmt.Sprintf("scan-%d.bin", i))
			if err == nil && got != want {
				err = fmt.Errorf("upload: scan %q, want %q", got, want)
			}
			return mbps(b.size, time.Since(t)), err
		}
	}
	x, y, err := b.ab(run(b, "unscanned"), run(on, "clean"))
	return row{name: fmt.Sprintf("upload %d MiB, scanning off → on (clamd)", b.size>>20), unit: "MB/s", baseline: x, portal: y, ratio: y / x, target: "reported"}, err
}

// scannedUpload uploads b.size bytes and returns the file's scan status.
func (b *bench) scannedUpload(name string) (string, error) {
	req, _ := http.NewRequest("POST", b.st.portalURL+"/api/v1/visits/"+b.visitID+"/files?name="+url.QueryEscape(name), newCycle(b.size))
	req.ContentLength = b.size
	resp, err := b.uploader.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 {
		return "", fmt.Errorf("upload: %d %s", resp.StatusCode, body)
	}
	var f struct{ Scan string }
	err = json.Unmarshal(body, &f)
	return f.Scan, err
}
