package web_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
	"github.com/ofsted-portal/evidence/web"
)

// statements records how many statements each request sent, by the
// request's path and query.
type statements struct {
	mu     sync.Mutex
	seen   map[string][]string
	sizes  map[string]int   // the body's length, by person and request
	rows   map[string]int64 // the rows read, by request
	routes map[string]bool  // the route patterns requested
}

// readRows records how many rows each request read, and its route.
func (s *statements) readRows(r *http.Request, route string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rows == nil {
		s.rows, s.routes = map[string]int64{}, map[string]bool{}
	}
	s.rows[r.Method+" "+r.URL.RequestURI()] = n
	if route != "" {
		s.routes[r.Method+" "+route] = true
	}
}

// probeHeader marks the requests get makes: only theirs are recorded, so
// that a request made otherwise for the same path (one that warms the
// portal's memory, say), whose report comes once its handler has
// returned, after its client has read the answer, is never taken for
// get's own.
const probeHeader = "X-Statement-Probe"

func (s *statements) report(r *http.Request, route string, qs []string) {
	if r.Header.Get(probeHeader) == "" {
		return
	}
	// The session's own writes (its expiry is moved on at most once a
	// minute) depend on time, not on how much the portal holds.
	var kept []string
	for _, q := range qs {
		if !strings.HasPrefix(q, "UPDATE sessions ") {
			kept = append(kept, q)
		}
	}
	s.mu.Lock()
	s.seen[r.Method+" "+r.URL.RequestURI()] = kept
	s.mu.Unlock()
}

// get requests path as b and returns its statement count, once the
// server has reported it (after the response was written).
func (s *statements) get(t *testing.T, b *browser, path string) []string {
	t.Helper()
	key := "GET " + path
	s.mu.Lock()
	delete(s.seen, key)
	s.mu.Unlock()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	req.Header.Set(probeHeader, "1")
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	s.mu.Lock()
	s.sizes[fmt.Sprintf("%p %s", b, key)] = len(body)
	s.mu.Unlock()
	if resp.StatusCode == http.StatusInternalServerError {
		t.Fatalf("%s: %d", path, resp.StatusCode)
	}
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusNotFound {
		t.Fatalf("%s: %d", path, resp.StatusCode)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.mu.Lock()
		n, ok := s.seen[key]
		s.mu.Unlock()
		if ok {
			return n
		}
	}
	t.Fatalf("%s: no statement count reported", path)
	return nil
}

// countRoutes requests every page and API route that reads, as each
// person, twice (the second, warm, count is kept: the first may load keys
// into memory), and returns the counts of statements and of rows read.
func countRoutes(t *testing.T, st *statements, who map[string]*browser, visitID, fileID, memberID, visitCursor, receiptID, receiptCursor string) (map[string][]string, map[string]int64) {
	t.Helper()
	out, rows := map[string][]string{}, map[string]int64{}
	for name, b := range who {
		for _, path := range []string{
			"/api/v1/me", "/api/v1/me/activity", "/api/v1/visits", "/api/v1/visits/" + visitID,
			"/api/v1/visits/" + visitID + "/members", "/api/v1/visits/" + visitID + "/items", "/api/v1/visits/" + visitID + "/request",
			"/api/v1/visits/" + visitID + "/explain?member=" + memberID + "&action=file.download", "/api/v1/visits/" + visitID + "/audit", "/api/v1/visits/" + visitID + "/audit?format=csv",
			"/api/v1/destruction-review", "/api/v1/visits/" + visitID + "/files", "/api/v1/visits/" + visitID + "/files/" + fileID + "/content",
			"/visits", "/visits/" + visitID, "/visits/" + visitID + "/upload", "/visits/" + visitID + "/request", "/visits/" + visitID + "/members",
			"/visits/" + visitID + "/explain", "/visits/" + visitID + "/audit", "/destruction",
			"/api/v1/visits/" + visitID + "/files?after=" + fileID, "/api/v1/visits/" + visitID + "/files?q=seeded", "/visits/" + visitID + "?after=" + fileID,
			"/visits/" + visitID + "?q=seeded", "/visits?after=" + visitCursor,
			"/api/v1/visits/" + visitID + "/files?item=1.03&sort=newest&from=2020-01-01&to=2099-12-31&limit=50",
			"/visits/" + visitID + "?q=seeded&item=1.02&sort=name-desc&after=" + fileID,
			"/visits/" + visitID + "?item=unfiled&sort=oldest&from=2020-01-01",
			"/api/v1/visits/" + visitID + "/files/" + fileID + "/content?disposition=inline",
			"/api/v1/me/notifications", "/notifications",
			"/api/v1/visits/" + visitID + "/receipts", "/api/v1/visits/" + visitID + "/receipts?after=" + receiptCursor,
			"/api/v1/visits/" + visitID + "/receipts?file=" + fileID, "/api/v1/visits/" + visitID + "/receipts/" + receiptID,
			"/visits/" + visitID + "/receipts/" + receiptID,
			"/api/v1/visits/" + visitID + "/questions", "/visits/" + visitID + "/questions",
			"/api/v1/visits/" + visitID + "/purged", "/api/v1/visits/" + visitID + "/certificate",
			"/visits/" + visitID + "/download?file=" + fileID, "/api/v1/visits/" + visitID + "/archive?file=" + fileID,
			"/", "/help", "/privacy", "/cookies", "/contact", "/accessibility", "/healthz", "/readyz", "/auth/ofsted/login", "/static/portal.css",
		} {
			st.get(t, b, path)
			out[name+" GET "+path] = st.get(t, b, path)
			st.mu.Lock()
			rows[name+" GET "+path] = st.rows["GET "+path]
			st.mu.Unlock()
		}
	}
	return out, rows
}

