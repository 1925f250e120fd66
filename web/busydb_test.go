package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/deploy/pgserver"
	"github.com/ofsted-portal/evidence/portal"
)

// restartablePG is a PostgreSQL cluster of the test's own, which it can
// stop at once (an immediate shutdown: a crash, or a failover) and start
// again on the same address with the same data. Unlike the test cluster
// it flushes its commits (PostgreSQL's defaults): what it answered
// survives the crash.
type restartablePG struct {
	t   *testing.T
	dir string
	srv *pgserver.Server
}

func startRestartablePG(t *testing.T) *restartablePG {
	t.Helper()
	if !pgserver.TestDatabaseWanted() {
		t.Skip("PostgreSQL stopped and started again: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	p := &restartablePG{t: t, dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := pgserver.Start(ctx, pgserver.Options{Dir: p.dir, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	p.srv = srv
	t.Cleanup(func() { p.srv.Stop() })
	return p
}

// crash stops the server at once: no client is told, nothing is flushed
// beyond what was committed.
func (p *restartablePG) crash() {
	p.t.Helper()
	if err := syscall.Kill(p.srv.Pid(), syscall.SIGQUIT); err != nil {
		p.t.Fatal(err)
	}
	p.srv.Stop()
}

func (p *restartablePG) start() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := pgserver.Start(ctx, pgserver.Options{Dir: p.dir, Addr: p.srv.Addr, Keep: true})
	if err != nil {
		p.t.Fatal(err)
	}
	p.srv = srv
}

// leaked names what an answer must never show a person: the driver's or
// the network's own words.
var leaked = []string{"dial", "connect", "127.0.0.1", "EOF", "pgx", "pgconn", "SQLSTATE", "store:", "conn closed", "refused"}

// wantUnavailable checks that resp says, as 503 with Retry-After and a
// sentence of the portal's, that the portal cannot serve just now.
func wantUnavailable(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("%s: %d, Retry-After %q: %s", what, resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	for _, w := range leaked {
		if strings.Contains(string(body), w) {
			t.Errorf("%s shows %q: %s", what, w, body)
		}
	}
}

// TestDatabaseCrashedAndBack: PostgreSQL stops at once while people use
// the portal (an upload half-sent), and comes back on the same address.
// While it is gone every request is answered 503 with Retry-After and the
// portal's own sentence, never a 500 or the driver's words, and /readyz
// says not ready; once it is back the same instance serves the same
// sessions again without a restart, the half-sent upload is cleaned up by
// the janitor (its pending record stood for it), and the audit trail
// verifies.
func TestDatabaseCrashedAndBack(t *testing.T) {
	pg := startRestartablePG(t)
	ts := startStackSetup(t, func(o *devstack.Options) { o.DatabaseURL = pg.srv.URL })
	v := ts.demoVisit(t)
	up := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	before := up.uploadItem(v.ID, "1.01 Before.pdf", "", []byte("stored before the crash"))

	// An upload under way as the database goes: its first segment stored.
	pr, pw := io.Pipe()
	const size = 3 << 20
	cut := make(chan *http.Response, 1)
	go func() { cut <- up.upload(v.ID, "1.05 Cut by the crash.zip", pr, size) }()
	if _, err := pw.Write(bytes.Repeat([]byte("x"), 2<<20)); err != nil {
		t.Fatal(err)
	}
	var pending string
	deadline := time.Now().Add(10 * time.Second)
	for ts.Portal.Store().DB().QueryRow(`SELECT file_id FROM pending_uploads WHERE visit_id = ?`, v.ID).Scan(&pending); pending == ""; {
		if time.Now().After(deadline) {
			t.Fatal("the upload did not begin")
		}
		time.Sleep(50 * time.Millisecond)
		ts.Portal.Store().DB().QueryRow(`SELECT file_id FROM pending_uploads WHERE visit_id = ?`, v.ID).Scan(&pending)
	}

	pg.crash()
	go func() {
		pw.Write(bytes.Repeat([]byte("x"), size-2<<20))
		pw.Close()
	}()
	wantUnavailable(t, "the upload under way", <-cut)
	wantUnavailable(t, "the list of files", up.get("/api/v1/visits/"+v.ID+"/files"))
	wantUnavailable(t, "a download", lead.get("/api/v1/visits/"+v.ID+"/files/"+before.ID+"/content"))
	wantUnavailable(t, "the visit's page", lead.get("/visits/"+v.ID))
	req, _ := http.NewRequest(http.MethodPost, ts.PortalURL+"/api/v1/visits/"+v.ID+"/files?name=x.pdf", strings.NewReader("x"))
	wantUnavailable(t, "an upload", up.do(req))
	// The load balancer's view: no session.
	lb := ts.newBrowser(t)
	deadline = time.Now().Add(15 * time.Second)
	for resp := lb.get("/readyz"); resp.StatusCode != http.StatusServiceUnavailable; resp = lb.get("/readyz") {
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("/readyz stayed ready with the database gone")
		}
		time.Sleep(200 * time.Millisecond)
	}

	pg.start()
	deadline = time.Now().Add(15 * time.Second)
	for resp := lb.get("/readyz"); resp.StatusCode != http.StatusOK; resp = lb.get("/readyz") {
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("/readyz not ready again 15 s after the database came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Every request answers again, on every connection of the pool.
	for i := range 20 {
		resp := up.get("/api/v1/visits/" + v.ID + "/files")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d after the database came back: %d %s", i, resp.StatusCode, body)
		}
	}
	if code, _, got := lead.download(v.ID, before.ID); code != http.StatusOK || string(got) != "stored before the crash" {
		t.Fatalf("the file stored before the crash: %d %q", code, got)
	}
	after := up.uploadItem(v.ID, "1.02 After.pdf", "", []byte("stored after"))
	if code, _, got := lead.download(v.ID, after.ID); code != http.StatusOK || string(got) != "stored after" {
		t.Fatalf("a file stored after the crash: %d %q", code, got)
	}

	// The half-sent upload: nothing of it visible; the janitor, once it
	// is taken as cut off, leaves nothing of it in the bucket.
	ts.offset.Store(int64(10 * time.Minute))
	ts.sweep(t)
	ctx := context.Background()
	if left, err := ts.Portal.Blobs().Versions(ctx, v.Bucket, pending+"/"); err != nil || len(left) != 0 {
		t.Errorf("the cut upload's objects left after the janitor: %d (%v)", len(left), err)
	}
	var n int
	if err := ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM pending_uploads WHERE file_id = ?`, pending).Scan(&n); err != nil || n != 0 {
		t.Errorf("the cut upload's pending record: %d (%v)", n, err)
	}
	anchors, err := portal.FindAnchors(ctx, ts.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := portal.VerifyAudit(ctx, ts.Portal.Store(), anchors, ts.Portal.SigningPublicKey()); err != nil {
		t.Errorf("the audit trail after the crash: %v", err)
	}
}

// TestHeldVisitAnswersUnavailable: a transaction outside the portal (an
// operator's session, another instance stalled) holds a visit's row. An
// upload into the visit waits for it no longer than the statement timeout
// and is answered 503 with Retry-After, its objects removed and no file
// stored; once the row is free the same upload goes through.
func TestHeldVisitAnswersUnavailable(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("row locks are PostgreSQL's: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	ts := startStackWith(t, map[string]string{"PORTAL_DB_STATEMENT_TIMEOUT": "1s"})
	v := ts.demoVisit(t)
	up := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	ctx := context.Background()
	count := func() (objects, files, pending int) {
		left, err := ts.Portal.Blobs().Versions(ctx, v.Bucket, "")
		if err != nil {
			t.Fatal(err)
		}
		ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM files WHERE visit_id = ?`, v.ID).Scan(&files)
		ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM pending_uploads WHERE visit_id = ?`, v.ID).Scan(&pending)
		return len(left), files, pending
	}
	o0, f0, p0 := count()
	conn, err := ts.Portal.Store().DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var id string
	if err := tx.QueryRowContext(ctx, `SELECT id FROM visits WHERE id = $1 FOR UPDATE`, v.ID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	wantUnavailable(t, "an upload into a held visit", up.upload(v.ID, "1.01 Held.pdf", strings.NewReader("held"), 4))
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the upload waited %s for the held row", took)
	}
	time.Sleep(3 * time.Second) // the failed upload's second look
	if o, f, p := count(); o != o0 || f != f0 || p != p0 {
		t.Errorf("after the refused upload: %d objects, %d files, %d pending; before it %d, %d, %d", o, f, p, o0, f0, p0)
	}
	// Let go (PostgreSQL may have ended the idle transaction already).
	tx.Rollback()
	up.uploadItem(v.ID, "1.01 Held.pdf", "", []byte("held"))
}

// TestSignInWhileTheDatabaseIsGone: a person signs in at their provider
// while the portal's database is gone. The callback is answered 503 with
// Retry-After, not "the sign-in link may have expired", and it is not
// counted as a failed sign-in from their address: once the database is
// back they sign in at once. Before, the outage was counted against the
// address, and with a strict limit it was refused as too many attempts
// after the database came back.
func TestSignInWhileTheDatabaseIsGone(t *testing.T) {
	pg := startRestartablePG(t)
	ts := startStackSetup(t, func(o *devstack.Options) {
		o.DatabaseURL = pg.srv.URL
		o.Env = map[string]string{"PORTAL_SIGNIN_FAILURE_RATE": "1/15m"}
	})
	b := ts.newBrowser(t)
	resp := b.get("/auth/cafcass/login")
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the provider's form: %d %s", resp.StatusCode, page)
	}
	pg.crash()
	resp = b.submitLogin(resp.Request.URL, page, "uploader@cafcass.example", devidp.DemoPassword)
	wantUnavailable(t, "the sign-in's callback", resp)

	pg.start()
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, resp, page := ts.signInAt(t, "cafcass", "uploader@cafcass.example")
		if resp.StatusCode == http.StatusOK && resp.Request.URL.Path == "/visits" {
			break
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("a sign-in once the database is back: %d at %s: %.300s", resp.StatusCode, resp.Request.URL.Path, page)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestDownloadHoldsNoConnection: a download holds no database connection
// while it sends: with a pool of one connection, a download whose reader
// has stopped reading leaves every other request served.
func TestDownloadHoldsNoConnection(t *testing.T) {
	if !pgserver.TestDatabaseWanted() {
		t.Skip("a pool of connections is PostgreSQL's: this runs in make test's PostgreSQL pass (PORTAL_TEST_DATABASE=postgres)")
	}
	ts := startStackWith(t, map[string]string{"PORTAL_DB_MAX_CONNS": "1", "PORTAL_SEGMENT_SIZE": "1MiB"})
	v := ts.demoVisit(t)
	up := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	data := bytes.Repeat([]byte("evidence "), 24<<20/9) // more than the connection buffers hold
	f := up.uploadItem(v.ID, "1.05 Large.zip", "", data)
	resp := lead.get("/api/v1/visits/" + v.ID + "/files/" + f.ID + "/content")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d", resp.StatusCode)
	}
	defer resp.Body.Close()
	if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	// The download is under way, its reader reading no more.
	for i := range 3 {
		start := time.Now()
		r := up.get("/api/v1/visits/" + v.ID + "/files")
		r.Body.Close()
		if r.StatusCode != http.StatusOK || time.Since(start) > 5*time.Second {
			t.Fatalf("request %d during a download: %d after %s", i, r.StatusCode, time.Since(start).Round(time.Millisecond))
		}
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(append(data[:1000:1000], rest...), data) {
		t.Fatalf("the download's rest: %d bytes (%v)", len(rest), err)
	}
}
