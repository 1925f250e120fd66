package web_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsCarryNoIdentifiers scrapes the metrics listener of a real
// stack after uploads, downloads, refusals, a failed and then a successful
// destruction: the families operators alert on are there with the counts
// that happened, and no label value is an id, an email or a file name.
func TestMetricsCarryNoIdentifiers(t *testing.T) {
	ts := startStack(t)
	ctx := context.Background()
	admin := ts.signIn(t, "ofsted", "admin@ofsted.example")
	v := setUpVisit(t, ts, admin, "FV-MET-1")
	uploader := ts.signIn(t, "cafcass", "uploader@cafcass.example")
	lead := ts.signIn(t, "ofsted", "lead@ofsted.example")
	outsider := ts.signIn(t, "ofsted", "outsider@ofsted.example")
	const size = 300_000
	f := uploader.uploadItem(v.ID, "1.01 Structure chart.pdf", "", evidenceBytes(9, size))
	// The upload form's bytes count too: it answers 303 when it stores.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "1.02 Allocation policy.docx")
	fw.Write(evidenceBytes(10, size))
	mw.Close()
	req, _ := http.NewRequest("POST", uploader.base+"/visits/"+v.ID+"/files", &form)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if resp := uploader.do(req); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/visits/"+v.ID {
		t.Fatalf("form upload ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	if got := readAll(t, lead.get("/api/v1/visits/"+v.ID+"/files/"+f.ID+"/content")); len(got) != size {
		t.Fatalf("download: %d bytes", len(got))
	}
	if s := outsider.status("GET", "/api/v1/visits/"+v.ID+"/files/"+f.ID+"/content", nil); s != http.StatusNotFound {
		t.Fatalf("outsider's download: %d", s)
	}
	if s := uploader.status("POST", "/api/v1/visits/"+v.ID+"/events", map[string]string{"event": "draft_sent", "date": "2026-01-05"}); s != http.StatusForbidden {
		t.Fatalf("uploader recording a letter event: %d", s)
	}

	// A destruction the store refuses (an object under an S3 legal hold),
	// then the retry that succeeds.
	publish(t, ts, lead, v, 30)
	ts.offset.Store(int64(90 * 24 * time.Hour))
	ts.Portal.RunRetention(ctx) // notice
	decode[visitResp](t, admin.sendJSON("POST", "/api/v1/visits/"+v.ID+"/destruction/approve", nil), http.StatusOK)
	mc := ts.Portal.Blobs().Client()
	on, off := minio.LegalHoldEnabled, minio.LegalHoldDisabled
	if err := mc.PutObjectLegalHold(ctx, v.Bucket, f.ID+"/0", minio.PutObjectLegalHoldOptions{Status: &on}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Portal.RunRetention(ctx); err == nil {
		t.Fatal("destroyed a bucket holding an object under legal hold")
	}
	if got := scrape(t, ts)["portal_retention_visits"]; value(got, "state", "failed") != 1 {
		t.Errorf("visits whose destruction failed: %v, want 1", value(got, "state", "failed"))
	}
	if err := mc.PutObjectLegalHold(ctx, v.Bucket, f.ID+"/0", minio.PutObjectLegalHoldOptions{Status: &off}); err != nil {
		t.Fatal(err)
	}
	ts.offset.Add(int64(2 * time.Minute))
	if ids, err := ts.Portal.RunRetention(ctx); err != nil || len(ids) != 1 {
		t.Fatalf("the retry: %v %v", ids, err)
	}

	var fams map[string]*dto.MetricFamily
	waitFor(t, 15*time.Second, "portal_ready 1", func() bool {
		fams = scrape(t, ts)
		return value(fams["portal_ready"], "", "") == 1
	})
	for _, name := range []string{"portal_http_requests_total", "portal_http_request_duration_seconds", "portal_transfer_bytes_total",
		"portal_transfer_duration_seconds", "portal_policy_decisions_total", "portal_audit_appends_total", "portal_audit_checkpoint_age_seconds",
		"portal_ready", "portal_retention_visits", "portal_destruction_failures_total", "portal_s3_errors_total", "portal_database_errors_total",
		"portal_mail_failures_total", "portal_mail_queue", "portal_scan_verdicts_total", "portal_scanner_up", "portal_store_behind"} {
		if fams[name] == nil {
			t.Errorf("family %s missing", name)
		}
	}
	for _, c := range []struct {
		family, label, value string
		min, max             float64
	}{
		{"portal_transfer_bytes_total", "direction", "upload", 2 * size, 2*size + 1024},
		{"portal_transfer_bytes_total", "direction", "download", size, size},
		{"portal_retention_visits", "state", "destroyed", 1, 1},
		{"portal_retention_visits", "state", "failed", 0, 0},
		{"portal_destruction_failures_total", "", "", 1, 1},
		{"portal_audit_appends_total", "", "", 10, 1e9},
		{"portal_scanner_up", "", "", 1, 1},
	} {
		if got := value(fams[c.family], c.label, c.value); got < c.min || got > c.max {
			t.Errorf("%s{%s=%q} = %v, want %v to %v", c.family, c.label, c.value, got, c.min, c.max)
		}
	}
	// The uploads went through the stack's clamd: two clean verdicts.
	if ts.Clamd != nil && (value(fams["portal_scan_verdicts_total"], "verdict", "clean") != 2 || value(fams["portal_scan_verdicts_total"], "verdict", "infected") != 0) {
		t.Errorf("scan verdicts: %v clean, %v infected; want 2 and 0", value(fams["portal_scan_verdicts_total"], "verdict", "clean"), value(fams["portal_scan_verdicts_total"], "verdict", "infected"))
	}
	if value(fams["portal_policy_decisions_total"], "outcome", "deny") < 2 || value(fams["portal_policy_decisions_total"], "outcome", "allow") < 5 {
		t.Error("policy decisions: too few allowed or denied")
	}
	if value(fams["portal_http_requests_total"], "route", "/api/v1/visits/:id/files/:file/content") != 2 {
		t.Error("the two downloads are not counted under their route pattern")
	}
	hexID := regexp.MustCompile(`[0-9a-f]{32}`)
	email := regexp.MustCompile(`[^\s@]+@[^\s@]+`)
	fileName := regexp.MustCompile(`\.[A-Za-z][A-Za-z0-9]{1,4}$`)
	for name, fam := range fams {
		for _, m := range fam.Metric {
			for _, l := range m.Label {
				val := l.GetValue()
				if hexID.MatchString(val) || email.MatchString(val) || fileName.MatchString(val) || strings.Contains(val, "FV-MET") {
					t.Errorf("%s{%s=%q}: a label value that identifies something", name, l.GetName(), val)
				}
				if strings.HasPrefix(name, "portal_") && l.GetName() == "route" && val != "unmatched" && !strings.HasPrefix(val, "/") {
					t.Errorf("%s route %q is not a pattern", name, val)
				}
			}
		}
	}
}

// scrape reads the stack's metrics listener.
func scrape(t *testing.T, ts *testStack) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(ts.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return fams
}

// value sums the counter, gauge or histogram count of fam's series whose
// label is value ("" label: every series).
func value(fam *dto.MetricFamily, label, want string) float64 {
	if fam == nil {
		return -1
	}
	sum := 0.0
	for _, m := range fam.Metric {
		if label != "" && !hasLabel(m, label, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.Label {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}
