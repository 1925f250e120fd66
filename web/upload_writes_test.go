package web_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
	"github.com/ofsted-portal/evidence/web"
)

// TestUploadWritesOnce: a small upload is bound by its writes to the
// database, so each costs as few as custody allows: two transactions.
// Its receipt is kept in the transaction that commits the file (it was a
// third transaction of its own, with its own audit append), and its name
// is reserved in the one that records the upload as begun (it was a
// write of its own before it); that pending record, before the objects
// are written, stays a transaction of its own, so a crash leaves nothing
// the janitor cannot find. (That none of its statements reads a growing
// table from end to end, the stack checks as it closes.)
func TestUploadWritesOnce(t *testing.T) {
	var mu sync.Mutex
	var upload []string
	ts := startStackSetup(t, func(o *devstack.Options) {
		o.WebOptions = []web.Option{web.WithStatementCount(func(r *http.Request, route string, qs []string) {
			if r.Method == http.MethodPost && strings.HasSuffix(route, "/files") {
				mu.Lock()
				upload = qs
				mu.Unlock()
			}
		})}
	})
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	f := decode[fileResp](t, uploader.upload(v.ID, "1.01 Structure.pdf", strings.NewReader("%PDF-1.7 structure"), 18), http.StatusCreated)
	// The statements are reported once the response is written.
	var begins, receipts, replacements int
	for range 100 {
		mu.Lock()
		qs := upload
		mu.Unlock()
		if qs != nil {
			inTx := false
			for _, q := range qs {
				switch {
				case strings.HasPrefix(q, "BEGIN"):
					begins, inTx = begins+1, true
				case strings.HasPrefix(q, "COMMIT"), strings.HasPrefix(q, "ROLLBACK"):
					inTx = false
				case strings.HasPrefix(q, "UPDATE sessions "):
					// The session's expiry, moved on at most once a minute.
				case !inTx && (strings.HasPrefix(q, "INSERT") || strings.HasPrefix(q, "UPDATE") || strings.HasPrefix(q, "DELETE")):
					begins++ // a write of its own is a transaction of its own
				}
				if strings.HasPrefix(q, "INSERT INTO receipts") {
					receipts++
				}
				if strings.Contains(q, "file_replacements") {
					replacements++
				}
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if begins != 2 || receipts != 1 {
		t.Errorf("an upload ran %d transactions and kept %d receipts, want 2 and 1", begins, receipts)
	}
	// Its name was free, taken as the upload began: it replaces no file,
	// so its commit looks for no replaced version.
	if replacements != 0 {
		t.Errorf("an upload under a free name ran %d statements on file_replacements, want none", replacements)
	}
	signed := decode[struct {
		Receipt struct {
			Uploader struct {
				Email string `json:"email"`
			} `json:"uploader"`
			Files []struct {
				ID     string `json:"id"`
				SHA256 string `json:"sha256"`
			} `json:"files"`
		} `json:"receipt"`
	}](t, uploader.get("/api/v1/visits/"+v.ID+"/receipts?file="+f.ID), http.StatusOK)
	r := signed.Receipt
	if r.Uploader.Email != "uploader@cafcass.example" || len(r.Files) != 1 || r.Files[0].ID != f.ID || r.Files[0].SHA256 != f.SHA256 {
		t.Errorf("the upload's receipt: %+v", r)
	}
}

// TestVisitReadOnce: a request on a visit reads the visit with its legal
// hold and its key's fingerprint in one statement. Each was a statement of
// its own (the visit, then its hold for its status, then the fingerprint
// before the key was used): two more round trips on every upload and
// download, and on every page that shows a name (the file list and its
// search, the information request).
func TestVisitReadOnce(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{}
	ts := startStackSetup(t, func(o *devstack.Options) {
		o.WebOptions = []web.Option{web.WithStatementCount(func(r *http.Request, route string, qs []string) {
			mu.Lock()
			seen[r.Method+" "+route] = qs
			mu.Unlock()
		})}
	})
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	f := decode[fileResp](t, uploader.upload(v.ID, "1.01 Structure.pdf", strings.NewReader("%PDF-1.7 structure"), 18), http.StatusCreated)
	if code, _, body := uploader.download(v.ID, f.ID); code != http.StatusOK || string(body) != "%PDF-1.7 structure" {
		t.Fatalf("download: %d %q", code, body)
	}
	files := "/api/v1/visits/:id/files"
	gets := map[string]string{ // routes still to be asked for, and how
		"GET /api/v1/visits/:id":         "/api/v1/visits/" + v.ID,
		"GET " + files:                   "/api/v1/visits/" + v.ID + "/files?q=structure",
		"GET /api/v1/visits/:id/request": "/api/v1/visits/" + v.ID + "/request",
	}
	for _, route := range []string{"POST " + files, "GET " + files + "/:file/content", "GET /api/v1/visits/:id", "GET " + files, "GET /api/v1/visits/:id/request"} {
		if path, ok := gets[route]; ok {
			resp := uploader.get(path)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", path, resp.StatusCode)
			}
		}
		var qs []string
		for range 100 { // the statements are reported once the response is written
			mu.Lock()
			qs = seen[route]
			mu.Unlock()
			if qs != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if qs == nil {
			t.Fatalf("%s: no statements reported (routes seen: %v)", route, keys(seen, &mu))
		}
		visits, holds, fingerprints := 0, 0, 0
		for _, q := range qs {
			if strings.HasPrefix(q, "BEGIN") {
				break // what the act writes, and reads again as it ends, is its own
			}
			switch {
			case strings.Contains(q, "FROM visits WHERE id = ?") && strings.HasPrefix(q, "SELECT visits.id, reference"):
				visits++
			case strings.HasPrefix(q, "SELECT legal_hold"):
				holds++
			case strings.HasPrefix(q, "SELECT fingerprint FROM visit_keys"):
				fingerprints++
			}
		}
		if visits != 1 || holds != 0 || fingerprints != 0 {
			t.Errorf("%s read the visit %d times, its hold %d and its key's fingerprint %d more, want once and none:\n%s",
				route, visits, holds, fingerprints, strings.Join(qs, "\n"))
		}
	}
}

func keys(m map[string][]string, mu *sync.Mutex) []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestUploadStatementCount pins the statements a small upload sends once
// its visit's names are indexed (a one-off check on the visit's first
// upload in each process): a small upload is bound by its statements, so
// one more, a read included, costs every file. Two were dropped: the read
// of the file's objects to hold after the commit, when the commit's own
// read of the visit found no legal hold (there can be none to hold then:
// a hold set since is carried by its own act), and the person's portal
// role read apart from the person. One was added: the file's item's
// restriction, read in the commit, so that the lead inspector is told of
// the file only if they may see it (notesFor).
func TestUploadStatementCount(t *testing.T) {
	var mu sync.Mutex
	var uploads [][]string
	ts := startStackSetup(t, func(o *devstack.Options) {
		o.WebOptions = []web.Option{web.WithStatementCount(func(r *http.Request, route string, qs []string) {
			if r.Method == http.MethodPost && strings.HasSuffix(route, "/files") {
				mu.Lock()
				uploads = append(uploads, qs)
				mu.Unlock()
			}
		})}
	})
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	for _, name := range []string{"1.01 Structure.pdf", "1.01 Staffing.pdf"} {
		decode[fileResp](t, uploader.upload(v.ID, name, strings.NewReader("%PDF-1.7 structure"), 18), http.StatusCreated)
	}
	var qs []string
	for range 100 { // the statements are reported once the response is written
		mu.Lock()
		if len(uploads) == 2 {
			qs = uploads[1]
		}
		mu.Unlock()
		if qs != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if qs == nil {
		t.Fatal("the second upload's statements were not reported")
	}
	var n, holds, roles int
	for _, q := range qs {
		switch {
		case strings.HasPrefix(q, "UPDATE sessions "):
			continue // the session's expiry, moved on at most once a minute
		case strings.HasPrefix(q, "SELECT pg_advisory_xact_lock"):
			continue // PostgreSQL's lock on the audit chain, in each transaction that appends to it
		}
		n++
		if strings.Contains(q, "FROM objects_to_hold") {
			holds++
		}
		if strings.HasPrefix(q, "SELECT COUNT(*) FROM portal_roles") {
			roles++
		}
	}
	const want = 24
	if holds != 0 || roles != 0 || n != want {
		t.Errorf("an upload to a visit without a legal hold sent %d statements (want %d), %d of them reading objects to hold and %d the person's role apart (want none):\n%s",
			n, want, holds, roles, strings.Join(qs, "\n"))
	}
}
