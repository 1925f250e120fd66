package web_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/calendar"
	"github.com/ofsted-portal/evidence/portal/store"
)

// TestBrowserFindingFiles runs web/tests/public.mjs in Chromium against a
// real stack holding 300 seeded files and two uploaded ones: paging 50 at a
// time with counts, natural order, search, filters by item, uploader and
// day, and orders, with and without JavaScript; a PDF's inline headers and
// a PNG shown inline under its sandbox; the footer's support pages; and,
// on a second stack whose sessions end after 20 idle seconds, the warning
// before the end, staying signed in, and the sign-out when time runs out.
// Every page is checked by axe-core and at 320 and 1280 px wide.
// Screenshots go to test-artifacts/browser-public.
func TestBrowserFindingFiles(t *testing.T) {
	onceAcrossDatabases(t)
	browserTools(t)
	ctx := context.Background()
	ts := startStack(t)
	short := startStackWith(t, map[string]string{"PORTAL_SESSION_IDLE_TIMEOUT": "20s"})
	v := ts.demoVisit(t)

	const seeded = 300
	ts.signIn(t, "ofsted", "lead@ofsted.example") // the lead's user row
	var leadID string
	if err := ts.Portal.Store().DB().QueryRow(`SELECT id FROM users WHERE email = ?`, "lead@ofsted.example").Scan(&leadID); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// SeedFiles dates its files a second apart, ending now; a minute's
	// margin covers the clock between here and there.
	firstDay := calendar.Today(start.Add(time.Duration(ts.offset.Load())).Add(-seeded*time.Second - time.Minute)).Format(time.DateOnly)
	if err := ts.Portal.SeedFiles(ctx, v.ID, leadID, seeded); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d files in %s", seeded, time.Since(start).Round(time.Millisecond))
	coordinator := ts.signIn(t, "cafcass", "coordinator@cafcass.example")
	pdf := coordinator.uploadItem(v.ID, "1.01 Structure.pdf", "", []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"))
	img := image.NewRGBA(image.Rect(0, 0, 40, 20))
	for x := range 40 {
		for y := range 20 {
			img.Set(x, y, color.RGBA{29, 112, 184, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	chart := coordinator.uploadItem(v.ID, "1.01 Chart.png", "", b.Bytes())

	out, err := runBrowserScript(t, ts, "public.mjs", "browser-public", 4*time.Minute,
		"VISIT_ID="+v.ID, "PDF_ID="+pdf.ID, "PNG_ID="+chart.ID, "SEEDED="+strconv.Itoa(seeded), "TOTAL="+strconv.Itoa(seeded+2), "FIRST_DAY="+firstDay,
		"TIMEOUT_URL="+short.PortalURL, "TIMEOUT_VISIT_ID="+short.demoVisit(t).ID)
	t.Logf("public pages output:\n%s", out)
	if err != nil {
		t.Fatalf("browser test of finding files and the public pages failed: %v", err)
	}
	// The page's own sign-out, when time ran out, reached the session
	// before the server ended it: a sign-out of a live session, so it
	// went on to the provider's end-session too.
	recs, err := short.Portal.Store().AuditRecords(ctx, store.AuditFilter{Action: "signout"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].ActorEmail != "lead@ofsted.example" || strings.Contains(recs[0].Detail, "expired") {
		t.Errorf("the sign-out when time ran out: %+v, want one of a session not yet ended", recs)
	}
}