// notCounted are the read routes TestStatementsDoNotGrow does not request,
// and why.
var notCounted = map[string]string{
	"GET /auth/:idp/callback": "a sign-in's second step needs the identity provider's answer: make bench times it at volume",
}

// TestStatementsDoNotGrow: no page or API route sends more statements to
// the database when the portal holds more: 10 visits and 100 files in the
// visit, then 1,000 visits and 20,000 files (rows only: seeded, without
// objects). Every read route is requested as an administrator, the lead
// inspector and the provider's uploader; the count of the second of two
// requests is compared (the first may unwrap keys into memory). That no
// statement's plan reads a growing table from end to end is checked by
// every test stack when it closes (sentStatements).
func TestStatementsDoNotGrow(t *testing.T) {
	ctx := context.Background()
	st := &statements{seen: map[string][]string{}, sizes: map[string]int{}}
	ts := startStackSetup(t, func(o *devstack.Options) {
		o.WebOptions = []web.Option{web.WithStatementCount(st.report), web.WithRowsRead(st.readRows)}
	})
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-COUNT")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	f := decode[fileResp](t, uploader.upload(v.ID, "1.01 a.pdf", strings.NewReader("x"), 1), http.StatusCreated)
	var leadID, uploaderID string
	db := ts.Portal.Store().DB()
	if err := db.QueryRow(`SELECT id FROM users WHERE email = ?`, "lead@ofsted.example").Scan(&leadID); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT id FROM users WHERE email = ?`, "uploader@cafcass.example").Scan(&uploaderID); err != nil {
		t.Fatal(err)
	}
	members := decode[struct {
		Members []struct {
			ID string `json:"id"`
		} `json:"members"`
	}](t, admin.get("/api/v1/visits/"+v.ID+"/members"), http.StatusOK)
	who := map[string]*browser{"administrator": admin, "lead": lead, "uploader": uploader}
	seed := func(visits, files int) {
		t.Helper()
		start := time.Now()
		if _, err := ts.Portal.SeedVisits(ctx, visits, fmt.Sprintf("FV-SEED-%d", visits), leadID); err != nil {
			t.Fatal(err)
		}
		if err := ts.Portal.SeedFiles(ctx, v.ID, uploaderID, files); err != nil {
			t.Fatal(err)
		}
		// Every seeded visit under a destruction notice: the administrators'
		// warnings must not grow with them either.
		if _, err := db.Exec(`INSERT INTO destruction_notices (visit_id, destroy_on, given_at) SELECT id, ?, ? FROM visits
			WHERE reference LIKE ? AND id NOT IN (SELECT visit_id FROM destruction_notices)`,
			time.Now().AddDate(0, 0, 5).Format(time.DateOnly), time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf("FV-SEED-%d%%", visits)); err != nil {
			t.Fatal(err)
		}
		// Questions on some of the files, each with a reply: the lists of
		// threads must not cost a statement for each (purges: see
		// TestPurgedListCostsTheSame).
		ids, err := db.Query(`SELECT id FROM files WHERE visit_id = ? AND id <> ? AND withdrawn_at IS NULL ORDER BY uploaded_at DESC, id LIMIT ?`, v.ID, f.ID, min(files/5, 80))
		if err != nil {
			t.Fatal(err)
		}
		var fileIDs []string
		for ids.Next() {
			var id string
			if err := ids.Scan(&id); err != nil {
				t.Fatal(err)
			}
			fileIDs = append(fileIDs, id)
		}
		ids.Close()
		for _, id := range fileIDs[:len(fileIDs)/2] {
			resp := lead.sendJSON("POST", "/api/v1/visits/"+v.ID+"/questions", map[string]string{"file": id, "text": "Is this the signed copy?"})
			q := decode[struct {
				ID string `json:"id"`
			}](t, resp, http.StatusCreated)
			resp = uploader.sendJSON("POST", "/api/v1/visits/"+v.ID+"/questions/"+q.ID+"/posts", map[string]string{"text": "Yes."})
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("reply: %d", resp.StatusCode)
			}
		}
		t.Logf("seeded %d visits and %d files in %s", visits, files, time.Since(start).Round(time.Millisecond))
	}
	seed(8, 99)
	// The visit's trail holds more than a page of records at both volumes:
	// the requests below add to it (downloads, receipts read), and a page
	// that fills up is not a page that grows with the portal.
	recs := make([]store.AuditRecord, 250)
	for i := range recs {
		recs[i] = store.AuditRecord{Time: time.Now(), ActorEmail: "lead@ofsted.example", ActorIssuer: "ofsted", ActorSubject: "lead", Role: "lead_inspector",
			VisitID: v.ID, Action: "file.download", Object: f.ID, Outcome: "success", Detail: `{"from":0,"bytes":1}`}
	}
	if _, _, err := ts.Portal.Store().SeedAudit(ctx, recs); err != nil {
		t.Fatal(err)
	}
	// A cursor into the list of visits (a page after the first visit).
	first := decode[struct {
		Visits []struct {
			ID string `json:"id"`
		} `json:"visits"`
	}](t, admin.get("/api/v1/visits"), http.StatusOK)
	firstVisit, err := ts.Portal.Store().Visit(ctx, first.Visits[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	cursor := portal.VisitCursorFor(firstVisit)
	// The uploaded file's receipt, and a cursor into the uploader's
	// receipts (a page after the first).
	var receiptID string
	if err := db.QueryRow(`SELECT id FROM receipts WHERE upload_of = ?`, f.ID).Scan(&receiptID); err != nil {
		t.Fatal(err)
	}
	page := decode[struct {
		Next string `json:"next"`
	}](t, uploader.get("/api/v1/visits/"+v.ID+"/receipts"), http.StatusOK)
	if page.Next == "" {
		t.Fatal("a hundred receipts fill more than one page: no next page")
	}
	small, smallRows := countRoutes(t, st, who, v.ID, f.ID, members.Members[0].ID, cursor, receiptID, page.Next)
	smallSizes := maps.Clone(st.sizes)
	seed(990, 19_900)
	large, largeRows := countRoutes(t, st, who, v.ID, f.ID, members.Members[0].ID, cursor, receiptID, page.Next)
	// Every read route is requested: a route added later is counted too.
	st.mu.Lock()
	for route := range ts.Web.Routes() {
		if method, _, _ := strings.Cut(route, " "); method != "GET" {
			continue
		}
		if _, ok := notCounted[route]; !ok && !st.routes[route] {
			t.Errorf("%s is not requested here: add it to countRoutes (or to notCounted, saying why)", route)
		}
	}
	st.mu.Unlock()
	// Nor do the rows a request reads grow with the portal: one statement
	// that reads every receipt of a visit is still one statement. The
	// larger portal holds 990 more visits and 19,800 more files (and
	// their receipts); a page reads at most its page more.
	for k, n := range smallRows {
		if m := largeRows[k]; m > n+500 {
			t.Errorf("%s: read %d rows with 10 visits and 100 files, %d with 1,000 and 20,000", k, n, m)
		}
	}
	// Nor does what a request answers grow with the portal: lists are
	// paged, so a page at 100 times the volume is at most a little larger
	// (a fuller page of visits, longer counts), never a list of everything.
	for k, n := range smallSizes {
		if m := st.sizes[k]; m > 2*n+64<<10 {
			t.Errorf("%s: %d bytes with 10 visits and 100 files, %d with 1,000 and 20,000", k, n, m)
		}
	}
	var keys []string
	for k := range small {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(small[k]) != len(large[k]) {
			t.Errorf("%s: %d statements with 10 visits and 100 files, %d with 1,000 and 20,000:\n   %q\n   %q", k, len(small[k]), len(large[k]), small[k], large[k])
		}
	}
}

// TestWarningsShareThePageStatements: the administrators' list warns of
// the visits whose destruction failed on whichever page it shows, the
// warned visit on the page or not, and the warnings cost the page two
// statements (their count, and which they are), not a page of their own:
// their letter events, notices and failures are read with the page's.
func TestWarningsShareThePageStatements(t *testing.T) {
	ctx := context.Background()
	st := &statements{seen: map[string][]string{}, sizes: map[string]int{}}
	ts := startStackSetup(t, func(o *devstack.Options) {
		o.WebOptions = []web.Option{web.WithStatementCount(st.report)}
	})
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	ts.signIn(t, "ofsted", "lead@ofsted.example")
	db := ts.Portal.Store().DB()
	var leadID string
	if err := db.QueryRow(`SELECT id FROM users WHERE email = ?`, "lead@ofsted.example").Scan(&leadID); err != nil {
		t.Fatal(err)
	}
	// Two visits published 40 days ago, so due for destruction: a failure
	// is shown for a visit with a destruction date.
	vs, err := ts.Portal.SeedVisits(ctx, 2, "FV-WARN", leadID)
	if err != nil {
		t.Fatal(err)
	}
	var evs []store.Event
	for i, v := range vs {
		fs := calendar.Today(time.Now()).AddDate(0, 0, -90)
		if _, err := db.Exec(`UPDATE visits SET notification_date = ?, fieldwork_start = ? WHERE id = ?`, fs.AddDate(0, 0, -7).Format(time.DateOnly), fs.Format(time.DateOnly), v.ID); err != nil {
			t.Fatal(err)
		}
		// The final letter fourteen days before publication: Cafcass's
		// time to complain is over, whatever the bank holidays.
		for k, e := range []string{"draft_sent", "final_sent", "published"} {
			d := fs.AddDate(0, 0, []int{20, 26, 40}[k])
			evs = append(evs, store.Event{ID: fmt.Sprintf("warn-%d-%d", i, k), VisitID: v.ID, Event: e, Date: d, RecordedBy: leadID, RecordedAt: d})
		}
	}
	if err := ts.Portal.Store().SeedLetters(ctx, evs, nil, nil); err != nil {
		t.Fatal(err)
	}
	va, err := ts.Portal.Store().Visit(ctx, vs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	a, other := va.Reference, vs[1].Reference
	if a > other {
		// The page after the warned visit must not hold it: the list is by
		// reference within a day.
		va, err = ts.Portal.Store().Visit(ctx, vs[1].ID)
		if err != nil {
			t.Fatal(err)
		}
		a, other = other, a
	}
	pages := map[string]string{"with the warned visit": "/visits", "without it": "/visits?after=" + portal.VisitCursorFor(va)}
	before := map[string][]string{}
	for name, path := range pages {
		admin.get(path).Body.Close() // keys into memory
		before[name] = st.get(t, admin, path)
	}
	now := time.Now()
	if _, err := ts.Portal.Store().RecordFailure(ctx, va.ID, "the store did not answer", now, func(int) time.Time { return now.Add(time.Hour) }); err != nil {
		t.Fatal(err)
	}
	for name, path := range pages {
		body := readAll(t, admin.get(path))
		if !strings.Contains(body, "The destruction of "+a+" failed on") || !strings.Contains(body, "the store did not answer") {
			t.Errorf("the page %s does not warn of the failed destruction of %s:\n%s", name, a, body)
		}
		if strings.Contains(body, other+" failed") {
			t.Errorf("the page %s warns of a visit whose destruction did not fail", name)
		}
		after := st.get(t, admin, path)
		if len(after) != len(before[name])+1 {
			t.Errorf("the page %s: %d statements without warnings, %d with one (want one more, which visits are warned of):\n   %q\n   %q",
				name, len(before[name]), len(after), before[name], after)
		}
	}
}

// TestPurgedListCostsTheSame: the list of a visit's purged files names who
// purged each without a statement per file.
func TestPurgedListCostsTheSame(t *testing.T) {
	st := &statements{seen: map[string][]string{}, sizes: map[string]int{}}
	ts := startStackSetup(t, func(o *devstack.Options) {
		o.WebOptions = []web.Option{web.WithStatementCount(st.report)}
	})
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-PURGED")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	var ids []string
	for i := range 4 {
		ids = append(ids, uploader.uploadItem(v.ID, fmt.Sprintf("1.03 misfiled %d.pdf", i), "", []byte("about another child")).ID)
	}
	// Purged once the provider can no longer delete: after fieldwork.
	ts.offset.Store(int64(time.Until(fieldworkEnd(t, lead, v).AddDate(0, 0, 2))))
	purge := func(id string) {
		t.Helper()
		if s := admin.status("POST", "/api/v1/visits/"+v.ID+"/files/"+id+"/purge", map[string]string{"reason": "About a child of another authority"}); s != http.StatusNoContent {
			t.Fatalf("purge: %d", s)
		}
	}
	path := "/api/v1/visits/" + v.ID + "/purged"
	purge(ids[0])
	st.get(t, admin, path)
	one := st.get(t, admin, path)
	for _, id := range ids[1:] {
		purge(id)
	}
	st.get(t, admin, path)
	if four := st.get(t, admin, path); len(four) != len(one) {
		t.Errorf("the purged files' list: %d statements with one purged, %d with four:\n   %q\n   %q", len(one), len(four), one, four)
	}
}

// listsCounted starts a stack that counts each request's statements, and
// signs in an administrator and the lead inspector (with the lead's id).
func listsCounted(t *testing.T) (st *statements, ts *testStack, admin, lead *browser, leadID string) {
	t.Helper()
	st = &statements{seen: map[string][]string{}, sizes: map[string]int{}}
	ts = startStackSetup(t, func(o *devstack.Options) {
		o.WebOptions = []web.Option{web.WithStatementCount(st.report)}
	})
	admin = ts.signIn(t, "ofsted", "admin@ofsted.example")
	lead = ts.signIn(t, "ofsted", "lead@ofsted.example")
	if err := ts.Portal.Store().DB().QueryRow(`SELECT id FROM users WHERE email = ?`, "lead@ofsted.example").Scan(&leadID); err != nil {
		t.Fatal(err)
	}
	return st, ts, admin, lead, leadID
}

// TestListsFirstRequestDoesNotGrow: a list's first request, with the keys
// of its page's visits not yet in memory (after a start, or visits made
// by another instance), sends as many statements with a page of 50 such
// visits as with a few: the page's keys are read together, not one
// statement a row.
func TestListsFirstRequestDoesNotGrow(t *testing.T) {
	ctx := context.Background()
	st, ts, admin, lead, leadID := listsCounted(t)
	// Each round seeds visits whose keys the portal has not unwrapped
	// (SeedVisits writes rows only), some of them newer than any listed
	// before, and counts the first request of each list, then the next.
	round := func(n int) (cold, warm map[string][]string) {
		t.Helper()
		for _, member := range []string{leadID, ""} {
			if _, err := ts.Portal.SeedVisits(ctx, n, fmt.Sprintf("FV-COLD-%d-%t", n, member == ""), member); err != nil {
				t.Fatal(err)
			}
		}
		cold, warm = map[string][]string{}, map[string][]string{}
		// The lead's page first: the administrators' holds visits the
		// lead's does not, whose keys are still not in memory. Each list
		// is requested once cold (the page and the API show the same
		// keys): the API for the lead, the page, with its warnings, for
		// an administrator.
		for _, l := range []struct {
			name, path string
			b          *browser
		}{{"lead", "/api/v1/visits", lead}, {"administrator", "/visits", admin}} {
			cold[l.name+" "+l.path] = st.get(t, l.b, l.path)
			warm[l.name+" "+l.path] = st.get(t, l.b, l.path)
		}
		return cold, warm
	}
	// The first round loads the key epoch into memory, which is no part
	// of a page's cost: the counts compared are the second's and third's.
	round(2)
	smallCold, smallWarm := round(3)
	largeCold, largeWarm := round(60)
	for k := range smallCold {
		// Cold, a few statements more than warm (the page's keys read
		// together; the rows the lists' memory does not hold, read
		// together), as many for 3 visits not yet read as for 50.
		if len(smallCold[k]) != len(largeCold[k]) || len(smallWarm[k]) != len(largeWarm[k]) {
			t.Errorf("%s: first request %d statements, the next %d, with 3 visits not yet read; with 60: %d and %d:\n   %q\n   %q",
				k, len(smallCold[k]), len(smallWarm[k]), len(largeCold[k]), len(largeWarm[k]), smallCold[k], largeCold[k])
		}
	}
}

// TestListsRefuseBrokenKeysAtTheSameCost: a visit whose stored key does
// not open (its wrapped key damaged, or wrapped to the master key after
// key epochs began) is shown in a list without its title, as before, and
// costs the list no statement of its own: a page of twenty such visits
// sends as many statements as a page of two, on every request (a key
// that does not open is never kept, so each request reads it again).
func TestListsRefuseBrokenKeysAtTheSameCost(t *testing.T) {
	ctx := context.Background()
	st, ts, admin, lead, leadID := listsCounted(t)
	db := ts.Portal.Store().DB()
	// Half of each round's visits have their wrapped key damaged, half
	// have it marked as wrapped to the master key.
	rounds := 0
	round := func(n int) map[string][]string {
		t.Helper()
		rounds++
		seeded, err := ts.Portal.SeedVisits(ctx, n, fmt.Sprintf("FV-BROKEN-%d", rounds), leadID)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range seeded {
			q := `UPDATE visit_keys SET wrapped = ? WHERE visit_id = ?`
			arg := any([]byte("not a wrapped key"))
			if i%2 == 1 {
				q, arg = `UPDATE visit_keys SET epoch = ? WHERE visit_id = ?`, nil
			}
			if _, err := db.Exec(q, arg, v.ID); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string][]string{}
		for _, l := range []struct {
			name, path string
			b          *browser
		}{{"lead", "/api/v1/visits", lead}, {"administrator", "/visits", admin}, {"administrator", "/api/v1/visits", admin}} {
			st.get(t, l.b, l.path)
			got[l.name+" "+l.path] = st.get(t, l.b, l.path)
		}
		return got
	}
	round(2) // the key epoch into memory, no part of a page's cost
	small := round(2)
	large := round(18)
	for k := range small {
		if len(small[k]) != len(large[k]) {
			t.Errorf("%s: %d statements with 4 visits whose keys do not open, %d with 22:\n   %q\n   %q",
				k, len(small[k]), len(large[k]), small[k], large[k])
		}
	}
	// Refused, as before, and shown as what they are: not destroyed
	// (their keys are stored) but unreadable.
	list := decode[struct {
		Visits []struct{ Reference, Title string }
	}](t, lead.get("/api/v1/visits"), http.StatusOK)
	broken := 0
	for _, v := range list.Visits {
		if strings.HasPrefix(v.Reference, "FV-BROKEN-") {
			broken++
			if v.Title != "(title unreadable)" {
				t.Errorf("%s: its key is stored and does not open; the list shows its title as %q, want \"(title unreadable)\"", v.Reference, v.Title)
			}
		}
	}
	if broken != 22 {
		t.Errorf("the lead's list shows %d of the 22 visits whose keys do not open", broken)
	}
}
