// Package helm holds the checks of the portal's Helm chart (deploy/helm/portal):
// helm lint, and helm template against golden manifests in testdata/, with
// what the chart promises (replicas, probes, secrets as files, security
// context, network policy, no CronJob) asserted on the rendered objects.
// make test installs bin/helm and runs them; go test ./deploy/helm -update
// rewrites the golden manifests after a deliberate change.
package helm
