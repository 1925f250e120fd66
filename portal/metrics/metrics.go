// Package metrics exports what the portal counts to Prometheus, on a
// listener of its own (PORTAL_METRICS_ADDR), never the portal's public one.
// It implements portal.Metrics (the domain's counts) and web.Metrics (the
// HTTP door's); cmd/portal serve and deploy/devstack wire it in, so neither
// the domain nor the door knows Prometheus.
//
// Invariants:
//   - No label value is an id, a name, an email, a path or a query: routes
//     are Gin's patterns (FullPath), methods and statuses come from fixed
//     sets, policy ids must be among the loaded policies', operations and
//     states are constants. Anything else is counted as "other".
//   - A scrape queries nothing: gauges hold what the background checks last
//     found, and the checkpoint age is computed from a stored time.
//   - Counting a request costs a few label lookups and no allocation of its
//     own.
package metrics

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/ofsted-portal/evidence/portal"
	"github.com/ofsted-portal/evidence/portal/blobs"
)

// Registry holds the portal's metrics.
type Registry struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	transferBytes *prometheus.CounterVec
	transferTime  *prometheus.HistogramVec

	decisions *prometheus.CounterVec
	policies  map[string]bool

	auditAppends prometheus.Counter
	uncovered    atomic.Int64 // Unix nanoseconds; 0: every record covered
	ready        prometheus.Gauge
	retention    *prometheus.GaugeVec
	storeBehind  *prometheus.GaugeVec
	destroyFails prometheus.Counter
	s3Errors     *prometheus.CounterVec
	dbErrors     *prometheus.CounterVec
	mailFailures prometheus.Counter
	mailQueue    prometheus.Gauge
	scans        *prometheus.CounterVec
	scannerUp    prometheus.Gauge

	now func() time.Time
}

var _ portal.Metrics = (*Registry)(nil)

// Label values from fixed sets.
var (
	methods   = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}
	statuses  [600]string
	s3Ops     = map[string]bool{blobs.OpGet: true, blobs.OpPut: true, blobs.OpDelete: true, blobs.OpHead: true, blobs.OpList: true, blobs.OpBucket: true, blobs.OpObject: true}
	dbOps     = map[string]bool{"ping": true, "audit": true, "checkpoint": true, "janitor": true, "retention": true}
	retStates = []string{"due", "destroyed", "failed", "on_hold"}
	behind    = []string{"visits", "files"}
	verdicts  = map[string]bool{"clean": true, "infected": true, "failed": true}
)

func init() {
	for i := 100; i < len(statuses); i++ {
		statuses[i] = strconv.Itoa(i)
	}
}

const other = "other"

// New makes the registry. policies are the ids of the loaded policies
// (policy.Engine.PolicyIDs): the only values the policy label takes.
func New(policies []string) *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), policies: map[string]bool{}, now: time.Now}
	for _, p := range policies {
		r.policies[p] = true
	}
	f := factory{r.reg}
	r.requests = f.counterVec("portal_http_requests_total", "HTTP requests by method, route pattern and status.", "method", "route", "status")
	r.latency = f.histogramVec("portal_http_request_duration_seconds", "Time to answer HTTP requests, by method, route pattern and status (uploads and downloads included).",
		prometheus.DefBuckets, "method", "route", "status")
	r.transferBytes = f.counterVec("portal_transfer_bytes_total", "Bytes of evidence received (upload) and sent (download).", "direction")
	r.transferTime = f.histogramVec("portal_transfer_duration_seconds", "Duration of upload and download requests that succeeded.",
		[]float64{0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600}, "direction")
	r.decisions = f.counterVec("portal_policy_decisions_total", "Policy decisions on acts, by outcome and the first deciding policy (none: denied by default).", "outcome", "policy")
	r.auditAppends = f.counter("portal_audit_appends_total", "Commits that appended records to the audit trail.")
	f.gaugeFunc("portal_audit_checkpoint_age_seconds", "How long the audit trail has held records that no signed, anchored checkpoint covers (0: none).", r.checkpointAge)
	r.ready = f.gauge("portal_ready", "1 when the last readiness check passed (database, object store, master key), else 0.")
	r.retention = f.gaugeVec("portal_retention_visits", "Visits by where their destruction stands, after the last retention sweep: due (past their date or being destroyed, not on hold), destroyed, failed (last attempt failed), on_hold.", "state")
	r.storeBehind = f.gaugeVec("portal_store_behind", "After the last retention run: visits whose object store is not yet at their legal hold or expiry rule, and files whose objects are not yet at their visit's legal hold (the runs carry them there).", "what")
	r.destroyFails = f.counter("portal_destruction_failures_total", "Failed attempts at destroying a visit (each is retried with backoff).")
	r.s3Errors = f.counterVec("portal_s3_errors_total", "Failed exchanges with the object store, by operation: no answer, 5xx (not 501), 401 or 403.", "operation")
	r.dbErrors = f.counterVec("portal_database_errors_total", "Database failures, by where they were seen.", "operation")
	r.mailFailures = f.counter("portal_mail_failures_total", "Attempts to send a notification that the mail failed: the SMTP server's refusal or error, or a message that could not be made.")
	r.mailQueue = f.gauge("portal_mail_queue", "Notifications waiting to be sent (the outbox), after the mail worker's latest round.")
	r.scans = f.counterVec("portal_scan_verdicts_total", "Outcomes of the malware scanner on uploaded files: clean, infected, or failed (no verdict: the file waits and is scanned again).", "verdict")
	r.scannerUp = f.gauge("portal_scanner_up", "1 when the malware scanner (clamd) answered its latest check, or scanning is off; 0 when it does not answer.")
	r.scannerUp.Set(1)
	for v := range verdicts {
		r.scans.WithLabelValues(v)
	}
	// Every series an alert reads exists from the start, at 0: a rate over
	// a series that appears only with its first error would miss it.
	for _, s := range retStates {
		r.retention.WithLabelValues(s)
	}
	for _, w := range behind {
		r.storeBehind.WithLabelValues(w)
	}
	for op := range s3Ops {
		r.s3Errors.WithLabelValues(op)
	}
	for op := range dbOps {
		r.dbErrors.WithLabelValues(op)
	}
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Request counts one HTTP request. route is Gin's pattern ("" when no
// route matched).
func (r *Registry) Request(method, route string, status int, d time.Duration) {
	if !methods[method] {
		method = other
	}
	if route == "" {
		route = "unmatched"
	}
	code := other
	if status > 0 && status < len(statuses) && statuses[status] != "" {
		code = statuses[status]
	}
	r.requests.WithLabelValues(method, route, code).Inc()
	r.latency.WithLabelValues(method, route, code).Observe(d.Seconds())
}

