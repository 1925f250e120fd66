package web_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal/receipt"
)

// TestBrowserReceiptsAndQuestions runs web/tests/receipts.mjs in Chromium
// against a real stack: an uploader sends a batch, downloads its signed
// receipt (checked here offline with the portal's public key) and prints
// it; the Cafcass coordinator asks a question that an Ofsted inspector
// answers and marks answered. Screenshots go to
// test-artifacts/browser-receipts.
func TestBrowserReceiptsAndQuestions(t *testing.T) {
	onceAcrossDatabases(t)
	root, _ := browserTools(t)
	ts := startStack(t)
	v := ts.demoVisit(t)
	out, err := runBrowserScript(t, ts, "receipts.mjs", "browser-receipts", 3*time.Minute, "VISIT_ID="+v.ID)
	t.Logf("receipts.mjs output:\n%s", out)
	if err != nil {
		t.Fatalf("browser script failed: %v", err)
	}
	signed, err := os.ReadFile(filepath.Join(root, "test-artifacts", "browser-receipts", "receipt.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := receipt.Verify(signed, ts.signingPublicKey(t))
	if err != nil || r.Kind != receipt.KindBatch || len(r.Files) != 2 || r.Reference != v.Reference {
		t.Fatalf("the receipt the browser downloaded: %+v %v", r, err)
	}
}
