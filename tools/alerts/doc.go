// Package alerts checks the portal's example alerting rules
// (deploy/prometheus/alerts.yaml) with Prometheus's own rule loader and
// PromQL parser. It is a module of its own so that Prometheus, and what it
// depends on, stay out of the portal's go.mod; make test runs it.
package alerts
