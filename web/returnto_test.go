package web

import (
	"bufio"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// The return_to of a sign-in must send the person back to the portal only.
// The browser, not Go, decides where a Location header leads: it parses it
// by the WHATWG URL Standard, which drops TAB, LF and CR anywhere, trims C0
// controls and spaces, and treats "\" as "/" in http(s) URLs. These tests
// resolve what the portal sends with Node's URL class, which implements that
// standard as Chromium does (the browser test checks a sample in Chromium
// itself).

const portalBase = "https://portal.example"

// whatwg resolves references against a base as a browser does, through a
// long-running node process (one JSON line per question and answer).
type whatwg struct {
	mu  sync.Mutex
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

const whatwgScript = `
const rl = require('readline').createInterface({ input: process.stdin })
rl.on('line', (l) => {
  const { ref, base } = JSON.parse(l)
  let href = null
  try { href = new URL(ref, base).href } catch {}
  process.stdout.write(JSON.stringify(href) + '\n')
})`

func startWHATWG(t testing.TB) *whatwg {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("the WHATWG URL checks need node: %v", err)
		}
		t.Skipf("skipping: no node for WHATWG URL parsing: %v", err)
	}
	w := &whatwg{cmd: exec.Command(node, "-e", whatwgScript)}
	w.in, _ = w.cmd.StdinPipe()
	out, _ := w.cmd.StdoutPipe()
	w.out = bufio.NewScanner(out)
	w.out.Buffer(make([]byte, 1<<20), 1<<20)
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.in.Close()
		w.cmd.Wait()
	})
	return w
}

// resolve returns the URL a browser makes of ref on a page at base, or ""
// when it fails to parse.
func (w *whatwg) resolve(t testing.TB, ref, base string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	q, _ := json.Marshal(map[string]string{"ref": ref, "base": base})
	if _, err := w.in.Write(append(q, '\n')); err != nil {
		t.Fatal(err)
	}
	if !w.out.Scan() {
		t.Fatalf("node stopped answering: %v", w.out.Err())
	}
	var href *string
	if err := json.Unmarshal(w.out.Bytes(), &href); err != nil {
		t.Fatal(err)
	}
	if href == nil {
		return ""
	}
	return *href
}

// locationFor is the Location header the portal sends after a sign-in
// whose return_to was raw.
func locationFor(raw string) string {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, portalBase+"/auth/ofsted/callback?code=c&state=s", nil)
	http.Redirect(rec, req, safeReturnTo(raw), http.StatusSeeOther)
	return rec.Header().Get("Location")
}

// checkStaysOnPortal fails unless the browser would stay on the portal.
func checkStaysOnPortal(t testing.TB, w *whatwg, raw string) {
	t.Helper()
	loc := locationFor(raw)
	href := w.resolve(t, loc, portalBase+"/auth/ofsted/callback?code=c&state=s")
	if !strings.HasPrefix(href, portalBase+"/") {
		t.Errorf("return_to %q: Location %q takes the browser to %q", raw, loc, href)
	}
}

func TestReturnToStaysOnPortal(t *testing.T) {
	w := startWHATWG(t)
	for _, raw := range append(returnToSeeds, "") {
		checkStaysOnPortal(t, w, raw)
	}
	// Ordinary paths survive unchanged.
	for _, ok := range []string{"/visits", "/visits/abc/upload", "/visits/abc?tab=files#request", "/visits/abc/audit?actor=lead%40ofsted.example&action=file."} {
		if got := safeReturnTo(ok); got != ok {
			t.Errorf("safeReturnTo(%q) = %q, want it unchanged", ok, got)
		}
	}
}

// TestReturnToWHATWGCorpus checks thousands of generated return_to values,
// built from the characters that change how a browser parses a URL.
func TestReturnToWHATWGCorpus(t *testing.T) {
	w := startWHATWG(t)
	for _, raw := range generatedReturnTo(5000) {
		checkStaysOnPortal(t, w, raw)
	}
}

// generatedReturnTo builds n return_to values (the same ones every run).
func generatedReturnTo(n int) []string {
	r := rand.New(rand.NewPCG(15, 7))
	pieces := []string{"/", "\\", "\t", "\n", "\r", " ", "\x00", "\x0b", "\x7f", "%09", "%0a", "%2f", "%5c", ".", "..", "@", ":",
		"evil.example", "//", "\\\\", "?", "#", "http:", "https:", "javascript:", "data:", "\u3002", "\uff0f", "\u2215", "a", "visits"}
	out := make([]string, 0, n)
	for range n {
		var b strings.Builder
		if r.IntN(4) != 0 {
			b.WriteString("/")
		}
		for k := 1 + r.IntN(6); k > 0; k-- {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		out = append(out, b.String())
	}
	return out
}

var returnToSeeds = []string{
	"/%09/evil.example/", "/\t/evil.example/", "/\n/evil.example", "/\r\n/evil.example", "//evil.example", "/\\evil.example",
	"\\/evil.example", "/\\/evil.example", " //evil.example", "\t//evil.example", "/.//evil.example", "/..//evil.example",
	"https://evil.example", "http:evil.example", "https:/evil.example", "javascript:alert(1)", "/\x00/evil.example",
	"/\u3002/evil.example", "/%2F/evil.example", "/%5c/evil.example", "\x01//evil.example", "/ /evil.example",
}

// FuzzReturnTo: whatever return_to is, the browser stays on the portal.
// go test -fuzz FuzzReturnTo ./web runs it for as long as wanted.
func FuzzReturnTo(f *testing.F) {
	for _, s := range returnToSeeds {
		f.Add(s)
	}
	w := startWHATWG(f)
	f.Fuzz(func(t *testing.T, raw string) {
		checkStaysOnPortal(t, w, raw)
	})
}
