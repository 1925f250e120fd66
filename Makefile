# The two commands: make run (the whole portal on this machine) and make test.
# Tools are installed by the targets themselves, pinned, into bin/ (git-ignored).

SHELL := /bin/bash
GO ?= go
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
VERSITYGW_VERSION := v1.8.0
STATICCHECK_VERSION := v0.8.2
GOVULNCHECK_VERSION := v1.9.0
MAILPIT_VERSION := v1.33.1
HELM_VERSION := v3.22.0
BIN := $(CURDIR)/bin

.PHONY: run test test-ceph soak lint vuln bench minio hydra build clean help web browser-deps postgres mailpit clamd ceph-deps image helm podman

help:
	@echo "make run    start MinIO, the dev identity provider and the portal (state in ./var)"
	@echo "make test   every test, including integration tests on real MinIO and OIDC"
	@echo "make test-ceph  the S3 capability tests against a one-node Ceph RGW (installs Debian's Ceph)"
	@echo "make soak   two portal instances on PostgreSQL under load for SOAK (default 10m)"
	@echo "make lint   gofmt, go vet, staticcheck"
	@echo "make vuln   govulncheck (needs network access to vuln.go.dev)"
	@echo "make bench  benchmarks"
	@echo "make image  the container image, as an OCI layout and a docker-archive in bin/image/ (no Docker needed)"

# MinIO builds from source through the Go module proxy: the first time takes
# several minutes, so it prints each package as it compiles.
$(BIN)/minio:
	@mkdir -p $(BIN)
	@echo "Installing the MinIO server $(MINIO_VERSION) into bin/ (first run only: about 5 minutes; packages print as they build)..."
	GOBIN=$(BIN) $(GO) install -v github.com/minio/minio@$(MINIO_VERSION)
	@echo "MinIO installed."

minio: $(BIN)/minio

# Ory Hydra, a production OpenID Provider, for the tests only. Pinned in
# tools/hydra/go.mod, its own module because Hydra needs a replace directive
# (Ory's fork of pop) that must not reach the portal's go.mod. The sqlite tags
# (cgo) give it the in-memory database (DSN=memory) the tests run it with.
HYDRA_TAGS := sqlite,sqlite_omit_load_extension
$(BIN)/hydra: tools/hydra/go.mod tools/hydra/go.sum
	@mkdir -p $(BIN)
	@echo "Building Ory Hydra (pinned in tools/hydra/go.mod) into bin/ (first run only: 5 to 10 minutes; packages print as they build)..."
	cd tools/hydra && v=$$($(GO) list -m -f '{{.Version}}' github.com/ory/hydra/v2) && \
	  CGO_ENABLED=1 $(GO) build -v -tags $(HYDRA_TAGS) -ldflags "-X github.com/ory/hydra/v2/driver/config.Version=$$v" \
	  -o $(BIN)/hydra github.com/ory/hydra/v2
	@echo "Hydra built."

hydra: $(BIN)/hydra

# VersityGW, a second S3 server for the storage tests (deploy/s3test), builds
# from source through the Go module proxy: about 6 minutes the first time.
$(BIN)/versitygw:
	@mkdir -p $(BIN)
	@echo "Installing VersityGW $(VERSITYGW_VERSION) into bin/ (first run only: about 6 minutes; packages print as they build)..."
	GOBIN=$(BIN) $(GO) install -v github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
	@echo "VersityGW installed."

# Front-end: GOV.UK Frontend, MoJ Frontend and tus-js-client, pinned in
# web/package-lock.json, copied into web/static/vendor (git-ignored), which
# the binary embeds. Without it pages still render, unstyled.
WEB_STAMP := web/static/vendor/VERSIONS
NODE_STAMP := web/node_modules/.package-lock.json
$(NODE_STAMP): web/package.json web/package-lock.json
	@echo "Installing the front-end packages (npm ci, pinned by web/package-lock.json)..."
	cd web && npm ci --no-audit --no-fund --loglevel=error

$(WEB_STAMP): $(NODE_STAMP) web/build.mjs
	cd web && node build.mjs

web: $(WEB_STAMP)

# Browser tests drive Debian's Chromium with playwright-core (from npm, in
# web/node_modules). Installed once, as root or with sudo.
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests (first run only)..."
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium

browser-deps: $(CHROMIUM) $(WEB_STAMP)

# Debian packages the tests start as child processes of their own, each in a
# temporary folder (deploy/devstack). Installed once, as root or with sudo;
# the packages' own services are not used. APT_INSTALL installs its
# arguments.
APT_INSTALL = if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends

# PostgreSQL: whichever major version Debian ships, found under
# /usr/lib/postgresql/<version>/bin (devstack.FindPostgres picks the newest).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "Installing Debian's postgresql (first run only)..."; \
	  $(APT_INSTALL) postgresql; \
	fi

