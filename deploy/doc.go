// Package deploy holds the checks of the single-host compose file
// (deploy/compose.yaml). How operators run the portal lives beside it: the
// Helm chart (deploy/helm), the alerting rules (deploy/prometheus), and,
// for development and tests, devstack, devidp, hydra and s3test.
package deploy
