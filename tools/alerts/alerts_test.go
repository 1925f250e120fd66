package alerts

import (
	"log/slog"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

const (
	rulesFile   = "../../deploy/prometheus/alerts.yaml"
	metricsFile = "../../portal/metrics/metrics.go" // where the portal names its metrics
)

// TestAlertRules loads the rules as Prometheus does (rulefmt validates
// each rule, its expression and its templates), parses each expression
// again to walk it, and checks that every metric it reads is one the
// portal exports and that the alerts the runbook promises are there.
func TestAlertRules(t *testing.T) {
	groups, errs := rulefmt.ParseFile(rulesFile, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("%s: %v", rulesFile, err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	exported := portalMetrics(t)
	var alerts []string
	read := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("rule %q is not an alert", r.Record)
				continue
			}
			alerts = append(alerts, r.Alert)
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
			if err != nil {
				t.Errorf("%s: %v", r.Alert, err)
				continue
			}
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					read[vs.Name] = true
					if !exported[vs.Name] {
						t.Errorf("%s reads %s, which the portal does not export", r.Alert, vs.Name)
					}
				}
				return nil
			})
			if r.Annotations["summary"] == "" || r.Annotations["runbook"] == "" || r.Labels["severity"] == "" {
				t.Errorf("%s needs a summary, a runbook link and a severity", r.Alert)
			}
		}
	}
	for _, want := range []string{"PortalDestructionFailed", "PortalAuditCheckpointStale", "PortalNotReady", "PortalS3Errors", "PortalMailFailures", "PortalScannerDown", "PortalInfectedUpload", "PortalStoreBehind"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("alert %s missing", want)
		}
	}
	for _, want := range []string{"portal_destruction_failures_total", "portal_retention_visits", "portal_audit_checkpoint_age_seconds",
		"portal_ready", "portal_s3_errors_total", "portal_mail_failures_total", "portal_scanner_up", "portal_scan_verdicts_total", "portal_store_behind"} {
		if !read[want] {
			t.Errorf("no alert reads %s", want)
		}
	}
}

// portalMetrics are the metric names portal/metrics registers, read from
// its source (this module cannot import the portal's).
func portalMetrics(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile(metricsFile)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`"(portal_[a-z0-9_]+)"`).FindAllStringSubmatch(string(src), -1) {
		names[m[1]] = true
	}
	if len(names) < 10 {
		t.Fatalf("only %d metric names found in %s", len(names), metricsFile)
	}
	return names
}
