package web_test

import (
	"testing"
	"time"
)

// TestBrowserWalk runs web/tests/walk.mjs: a visit walked by the
// coordinator, the lead inspector and an administrator in Chromium, each
// page checked at 320 px and at desktop width for what axe-core does not
// check (targets, focus shown and not hidden, titles and headings, text
// cut off, controls' names, the error summary's focus).
func TestBrowserWalk(t *testing.T) {
	onceAcrossDatabases(t)
	browserTools(t)
	ts := startStack(t)
	v := ts.demoVisit(t)
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	uploader.uploadItem(v.ID, "1.01 Structure chart.pdf", "", []byte("structure"))
	uploader.uploadItem(v.ID, "1.01 Staff list.pdf", "", []byte("staff"))
	start := time.Now()
	out, err := runBrowserScript(t, ts, "walk.mjs", "browser-walk", 3*time.Minute, "VISIT_ID="+v.ID)
	t.Logf("walk output (%s):\n%s", time.Since(start).Round(time.Second), out)
	if err != nil {
		t.Fatalf("browser walk failed: %v", err)
	}
}
