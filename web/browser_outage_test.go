package web_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBrowserUploadOutlastsAnOutage runs web/tests/outage.mjs in Chromium
// against a real stack: the connection drops after the first segment of a
// 129 MiB upload is committed, until tus-js-client's own retries have run
// out (69 s); the upload waits, says so, and when the connection is back
// goes on from where it stopped and completes with the file's SHA-256. A
// page reloaded in the middle of another upload lists that file as
// unfinished until it is chosen again. Screenshots go to test-artifacts/browser-outage.
func TestBrowserUploadOutlastsAnOutage(t *testing.T) {
	onceAcrossDatabases(t)
	browserTools(t)
	waitsMostly(t)
	ts := startStack(t)
	v := ts.demoVisit(t)

	seg := ts.Config.SegmentSize
	size := 4*seg + 1<<20
	big := filepath.Join(t.TempDir(), "2.01 Case records export.zip")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), newEvidence(7, size)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// A second file, to reload the page in the middle of.
	second := filepath.Join(filepath.Dir(big), "3.01 Practice audit.zip")
	g, err := os.Create(second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(g, newEvidence(8, 3*seg+1<<20)); err != nil {
		t.Fatal(err)
	}
	g.Close()

	out, err := runBrowserScript(t, ts, "outage.mjs", "browser-outage", 6*time.Minute,
		"VISIT_ID="+v.ID, "BIG_FILE="+big, "BIG_SIZE="+strconv.FormatInt(size, 10),
		"SECOND_FILE="+second, "SECOND_NAME="+filepath.Base(second),
		"SEGMENT_SIZE="+strconv.FormatInt(seg, 10))
	t.Logf("outage.mjs output:\n%s", out)
	if err != nil {
		t.Fatalf("browser script failed: %v", err)
	}
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	found := false
	for _, g := range decode[struct {
		Files []fileResp `json:"files"`
	}](t, uploader.get("/api/v1/visits/"+v.ID+"/files"), http.StatusOK).Files {
		if g.Name == "2.01 Case records export.zip" {
			found = g.Size == size && g.SHA256 == hex.EncodeToString(h.Sum(nil))
		}
	}
	if !found {
		t.Fatal("the file uploaded through the outage is not stored with its SHA-256")
	}
}

// TestBrowserBatchOutlastsIdleTimeout runs web/tests/unattended.mjs in
// Chromium against a stack whose sessions end after 30 idle seconds: a
// batch of 60 files sent over a slow connection runs for 75 seconds with
// nobody at the computer; the page stays open and signed in, and every
// file is uploaded. Left idle after it, the page signs out within the idle
// timeout: counting down from the batch's requests moves nothing on the
// server. Screenshots go to
// test-artifacts/browser-unattended.
func TestBrowserBatchOutlastsIdleTimeout(t *testing.T) {
	onceAcrossDatabases(t)
	browserTools(t)
	waitsMostly(t)
	// A short idle timeout, left to run for two and a half times as long:
	// the uploads' requests move the session's deadline on every tenth of
	// it (store.SessionStore.Touch).
	ts := startStackWith(t, map[string]string{"PORTAL_SESSION_IDLE_TIMEOUT": "30s"})
	v := ts.demoVisit(t)
	const files = 60
	out, err := runBrowserScript(t, ts, "unattended.mjs", "browser-unattended", 5*time.Minute,
		"VISIT_ID="+v.ID, "FILES="+strconv.Itoa(files), "RUN_MS=75000", "IDLE_MS=30000")
	t.Logf("unattended.mjs output:\n%s", out)
	if err != nil {
		t.Fatalf("browser script failed: %v", err)
	}
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	n := 0
	for _, g := range decode[struct {
		Files []fileResp `json:"files"`
	}](t, uploader.get("/api/v1/visits/"+v.ID+"/files"), http.StatusOK).Files {
		if strings.HasPrefix(g.Name, "Case note ") {
			n++
		}
	}
	if n != files {
		t.Fatalf("%d files of the batch stored, want %d", n, files)
	}
}
