package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
)

// scanning measures plain uploads with malware scanning off (as the rest
// of the bench runs) and on, against a real clamd with the test signature
// database (BENCH_CASES=scan). The portal is restarted between the two, on
// the same database; the runs alternate. The bytes are random, the slowest
// kind for clamd to scan, and clamd receives the whole stream before it
// scans it: the upload's answer waits for the verdict, so the rate with
// scanning on is the scanner's pace.
func (b *bench) scanning(ctx context.Context) (row, error) {
	c, err := devstack.StartClamd(ctx, devstack.ClamdOptions{Dir: filepath.Join(b.st.dir, "clamd"), InMemory: true})
	if err != nil {
		return row{}, err
	}
	defer c.Close()
	defer b.st.restartPortal(ctx, nil)
	name := 0
	run := func(scan bool) func(int) (float64, error) {
		env, want := []string{"PORTAL_SCAN=off"}, "unscanned"
		if scan {
			env, want = []string{"PORTAL_SCAN=required", "PORTAL_CLAMD_ADDR=" + c.Addr}, "clean"
		}
		return func(int) (float64, error) {
			if err := b.st.restartPortal(ctx, env); err != nil {
				return 0, err
			}
			name++
			t := time.Now()
			got, err := b.scannedUpload(fmt.Sprintf("scan-%d.bin", name))
			if err == nil && got != want {
				err = fmt.Errorf("upload with %v: scan %q, want %q", env, got, want)
			}
			return mbps(b.size, time.Since(t)), err
		}
	}
	x, y, err := b.ab(run(false), run(true))
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

// restartPortal stops the portal process and starts it again with extra
// configuration over the stack's.
func (s *benchStack) restartPortal(ctx context.Context, extra []string) error {
	if s.portal != nil && s.portal.Process != nil {
		s.portal.Process.Signal(syscall.SIGTERM)
		s.portal.Wait()
	}
	env := s.env
	s.env = append(append([]string(nil), s.env...), extra...)
	defer func() { s.env = env }()
	return s.startPortal(ctx)
}
