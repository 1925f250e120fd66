package web_test

import (
	"archive/zip"
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/deploy/pgserver"
)

// browserTools returns the repository root and Chromium, or skips the test
// when node, Chromium or the built front end is missing (fails instead under
// PORTAL_REQUIRE_INTEGRATION).
func browserTools(t *testing.T) (root, chromium string) {
	t.Helper()
	chromium = os.Getenv("PORTAL_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	root, _ = filepath.Abs("..")
	_, errNode := exec.LookPath("node")
	_, errChrome := os.Stat(chromium)
	_, errPW := os.Stat(filepath.Join(root, "web", "node_modules", "playwright-core"))
	_, errAssets := os.Stat(filepath.Join(root, "web", "static", "vendor", "VERSIONS"))
	for _, err := range []error{errNode, errChrome, errPW, errAssets} {
		if err != nil {
			if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
				t.Fatalf("browser tests need node, %s and the built front end (make browser-deps): %v", chromium, err)
			}
			t.Skipf("skipping browser test: %v", err)
		}
	}
	return root, chromium
}

// onceAcrossDatabases skips a browser journey on the PostgreSQL pass of
// make test. What a journey drives above the store is the same on both
// databases; the store's part is in the store and HTTP suites, which run on
// both, and the whole visit (TestBrowserJourney) runs on both as well.
// The other journeys run once, keeping make test near 20 minutes.
func onceAcrossDatabases(t *testing.T) {
	t.Helper()
	if pgserver.TestDatabaseWanted() {
		t.Skip("runs on the SQLite pass; the whole-visit journey covers the browser on PostgreSQL")
	}
}

// waitsMostly marks a test that spends most of its time waiting (an
// outage, a slow connection left to run): it runs alongside the other such
// tests, once the package's other tests are done, each with a stack of its
// own. A test that changes anything of the process's (t.Setenv) must not
// use it.
func waitsMostly(t *testing.T) {
	t.Helper()
	t.Parallel()
}

// TestBrowserJourney runs web/tests/journey.mjs in Debian's Chromium
// (playwright-core) against a real stack: the uploader drags three files in
// and a folder, and sees progress and item 1.01 received; a 200 MiB upload
// is paused and resumed, and survives a page reload and a restart of the
// portal, without re-sending committed segments;
// the lead inspector downloads a zip whose manifest matches its files; axe
// finds no WCAG 2.2 AA violation on any page. Screenshots go to
// test-artifacts/browser.
func TestBrowserJourney(t *testing.T) {
	browserTools(t)
	ts := startStack(t)
	v := ts.demoVisit(t)

	// The 200 MiB file the browser uploads, and its hash.
	dir := t.TempDir()
	const bigSize = 200 << 20
	big := filepath.Join(dir, "2.01 Case records export.zip")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	src := newEvidence(3, bigSize)
	if _, err := io.Copy(f, src); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// A folder with a sub-folder, chosen whole in the browser.
	folder := filepath.Join(dir, "Annex A part 3")
	if err := os.MkdirAll(filepath.Join(folder, "Team plans"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"3.01 Practice guidance.pdf": "guidance", "Team plans/3.02 Team plan.pdf": "plan"} {
		if err := os.WriteFile(filepath.Join(folder, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The journey asks for the portal to be restarted (killed mid-upload).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	restarts := 0
	ctl := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/clock" {
			// Move the portal's clock (days from now), to close a window.
			days, _ := strconv.Atoi(r.URL.Query().Get("days"))
			ts.offset.Store(int64(time.Duration(days) * 24 * time.Hour))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/restart" {
			http.NotFound(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		if err := ts.RestartPortal(ctx, true); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		restarts++
		w.WriteHeader(http.StatusNoContent)
	})}
	go ctl.Serve(ln)
	defer ctl.Close()

	out, err := runBrowserScript(t, ts, "journey.mjs", "browser", 10*time.Minute,
		"CONTROL_URL=http://"+ln.Addr().String(), "VISIT_ID="+v.ID, "BIG_FILE="+big, "BIG_SIZE="+strconv.Itoa(bigSize),
		"SEGMENT_SIZE="+strconv.FormatInt(ts.Config.SegmentSize, 10), "FOLDER="+folder)
	t.Logf("journey output:\n%s", out)
	if err != nil {
		t.Fatalf("browser journey failed: %v", err)
	}
	root, _ := browserTools(t)
	artifacts := filepath.Join(root, "test-artifacts", "browser")
	if restarts != 1 {
		t.Fatalf("the portal was restarted %d times, want 1", restarts)
	}

	// The zip the lead downloaded: every file matches the manifest, and the
	// 200 MiB file matches what the browser uploaded.
	zr, err := zip.OpenReader(filepath.Join(artifacts, "evidence.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	sums, manifest := readArchive(t, zr.File)
	n := 0
	for sc := bufio.NewScanner(strings.NewReader(manifest)); sc.Scan(); n++ {
		sum, name, _ := strings.Cut(sc.Text(), "  ")
		if sums[name] != sum {
			t.Errorf("manifest says %s for %s; the file's SHA-256 is %s", sum, name, sums[name])
		}
	}
	if n < 4 || n != len(sums) {
		t.Fatalf("manifest lists %d files, the zip holds %d:\n%s", n, len(sums), manifest)
	}
	found := false
	for name, sum := range sums {
		found = found || strings.HasSuffix(name, "/2.01 Case records export.zip") && sum == src.sum()
	}
	if !found {
		t.Fatalf("the 200 MiB upload is not in the zip with its original SHA-256 %s: %v", src.sum(), sums)
	}
}

// runBrowserScript runs web/tests/<script> in Chromium against the stack ts,
// with the portal's address, the demo password and Chromium in its
// environment besides env, and screenshots in test-artifacts/<artifacts>
// (emptied first). It returns the script's output.
func runBrowserScript(t *testing.T, ts *testStack, script, artifacts string, timeout time.Duration, env ...string) ([]byte, error) {
	t.Helper()
	root, chromium := browserTools(t)
	dir := filepath.Join(root, "test-artifacts", artifacts)
	os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(root, "web", "tests", script))
	cmd.Dir = filepath.Join(root, "web")
	cmd.Env = append(os.Environ(), append([]string{"PORTAL_URL=" + ts.PortalURL, "ARTIFACTS=" + dir,
		"DEMO_PASSWORD=" + devidp.DemoPassword, "CHROMIUM=" + chromium}, env...)...)
	return cmd.CombinedOutput()
}