# ClamAV's scanning daemon. No signatures are downloaded (no freshclam): the
# tests generate their own database (devstack.StartClamd).
CLAMD ?= /usr/sbin/clamd
$(CLAMD):
	@echo "Installing Debian's clamav-daemon (first run only)..."
	@$(APT_INSTALL) clamav-daemon

clamd: $(CLAMD)

# mailpit, the development mail catcher (SMTP in, HTTP API and web page out).
$(BIN)/mailpit:
	@mkdir -p $(BIN)
	@echo "Installing mailpit $(MAILPIT_VERSION) into bin/ (first run only: about 4 minutes; packages print as they build)..."
	GOBIN=$(BIN) $(GO) install -v github.com/axllent/mailpit@$(MAILPIT_VERSION)
	@echo "mailpit installed."

mailpit: $(BIN)/mailpit

# Ceph, for make test-ceph only: Debian's monitor, OSD and RADOS gateway
# (ceph-base and ceph-common come with them: ceph-authtool, monmaptool, ceph,
# radosgw-admin). The tests build a one-node cluster in a temporary folder.
CEPH_BINS := /usr/bin/ceph-mon /usr/bin/ceph-osd /usr/bin/radosgw
$(CEPH_BINS) &:
	@echo "Installing Debian's Ceph (ceph-mon, ceph-osd, radosgw) for make test-ceph (first run only: 62 packages, a 69 MB download, 270 MB installed)..."
	@$(APT_INSTALL) ceph-mon ceph-osd radosgw

ceph-deps: $(CEPH_BINS)

# Helm, for the chart's checks in make test (helm lint, helm template against
# golden manifests in deploy/helm/testdata). Its module has no replace
# directives, so a plain go install pins it.
$(BIN)/helm:
	@mkdir -p $(BIN)
	@echo "Installing Helm $(HELM_VERSION) into bin/ (first run only: about 4 minutes; packages print as they build)..."
	GOBIN=$(BIN) $(GO) install -v -ldflags "-X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION)" helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	@echo "Helm installed."

helm: $(BIN)/helm

# Debian's podman, to start the image built by make image against a test
# stack (tools/image). It needs no daemon. runc too: crun, podman's default
# runtime, refuses hosts whose cgroup v2 hierarchy is mounted beside v1
# with a controller ("hybrid mode"), which runc accepts.
PODMAN ?= /usr/bin/podman
PODMAN_BINS := $(PODMAN) /usr/sbin/runc
$(PODMAN_BINS) &:
	@echo "Installing Debian's podman and runc (first run only: about 40 packages)..."
	@$(APT_INSTALL) podman runc

podman: $(PODMAN_BINS)

build:
	$(GO) build ./...

# The container image (tools/image, on go-containerregistry): no Docker
# daemon, no base image. Reproducible: every time in it is
# SOURCE_DATE_EPOCH (default: the last commit's time), and the binary is
# built with -trimpath and without VCS stamping, so the same commit gives
# the same digest. Written to bin/image/oci (OCI layout) and
# bin/image/portal.tar (docker-archive: podman load, docker load).
CA_CERTS := /etc/ssl/certs/ca-certificates.crt
$(CA_CERTS):
	@echo "Installing Debian's ca-certificates (the image's CA bundle)..."
	@$(APT_INSTALL) ca-certificates

SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
IMAGE_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE_REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
IMAGE_SOURCE ?= https://github.com/ofsted-portal/evidence
IMAGE_DIR := $(BIN)/image

image: $(CA_CERTS)
	@mkdir -p $(IMAGE_DIR)
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags "-s -w" -o $(IMAGE_DIR)/portal ./cmd/portal
	cd tools/image && $(GO) run . -binary $(IMAGE_DIR)/portal -ca $(CA_CERTS) -out $(IMAGE_DIR) -epoch $(SOURCE_DATE_EPOCH) \
	  -version $(IMAGE_VERSION) -revision "$(IMAGE_REVISION)" -source $(IMAGE_SOURCE)

# make run DB=postgres also installs PostgreSQL.
run: $(BIN)/minio $(WEB_STAMP) $(BIN)/mailpit $(CLAMD) $(if $(filter postgres,$(DB)),postgres)
	@echo "Building the portal..."
	$(GO) build -o $(BIN)/devstack ./cmd/devstack
	PORTAL_DEV_DATABASE=$(DB) $(BIN)/devstack

# Modules of their own under tools/ whose tests make test runs too: their
# dependencies (go-containerregistry, Prometheus) stay out of the portal's
# go.mod. tools/hydra only builds bin/hydra.
TOOL_MODULES := tools/image tools/alerts

TEST_ENV = PORTAL_MINIO_BIN=$(BIN)/minio PORTAL_VERSITYGW_BIN=$(BIN)/versitygw PORTAL_HYDRA_BIN=$(BIN)/hydra PORTAL_CHROMIUM=$(CHROMIUM) \
	  PORTAL_MAILPIT_BIN=$(BIN)/mailpit PORTAL_CLAMD_BIN=$(CLAMD) PORTAL_HELM_BIN=$(BIN)/helm PORTAL_REQUIRE_INTEGRATION=1
