package web_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/calendar"
)

// TestBrowserVisitLife runs web/tests/life.mjs in Chromium against a real
// stack: letter events to publication through the visit page, with a date
// that is not real shown in place and a publication refused while a
// complaint is open; a legal hold set and lifted; the audit trail in words;
// a destruction approved on the review page and the record page of the
// destroyed visit. axe-core finds no WCAG 2.2 AA violation on any of these
// pages, none scrolls sideways at 320 CSS pixels, and each is saved as a
// screenshot in test-artifacts/browser-life.
func TestBrowserVisitLife(t *testing.T) {
	onceAcrossDatabases(t)
	browserTools(t)
	ts := startStack(t)
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	// A second administrator, who approves what the first let go on.
	me := decode[struct{ Issuer string }](t, admin.get("/api/v1/me"), http.StatusOK)
	if err := ts.Portal.Store().GrantPortalRole(context.Background(), "administrator", me.Issuer, "outsider@ofsted.example", time.Now()); err != nil {
		t.Fatal(err)
	}
	v := setUpVisit(t, ts, admin, "FV-LIFE-2")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	f := uploader.uploadItem(v.ID, "1.01 Organisation chart.pdf", "", []byte("chart"))
	readAll(t, lead.get("/api/v1/visits/"+v.ID+"/files/"+f.ID+"/content"))
	end := fieldworkEnd(t, lead, v)
	// The script publishes this many days after fieldwork: the final
	// letter goes two days after it, and the provider's 5 working days to
	// complain take at most 12 more (over Christmas and the New Year).
	const publishAfter = 16

	// The script asks for time to pass (once signed in: sign-in checks the
	// identity provider's tokens against the portal's clock) and for the
	// retention sweep to run.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctl := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/clock" {
			ts.offset.Store(int64(45 * 24 * time.Hour)) // fieldwork is over, and the complaint window
			// The portal's day in London from now on: every act the
			// script records later falls on it or after it, whenever
			// midnight passes.
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, calendar.Today(time.Now().Add(time.Duration(ts.offset.Load()))).Format(time.DateOnly))
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/sweep" {
			http.NotFound(w, r)
			return
		}
		// Past the destruction date: publication and the 30 days of
		// retention.
		y, m, d := time.Now().In(london).Date()
		ts.offset.Store(int64(end.AddDate(0, 0, publishAfter+31).Sub(calendar.Date(y, m, d))))
		if _, err := ts.Portal.RunRetention(context.Background()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go ctl.Serve(ln)
	defer ctl.Close()

	out, err := runBrowserScript(t, ts, "life.mjs", "browser-life", 4*time.Minute,
		"CONTROL_URL=http://"+ln.Addr().String(), "VISIT_ID="+v.ID, "FIELDWORK_END="+end.Format(time.DateOnly), "FILE_NAME=1.01 Organisation chart.pdf",
		fmt.Sprintf("PUBLISH_AFTER=%d", publishAfter))
	t.Logf("life output:\n%s", out)
	if err != nil {
		t.Fatalf("browser script failed: %v", err)
	}
}
