package portal_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/policy"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
)

// crashingClamd is a scanner that dies (answers nothing, PING included,
// until started again: down set false) on a stream holding "CRASH", as
// clamd does on a file that trips a parser bug or exhausts its memory;
// other streams are clean.
func crashingClamd(t *testing.T, down *atomic.Bool) string {
	t.Helper()
	return portal.FakeClamd(t, func(conn net.Conn) {
		if down.Load() {
			return
		}
		r := bufio.NewReader(conn)
		cmd, err := r.ReadString(0)
		if err != nil {
			return
		}
		if strings.HasPrefix(cmd, "zPING") {
			conn.Write([]byte("PONG\x00"))
			return
		}
		var body bytes.Buffer
		if portal.ReadInstream(r, &body) != nil {
			return
		}
		if bytes.Contains(body.Bytes(), []byte("CRASH")) {
			down.Store(true)
			return
		}
		conn.Write([]byte("stream: OK\x00"))
	})
}

// TestAFileThatCrashesTheScannerHoldsBackNoOther: a file whose scan kills
// clamd is tried again only after a back-off, like one clamd refuses, so
// the files after it are scanned once clamd is back. Before, each round
// began again at the first waiting file: the same file killed clamd again
// at every restart, and every file after it waited for good.
func TestAFileThatCrashesTheScannerHoldsBackNoOther(t *testing.T) {
	var down atomic.Bool
	d := startDomainWith(t, func(o *devstack.Options) {
		o.Env = map[string]string{"PORTAL_CLAMD_ADDR": crashingClamd(t, &down)}
	})
	ctx := context.Background()
	v, _ := d.openDemo()
	up := d.mustAccess(d.person("cafcass", "uploader@cafcass.example"), policy.FileUpload)
	down.Store(true) // uploads wait for the scanner
	crash, err := up.Upload(ctx, portal.NewFile{Name: "1.01 Crash.pdf", Size: 5}, strings.NewReader("CRASH"))
	if err != nil || crash.Scan != store.ScanScanning {
		t.Fatalf("upload while the scanner is down: %+v %v", crash, err)
	}
	// A clean file sorting after it: each round takes the waiting files
	// in the order of their ids. Each try has a name of its own: ids are
	// random, and one near the top of their range may take hundreds of
	// tries, past the renames a name allows.
	var clean portal.FileView
	for i := 0; clean.ID <= crash.ID; i++ {
		if clean, err = up.Upload(ctx, portal.NewFile{Name: fmt.Sprintf("1.01 Clean %d.pdf", i), Size: 5}, strings.NewReader("clean")); err != nil {
			t.Fatal(err)
		}
	}
	const restarts = 5
	for range restarts {
		down.Store(false) // clamd started again
		d.svc.ScanWaiting(ctx)
	}
	f, err := d.svc.Store().File(ctx, v.ID, clean.ID)
	if err != nil {
		t.Fatal(err)
	}
	if f.Scan != store.ScanClean {
		t.Errorf("after %d restarts of a scanner a file before it crashes, the clean file is %q: want it scanned clean", restarts, f.Scan)
	}
}
