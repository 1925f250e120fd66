package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/store"
	"github.com/ofsted-portal/evidence/web"
)

// testStack is a real stack (MinIO, the dev identity provider over HTTP, the
// portal over HTTP) with a clock the test can move and a log it can read.
type testStack struct {
	*devstack.Stack
	crashAt atomic.Value // string: the destruction step after which to "crash"

	offset atomic.Int64 // nanoseconds added to the wall clock
	log    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startStack starts a stack for one test, or skips when MinIO is not
// installed and the run does not require integration tests (make test
// requires them).
func startStack(t *testing.T) *testStack {
	t.Helper()
	return startStackWith(t, nil)
}

// startStackWith starts a stack with env set over its configuration.
func startStackWith(t *testing.T, env map[string]string) *testStack {
	t.Helper()
	return startStackSetup(t, func(o *devstack.Options) { o.Env = env })
}

// startStackSetup starts a stack with options setup changes (fixed
// addresses, more identity providers).
func startStackSetup(t testing.TB, setup func(*devstack.Options)) *testStack {
	t.Helper()
	bin, err := devstack.FindMinIO()
	if err != nil {
		if os.Getenv("PORTAL_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("integration tests need MinIO: %v", err)
		}
		t.Skipf("skipping integration test: %v", err)
	}
	ts := &testStack{log: &syncBuffer{}}
	clock := func() time.Time { return time.Now().Add(time.Duration(ts.offset.Load())) }
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := devstack.Options{
		Dir:         t.TempDir(),
		MinIOBinary: bin,
		Logger:      portal.NewLogger(ts.log, "debug"),
		PortalOptions: []portal.Option{portal.WithClock(clock), portal.WithRetentionHook(func(step string) error {
			if at, _ := ts.crashAt.Load().(string); at == step {
				return fmt.Errorf("simulated crash after %s", step)
			}
			return nil
		})},
	}
	if setup != nil {
		setup(&o)
	}
	// Every statement a request sends is kept, to check its plan when
	// the stack closes.
	sent := &sentStatements{seen: map[string]string{}}
	o.WebOptions = append(o.WebOptions, web.WithStatementCount(sent.report))
	var st *devstack.Stack
	for attempt := 1; ; attempt++ {
		st, err = devstack.Start(ctx, o)
		// A port picked free can be taken by another process (another
		// test binary's client) before the server that is to listen on it
		// does: start again, on other ports.
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		t.Logf("start stack: %v; starting again on other ports", err)
		o.Dir = t.TempDir()
	}
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	ts.Stack = st
	t.Cleanup(func() {
		if st.Portal != nil {
			sent.check(t, st.Portal.Store().DB())
		}
		st.Close()
		if t.Failed() {
			t.Logf("portal log:\n%s", ts.log.String())
		}
	})
	return ts
}

// browser is an HTTP client that behaves like a browser: a cookie jar and
// redirects followed.
type browser struct {
	t    testing.TB
	c    *http.Client
	base string
}

// sweep runs the janitor's round now. The background round (run as the
// portal starts, then every minute) may hold the janitor's lease, and a
// Sweep that finds it held does nothing: this waits until one runs.
func (ts *testStack) sweep(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ts.Portal.Sweep(context.Background()) {
		if time.Now().After(deadline) {
			t.Fatal("the janitor's lease stayed taken for a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (ts *testStack) newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 5 * time.Minute}, base: ts.PortalURL}
}

// signIn goes through the real sign-in: portal -> identity provider login
// form -> portal callback.
func (ts *testStack) signIn(t testing.TB, idp, username string) *browser {
	t.Helper()
	b := ts.newBrowser(t)
	resp := b.get("/auth/" + idp + "/login")
	body := readAll(t, resp)
	resp = b.submitLogin(resp.Request.URL, body, username, devidp.DemoPassword)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits" {
		t.Fatalf("sign-in as %s ended at %s with %d: %s", username, resp.Request.URL, resp.StatusCode, readAll(t, resp))
	}
	resp.Body.Close()
	return b
}

// submitLogin fills in the identity provider's form found in page.
func (b *browser) submitLogin(pageURL *url.URL, page, username, password string) *http.Response {
	b.t.Helper()
	action, fields := parseForm(b.t, page)
	fields.Set("username", username)
	fields.Set("password", password)
	target, err := pageURL.Parse(action)
	if err != nil {
		b.t.Fatal(err)
	}
	resp, err := b.c.PostForm(target.String(), fields)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp
}

func parseForm(t testing.TB, page string) (string, url.Values) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var action string
	found := false
	fields := url.Values{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
			}
			switch n.Data {
			case "form":
				if !found {
					action, found = attr["action"], true
				}
			case "input":
				if attr["type"] == "hidden" {
					fields.Set(attr["name"], attr["value"])
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if !found {
		t.Fatalf("no form in page:\n%s", page)
	}
	return action, fields
}

func (b *browser) do(req *http.Request) *http.Response {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp
}

func (b *browser) get(path string) *http.Response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

func (b *browser) sendJSON(method, path string, body any) *http.Response {
	b.t.Helper()
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, b.base+path, bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	return b.do(req)
}

// decode reads a JSON response, failing unless it has the wanted status.
func decode[T any](t testing.TB, resp *http.Response, want int) T {
	t.Helper()
	defer resp.Body.Close()
	var v T
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v: %s", resp.Request.URL.Path, err, body)
	}
	return v
}

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

type visitResp struct {
	ID        string `json:"id"`
	Reference string `json:"reference"`
	State     string `json:"state"`
	Bucket    string `json:"bucket"`
	Title     string `json:"title"`
}

type fileResp struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Item   string `json:"item"`
	// The malware scanner's verdict and what it found.
	Scan          string `json:"scan"`
	ScanSignature string `json:"scan_signature"`
}

func (ts *testStack) demoVisit(t *testing.T) visitResp {
	t.Helper()
	v, err := ts.Portal.Store().VisitByReference(context.Background(), portal.DemoReference)
	if err != nil {
		t.Fatal(err)
	}
	return visitResp{ID: v.ID, Reference: v.Reference, Bucket: v.Bucket}
}

// upload sends body as a raw upload of size bytes.
func (b *browser) upload(visitID, name string, body io.Reader, size int64) *http.Response {
	b.t.Helper()
	q := url.Values{"name": {name}}
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/visits/%s/files?%s", b.base, visitID, q.Encode()), body)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	return b.do(req)
}

// sentStatements are the statements requests sent, each with the first
// route that sent it.
type sentStatements struct {
	mu   sync.Mutex
	seen map[string]string
}

func (s *sentStatements) report(r *http.Request, route string, qs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range qs {
		if _, ok := s.seen[q]; !ok {
			s.seen[q] = r.Method + " " + route
		}
	}
}

// check fails the test when a statement a request sent reads a growing
// table from end to end (SQLite's plans; see boundedScan).
func (s *sentStatements) check(t testing.TB, db store.DB) {
	t.Helper()
	if db.Postgres() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for q, route := range s.seen {
		if strings.HasPrefix(q, "BEGIN") || strings.HasPrefix(q, "COMMIT") || strings.HasPrefix(q, "ROLLBACK") {
			continue
		}
		steps, err := planScans(db, q)
		if err != nil {
			if strings.Contains(err.Error(), "database is closed") || strings.Contains(err.Error(), "no such table") {
				return // the test stopped the portal for good, or replaced its database
			}
			t.Errorf("plan of %s: %v", q, err)
			continue
		}
		for _, step := range steps {
			if !boundedScan(step, q) {
				t.Errorf("%s reads a whole table: %s, in %s", route, step, q)
			}
		}
	}
}

// planScans returns the steps of SQLite's plan for q that read a whole
// table (or a whole index) rather than searching it, or that search it by
// columns many rows share (unselectiveSearch).
func planScans(db store.DB, q string) ([]string, error) {
	args := make([]any, strings.Count(q, "?"))
	rows, err := db.Query(`EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		if strings.HasPrefix(detail, "SCAN ") || unselectiveSearch(detail) {
			out = append(out, detail)
		}
	}
	return out, rows.Err()
}

// unselectiveSearch says whether a step of a plan searches an index by
// columns that many rows share and nothing more: the identity provider,
// a role or a state. Such a search reads every row with that value (every
// membership at an issuer, say), a cost that grows with what the portal
// holds as a whole scan's does; the sign-in callback did so with 1,000
// visits, at 2.2 times its cost with one, and no SCAN showed it.
func unselectiveSearch(step string) bool {
	if !strings.HasPrefix(step, "SEARCH ") || !strings.HasSuffix(step, ")") {
		return false
	}
	open := strings.LastIndex(step, " (")
	if open < 0 {
		return false
	}
	for _, term := range strings.Split(step[open+2:len(step)-1], " AND ") {
		column, _, _ := strings.Cut(term, "=")
		column, _, _ = strings.Cut(column, "<")
		column, _, _ = strings.Cut(column, ">")
		switch column {
		case "issuer", "role", "state", "legal_hold", "kind":
		default:
			return false // one term that picks out few rows bounds the search
		}
	}
	return true
}

// boundedScan says whether a step of a plan that reads a table from one
// end costs no more at volume: it stops after a row or a page, or the
// table holds only the visits whose destruction is near or failed, the
// visits whose object store is not at their legal hold, the resumable
// uploads not yet expired, the master key's epochs or the portal's
// administrators.
func boundedScan(step, q string) bool {
	switch {
	case step == "SCAN CONSTANT ROW", strings.HasPrefix(step, "SCAN json_each VIRTUAL TABLE"): // a page's ids
		return true
	case step == "SCAN audit" || step == "SCAN audit_checkpoints": // the head of the chain, by its rowid
		return strings.Contains(q, "ORDER BY seq DESC LIMIT 1")
	case strings.Contains(step, "USING INDEX notifications_recent"): // in order, the first page
		return strings.Contains(q, "LIMIT ?")
	case step == "SCAN page": // a page of visits, read from its index (visitPageMember)
		return strings.Contains(q, ") page")
	case strings.HasPrefix(step, "SCAN destruction_notices"), strings.HasPrefix(step, "SCAN retention_failures"), step == "SCAN w", step == "SCAN review":
		// visits under notice or failing (the warnings, the review):
		// live visits near their end, not every visit
		return true
	case step == "SCAN resumable_uploads": // in progress or recent: the janitor deletes them once expired
		return true
	case step == "SCAN key_epochs": // one for each rotation of the master key
		return true
	case step == "SCAN earlier": // a file's earlier versions, each found by files_superseded_by (refileEarlierVersions)
		return strings.Contains(q, "WITH RECURSIVE earlier")
	case strings.Contains(step, "USING INDEX visits_store_side"): // the visits whose object store an act on their hold or letter left behind
		return true
	case strings.HasPrefix(step, "SCAN portal_roles") && strings.Contains(q, "WHERE role = ?"): // the administrators, to tell them
		return true
	}
	return false
}
