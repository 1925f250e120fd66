package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ofsted-portal/evidence/portal"
)

// TestLabelsFromFixedSets: values outside the fixed sets are counted as
// "other", never passed through.
func TestLabelsFromFixedSets(t *testing.T) {
	r := New([]string{"member-views-visit"})
	r.Request("BREW", "", 999, time.Millisecond)
	r.Request("GET", "/visits/:id", 200, time.Millisecond)
	r.Decision(true, "member-views-visit")
	r.Decision(false, "someone@example.org")
	r.Decision(false, "")
	r.S3Error("portal-visit-0123/secret.pdf")
	r.DatabaseError("ping")
	r.Retention(portal.RetentionCounts{Due: 2, Destroyed: 3, Failed: 1, OnHold: 4})
	r.Transfer(true, 10, time.Second)
	r.StoreBehind(1, 2)
	body := scrape(t, r)
	for _, want := range []string{
		`portal_http_requests_total{method="other",route="unmatched",status="other"} 1`,
		`portal_http_requests_total{method="GET",route="/visits/:id",status="200"} 1`,
		`portal_policy_decisions_total{outcome="allow",policy="member-views-visit"} 1`,
		`portal_policy_decisions_total{outcome="deny",policy="other"} 1`,
		`portal_policy_decisions_total{outcome="deny",policy="none"} 1`,
		`portal_s3_errors_total{operation="other"} 1`,
		`portal_database_errors_total{operation="ping"} 1`,
		`portal_retention_visits{state="on_hold"} 4`,
		`portal_store_behind{what="visits"} 1`,
		`portal_store_behind{what="files"} 2`,
		`portal_transfer_bytes_total{direction="upload"} 10`,
		`portal_ready 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(body, "example.org") || strings.Contains(body, "secret") {
		t.Error("a value outside the fixed sets reached a label")
	}
}

// TestCheckpointAge is computed at scrape time from when records went
// uncovered.
func TestCheckpointAge(t *testing.T) {
	r := New(nil)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return now }
	r.AuditUncovered(now.Add(-90 * time.Minute))
	if body := scrape(t, r); !strings.Contains(body, "portal_audit_checkpoint_age_seconds 5400\n") {
		t.Error("age of records uncovered for 90 minutes is not 5400 s")
	}
	r.AuditUncovered(time.Time{})
	if body := scrape(t, r); !strings.Contains(body, "portal_audit_checkpoint_age_seconds 0\n") {
		t.Error("covered records have an age")
	}
}

func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// BenchmarkRequest is the cost counting adds to each request.
func BenchmarkRequest(b *testing.B) {
	r := New(nil)
	b.ReportAllocs()
	for b.Loop() {
		r.Request("GET", "/api/v1/visits/:id/files/:file/content", 200, time.Millisecond)
	}
}
