package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/deploy/devidp"
	"github.com/ofsted-portal/evidence/portal/store"
	"github.com/ofsted-portal/evidence/web"
)

// TestBrowserSignIn runs web/tests/signin.mjs in Chromium against a real
// stack: return_to values that a browser's own URL parsing could turn into
// another site stay on the portal (thousands resolved by Chromium's URL
// parser, and real sign-ins followed to where they end); an upload still
// running when the person signs out in another tab cannot sign them in
// again when it ends; a sign-in without a second factor is refused with a
// page that says so; a file whose name is taken is offered "Keep both".
// Screenshots go to test-artifacts/browser-signin.
func TestBrowserSignIn(t *testing.T) {
	onceAcrossDatabases(t)
	root, chromium := browserTools(t)
	ts := startStack(t)
	v := ts.demoVisit(t)

	type returnCase struct {
		Raw      string `json:"raw"`
		Location string `json:"location"`
	}
	var cases []returnCase
	for _, raw := range web.ReturnToCandidates(3000) {
		cases = append(cases, returnCase{raw, web.LocationAfterSignIn(raw)})
	}
	dir := t.TempDir()
	casesFile := filepath.Join(dir, "return-to.json")
	b, _ := json.Marshal(cases)
	if err := os.WriteFile(casesFile, b, 0o600); err != nil {
		t.Fatal(err)
	}

	artifacts := filepath.Join(root, "test-artifacts", "browser-signin")
	os.RemoveAll(artifacts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(root, "web", "tests", "signin.mjs"))
	cmd.Dir = filepath.Join(root, "web")
	cmd.Env = append(os.Environ(),
		"PORTAL_URL="+ts.PortalURL, "ARTIFACTS="+artifacts, "VISIT_ID="+v.ID, "RETURN_TO_CASES="+casesFile,
		"DEMO_PASSWORD="+devidp.DemoPassword, "PASSWORD_ONLY_USER="+devidp.PasswordOnlyUser, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("sign-in browser test output:\n%s", out)
	if err != nil {
		t.Fatalf("sign-in browser test failed: %v", err)
	}
	// The session the uploader signed out of is not in the database after
	// the late upload ended (it is stored under its token's hash).
	var result struct {
		SignedOutSession string `json:"signedOutSession"`
	}
	rb, err := os.ReadFile(filepath.Join(artifacts, "result.json"))
	if err != nil || json.Unmarshal(rb, &result) != nil || result.SignedOutSession == "" {
		t.Fatalf("no result from the script: %v %s", err, rb)
	}
	sum := sha256.Sum256([]byte(result.SignedOutSession))
	var n int
	ts.Portal.Store().DB().QueryRow(`SELECT COUNT(*) FROM sessions WHERE token = ?`, base64.RawURLEncoding.EncodeToString(sum[:])).Scan(&n)
	if n != 0 {
		t.Fatal("the session signed out of came back after the late upload")
	}
	// The late upload had reached the portal before the sign-out: the
	// trail holds its start first (the uploads of "Keep both" come after).
	recs, err := ts.Portal.Store().AuditRecords(context.Background(), store.AuditFilter{ActorEmail: "uploader@cafcass.example", Actions: []string{"upload.started", "signout"}})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range recs {
		order = append(order, r.Action)
	}
	if len(order) < 2 || !slices.Equal(order[:2], []string{"upload.started", "signout"}) {
		t.Fatalf("the uploader's records: %v, want the late upload begun before the sign-out", order)
	}
}
