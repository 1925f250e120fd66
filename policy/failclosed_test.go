package policy

import (
	"strings"
	"testing"
)

// TestAnErrorInAPolicyRefuses: a policy that fails to evaluate (an
// attribute its condition reads is missing, after a change to what the
// portal passes it) is skipped by Cedar. A forbid skipped so no longer
// applies, and a permit matching the request then allowed it. An allow
// beside any error is now refused.
func TestAnErrorInAPolicyRefuses(t *testing.T) {
	e, err := newEngine("test.cedar", []byte(`
@id("members-may")
permit (principal, action, resource);

@id("broken-forbid")
forbid (principal, action, resource) when { resource.no_such_attribute };
`))
	if err != nil {
		t.Fatal(err)
	}
	d := e.Decide(Principal{UserID: "u1", Role: "lead_inspector", InWindow: true}, FileDownload,
		Resource{VisitID: "v1", File: &File{ID: "f1", Item: "1.01", UploadedBy: "u2", Scan: "clean"}})
	if d.Allow || d.Rule != "policy-error" {
		t.Errorf("a forbid that failed to evaluate beside a permit that matched: allow %v, rule %q, policies %v; want refused, policy-error", d.Allow, d.Rule, d.Policies)
	}
}

// TestAnErrorBesideAForbidKeepsItsReason: a refusal a forbid decided
// stays that forbid's, beside a policy that failed to evaluate: a
// destroyed visit is still gone (410), not merely refused.
func TestAnErrorBesideAForbidKeepsItsReason(t *testing.T) {
	e, err := newEngine("test.cedar", []byte(`
@id("members-may")
permit (principal, action, resource);

@id("broken-forbid")
forbid (principal, action, resource) when { resource.no_such_attribute };

@id("visit-destroyed")
forbid (principal, action, resource) when { context.visit_state == "destroyed" };
`))
	if err != nil {
		t.Fatal(err)
	}
	d := e.Decide(Principal{UserID: "u1", Role: "lead_inspector", InWindow: true}, FileDownload,
		Resource{VisitID: "v1", VisitState: "destroyed", File: &File{ID: "f1", Item: "1.01", UploadedBy: "u2", Scan: "clean"}})
	if d.Allow || !d.Gone {
		t.Errorf("a destroyed visit's file beside a policy that failed: allow %v, gone %v, rule %q; want gone", d.Allow, d.Gone, d.Rule)
	}
	if got := Explain(Decision{Rule: "policy-error", Visible: true}); !strings.Contains(got, "failed to evaluate") {
		t.Errorf("explain of a policy error: %q", got)
	}
}