// Transfer counts one upload or download that succeeded: its bytes and
// duration.
func (r *Registry) Transfer(upload bool, bytes int64, d time.Duration) {
	dir := "download"
	if upload {
		dir = "upload"
	}
	r.transferBytes.WithLabelValues(dir).Add(float64(bytes))
	r.transferTime.WithLabelValues(dir).Observe(d.Seconds())
}

// Decision counts a policy decision.
func (r *Registry) Decision(allow bool, policy string) {
	outcome := "deny"
	if allow {
		outcome = "allow"
	}
	switch {
	case policy == "":
		policy = "none"
	case !r.policies[policy]:
		policy = other
	}
	r.decisions.WithLabelValues(outcome, policy).Inc()
}

// AuditAppended counts a commit that appended audit records.
func (r *Registry) AuditAppended() { r.auditAppends.Inc() }

// AuditUncovered keeps since when records have gone uncovered.
func (r *Registry) AuditUncovered(since time.Time) {
	if since.IsZero() {
		r.uncovered.Store(0)
		return
	}
	r.uncovered.Store(since.UnixNano())
}

func (r *Registry) checkpointAge() float64 {
	since := r.uncovered.Load()
	if since == 0 {
		return 0
	}
	return r.now().Sub(time.Unix(0, since)).Seconds()
}

// Ready sets portal_ready.
func (r *Registry) Ready(ok bool) {
	if ok {
		r.ready.Set(1)
		return
	}
	r.ready.Set(0)
}

// Retention sets the retention gauges.
func (r *Registry) Retention(n portal.RetentionCounts) {
	for i, v := range []int{n.Due, n.Destroyed, n.Failed, n.OnHold} {
		r.retention.WithLabelValues(retStates[i]).Set(float64(v))
	}
}

// Gather returns the metrics as a scrape would read them (tests and
// diagnostics in the process).
func (r *Registry) Gather() ([]*dto.MetricFamily, error) { return r.reg.Gather() }

// StoreBehind sets how many visits and files the object store is not yet
// brought to (after each retention run).
func (r *Registry) StoreBehind(visits, files int) {
	r.storeBehind.WithLabelValues(behind[0]).Set(float64(visits))
	r.storeBehind.WithLabelValues(behind[1]).Set(float64(files))
}

// DestructionFailed counts a failed attempt at a destruction.
func (r *Registry) DestructionFailed() { r.destroyFails.Inc() }

// S3Error counts a failed exchange with the object store.
func (r *Registry) S3Error(op string) { r.s3Errors.WithLabelValues(known(s3Ops, op)).Inc() }

// DatabaseError counts a database failure.
func (r *Registry) DatabaseError(op string) { r.dbErrors.WithLabelValues(known(dbOps, op)).Inc() }

// MailFailed counts an attempt to send a notification that the mail failed.
func (r *Registry) MailFailed() { r.mailFailures.Inc() }

// MailQueue sets how many notifications wait to be sent.
func (r *Registry) MailQueue(n int) { r.mailQueue.Set(float64(n)) }

// Scanned counts an outcome of the malware scanner.
func (r *Registry) Scanned(verdict string) { r.scans.WithLabelValues(known(verdicts, verdict)).Inc() }

// Scanner sets portal_scanner_up.
func (r *Registry) Scanner(up bool) {
	if up {
		r.scannerUp.Set(1)
		return
	}
	r.scannerUp.Set(0)
}

func known(set map[string]bool, v string) string {
	if set[v] {
		return v
	}
	return other
}
