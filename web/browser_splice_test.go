package web_test

import (
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devstack"
)

// TestBrowserResumesOnlyTheSameFile runs web/tests/splice.mjs in Chromium
// against a real stack with 1 MiB segments: an upload paused after its
// first segment goes on when the same file is chosen again after a
// reload, and a different file alike in name, type, size and modification
// time is not sent into it. Screenshots go to test-artifacts/browser-splice.
func TestBrowserResumesOnlyTheSameFile(t *testing.T) {
	onceAcrossDatabases(t)
	browserTools(t)
	ts := startStackSetup(t, func(o *devstack.Options) { o.Env = map[string]string{"PORTAL_SEGMENT_SIZE": "1048576"} })
	v := ts.demoVisit(t)
	out, err := runBrowserScript(t, ts, "splice.mjs", "browser-splice", 3*time.Minute, "VISIT_ID="+v.ID)
	t.Logf("splice.mjs output:\n%s", out)
	if err != nil {
		t.Fatalf("browser script failed: %v", err)
	}
}
