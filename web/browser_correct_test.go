package web_test

import (
	"testing"
	"time"
)

// TestBrowserCorrections runs web/tests/correct.mjs: the upload page's
// warnings, replacing a file from the visit page and marking an item
// complete, in Chromium, with axe-core on every page.
func TestBrowserCorrections(t *testing.T) {
	onceAcrossDatabases(t)
	browserTools(t)
	ts := startStack(t)
	v := ts.demoVisit(t)
	out, err := runBrowserScript(t, ts, "correct.mjs", "browser-correct", 3*time.Minute, "VISIT_ID="+v.ID)
	t.Logf("corrections output:\n%s", out)
	if err != nil {
		t.Fatalf("browser corrections failed: %v", err)
	}
	// What the browser did, as the portal recorded it.
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	versions := lead.listCorrected(v.ID, "q=MI+report&versions=1")
	superseded := 0
	for _, f := range versions {
		if f.SupersededBy != "" {
			superseded++
		}
	}
	if len(versions) != 3 || superseded != 2 {
		t.Fatalf("versions after the browser's replacements: %+v", versions)
	}
	if auditCount(t, ts, v.ID, "request.item_completed", "1.03") != 1 {
		t.Fatal("no record of the item marked complete")
	}
	if n := len(lead.listCorrected(v.ID, "q=blank")); n != 0 {
		t.Fatalf("the empty file the person chose not to send was sent (%d)", n)
	}
}
