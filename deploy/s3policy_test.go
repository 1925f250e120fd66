package deploy

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestS3PolicyDocumented: the policy operators copy from docs/operating.md
// is the one the portal's tests run it under (s3-policy.json), word for
// word, and it is valid JSON with its placeholders filled in.
func TestS3PolicyDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/operating.md")
	if err != nil {
		t.Fatal(err)
	}
	const heading = "**The portal's S3 policy.**"
	text := string(doc)
	at := strings.Index(text, heading)
	if at < 0 {
		t.Fatalf("docs/operating.md has no %q", heading)
	}
	_, block, ok := strings.Cut(text[at:], "```json\n")
	if ok {
		block, _, ok = strings.Cut(block, "```\n")
	}
	if !ok {
		t.Fatalf("docs/operating.md shows no policy (a json block) under %q", heading)
	}
	if block != s3Policy {
		t.Errorf("the policy in docs/operating.md is not deploy/s3-policy.json; docs:\n%s\nfile:\n%s", block, s3Policy)
	}
	var p struct {
		Statement []struct{ Sid string }
	}
	if err := json.Unmarshal([]byte(S3Policy("portal-visit-", "portal-audit-anchors", "portal-key-epochs")), &p); err != nil || len(p.Statement) == 0 {
		t.Fatalf("the policy does not parse: %v", err)
	}
	if strings.ContainsAny(S3Policy("a-", "b", "c"), "<>") {
		t.Error("a placeholder is left unfilled")
	}
}

// TestS3PolicyNamesOnlyThePortalsBuckets: every statement of the policy is
// on the portal's own buckets (the visits' prefix, the anchors, the keys):
// nothing on "*", which would let anyone holding the portal's credentials
// list, or do more with, every bucket in the account.
func TestS3PolicyNamesOnlyThePortalsBuckets(t *testing.T) {
	var p struct {
		Statement []struct {
			Sid      string
			Resource []string
		}
	}
	if err := json.Unmarshal([]byte(S3Policy("portal-visit-", "portal-audit-anchors", "portal-key-epochs")), &p); err != nil {
		t.Fatal(err)
	}
	for _, st := range p.Statement {
		for _, r := range st.Resource {
			b, _, _ := strings.Cut(strings.TrimPrefix(r, "arn:aws:s3:::"), "/")
			if !strings.HasPrefix(r, "arn:aws:s3:::") || b != "portal-visit-*" && b != "portal-audit-anchors" && b != "portal-key-epochs" {
				t.Errorf("statement %s grants on %s, not one of the portal's buckets", st.Sid, r)
			}
		}
	}
}
