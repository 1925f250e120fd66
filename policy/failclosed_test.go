package policy

import (
	"testing"

	"github.com/cedar-policy/cedar-go"
)

// TestAnErrorInAPolicyRefuses: a policy that fails to evaluate (an
// attribute its condition reads is missing, after a change to what the
// portal passes it) is skipped by Cedar. A forbid skipped so no longer
// applies, and a permit matching the request then allowed it. Any error
// now refuses, whatever else matched.
func TestAnErrorInAPolicyRefuses(t *testing.T) {
	ps, err := cedar.NewPolicySetFromBytes("test.cedar", []byte(`
@id("members-may")
permit (principal, action, resource);

@id("restricted-item")
forbid (principal, action, resource) when { resource.no_such_attribute };
`))
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{policies: ps}
	d := e.Decide(Principal{UserID: "u1", Role: "lead_inspector", InWindow: true}, FileDownload,
		Resource{VisitID: "v1", File: &File{ID: "f1", Item: "1.01", UploadedBy: "u2", Scan: "clean"}})
	if d.Allow || d.Rule != "policy-error" {
		t.Errorf("a forbid that failed to evaluate beside a permit that matched: allow %v, rule %q, policies %v; want refused, policy-error", d.Allow, d.Rule, d.Policies)
	}
}