# The packages that use the database run a second time on PostgreSQL.
DB_TEST_PKGS := ./portal/... ./web/... ./cmd/portal/...
# The PostgreSQL pass runs beside the SQLite pass, not after it: each
# package runs its tests one at a time, and most of a test's time goes to
# waiting (browsers, identity providers, servers starting, timeouts), so
# one pass after the other left the machine idle more than half the time.
# Its output is kept here and shown when both passes have ended. Each
# pass runs in a process group of its own (setsid) while the recipe's
# shell waits for both, and an interrupt of make test ends both groups: a
# command run in the background by a shell without job control ignores
# SIGINT, and so would every test it starts; and a shell waiting for a
# command in the foreground acts on an interrupt only if the command died
# of it, which go test, exiting with its tests' status, does not.
PG_PASS_LOG := $(CURDIR)/test-artifacts/postgres-pass.log
# go test's limit for one package's run. The web package, the longest,
# took 1,733 s of the SQLite pass on the 2-core development machine
# (2026-12-05) beside the PostgreSQL pass, and 1,045 s alone: 30 minutes
# was within a minute of failing a run that only the machine's load had
# slowed.
TEST_TIMEOUT ?= 45m

test: $(BIN)/minio $(BIN)/versitygw $(BIN)/hydra browser-deps postgres $(BIN)/mailpit $(CLAMD) $(BIN)/helm $(PODMAN_BINS) $(CA_CERTS)
	@mkdir -p $(dir $(PG_PASS_LOG))
	@echo "The same again on PostgreSQL runs alongside; its output follows when both passes end."
	@trap 'kill -INT -- -$$sq -$$pg 2>/dev/null; wait; exit 130' INT TERM; \
	$(TEST_ENV) PORTAL_TEST_DATABASE=postgres setsid $(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(DB_TEST_PKGS) > $(PG_PASS_LOG) 2>&1 & pg=$$!; \
	echo "$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./... (SQLite)"; \
	$(TEST_ENV) setsid $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./... & sq=$$!; \
	wait $$sq; sqlite=$$?; wait $$pg; postgres=$$?; trap - INT TERM; \
	echo "The same again on PostgreSQL:"; cat $(PG_PASS_LOG); \
	if [ $$sqlite -ne 0 ] || [ $$postgres -ne 0 ]; then echo "make test: the SQLite pass exited $$sqlite and the PostgreSQL pass $$postgres"; exit 1; fi
	@for m in $(TOOL_MODULES); do \
	  echo "cd $$m && go test ./..."; \
	  (cd $$m && PORTAL_MINIO_BIN=$(BIN)/minio PORTAL_PODMAN_BIN=$(PODMAN) PORTAL_REQUIRE_INTEGRATION=1 $(GO) test -count=1 -timeout 10m ./...) || exit 1; \
	done

# The S3 tests against a one-node Ceph cluster (monitor, OSD on memstore,
# RADOS gateway) built in a temporary folder: the "ceph" subtests of
# s3test.Each (the capabilities, and the portal's storage and retention).
# Not part of make test: Debian's Ceph is 270 MB installed.
CEPH_TEST_PKGS ?= ./deploy/s3test/ ./portal/
test-ceph: ceph-deps
	PORTAL_TEST_CEPH=1 PORTAL_REQUIRE_INTEGRATION=1 $(GO) test -count=1 -timeout 15m -run '^(TestCapabilities|TestStorageOnEveryServer)$$/^ceph$$' -v $(CEPH_TEST_PKGS)

# Two instances behind a balancer on PostgreSQL, 8 clients for SOAK (make
# test runs the same test for 15 s): then the audit chain must verify with
# exactly one record per act.
SOAK ?= 10m
soak: $(BIN)/minio postgres
	$(TEST_ENV) PORTAL_TEST_DATABASE=postgres PORTAL_SOAK=$(SOAK) $(GO) test -count=1 -timeout 3h -run '^TestTwoInstances$$' -v ./web

# Benchmarks (never part of make test): the portal against raw S3 in the same
# run, with targets; results in bench/results.md. Exits non-zero on a miss.
bench: $(BIN)/minio $(WEB_STAMP) $(CLAMD)
	$(GO) build -o $(BIN)/portal ./cmd/portal
	PORTAL_CLAMD_BIN=$(CLAMD) $(GO) run ./cmd/bench

$(BIN)/staticcheck:
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(BIN)/staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	@for m in $(TOOL_MODULES); do (cd $$m && $(GO) vet ./... && $(BIN)/staticcheck ./...) || exit 1; done

$(BIN)/govulncheck:
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

vuln: $(BIN)/govulncheck
	$(BIN)/govulncheck ./...

clean:
	rm -rf $(BIN) var web/node_modules web/static/vendor
