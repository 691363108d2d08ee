# diagkit developer entry points. `make help` lists them.
#
# Tools are built from Go modules (no prebuilt downloads exist on the machines this project runs on) into
# TOOLS_CACHE, outside the work tree, under names that carry the tool version and a hash of its wrapper
# module, so a fresh clone on the same machine rebuilds nothing. bin/ holds only symlinks into that cache.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help

GO ?= go
TOOLS_CACHE ?= $(HOME)/.cache/diagkit-tools
BIN := $(CURDIR)/bin

CONTROLLER_GEN_VERSION ?= v0.23.0
# One controller-gen per release the retrofit generator must match byte for byte: the versions the target
# repositories pin (generator/testdata/targets/README.md). All of them still build with a plain `go install`
# under Go 1.26, so none needs a wrapper module.
CONTROLLER_GEN_VERSIONS ?= v0.11.4 v0.16.5 v0.17.2 v0.18.0 v0.19.0 $(CONTROLLER_GEN_VERSION)
STATICCHECK_VERSION ?= v0.8.2
# v5.8.3 needs Go 1.27.
KUSTOMIZE_VERSION ?= v5.8.2
# The kubebuilder e2e scaffolds a fresh project with (the most common input of diagkit retrofit).
KUBEBUILDER_VERSION ?= v4.16.0
# CRDs that e2e installs to validate the prometheus and cert-manager components, taken from these Go modules.
# The Prometheus Operator's version is the one its wrapper module pins (the operator runs in e2e too).
PROMETHEUS_OPERATOR_VERSION := $(shell awk '$$1 == "github.com/prometheus-operator/prometheus-operator" && $$2 ~ /^v/ { print $$2; exit } $$2 == "github.com/prometheus-operator/prometheus-operator" { print $$3; exit }' hack/tools/prometheus-operator/go.mod)
CERT_MANAGER_VERSION ?= v1.21.2
# The newest controller-runtime the diagnostics module is also tested against (its go.mod holds the oldest).
CR_LATEST_VERSION ?= v0.25.2

# Kubernetes (kube-apiserver, kube-controller-manager, kube-scheduler) and etcd versions come from their
# wrapper modules (hack/tools/gen-*-mod.sh rewrites them).
# `go mod tidy` may move the requirement into the indirect block, so match any require line.
KUBE_VERSION := $(shell awk '$$1 == "k8s.io/kubernetes" && $$2 ~ /^v/ { print $$2; exit } $$2 == "k8s.io/kubernetes" { print $$3; exit }' hack/tools/kubernetes/go.mod)
ETCD_VERSION := $(shell awk '$$1 == "go.etcd.io/etcd/server/v3" && $$2 ~ /^v/ { print $$2; exit } $$2 == "go.etcd.io/etcd/server/v3" { print $$3; exit }' hack/tools/etcd/go.mod)
KUBE_HASH := $(shell cat hack/tools/kubernetes/go.mod hack/tools/kubernetes/go.sum | sha256sum | cut -c1-12)
ETCD_HASH := $(shell cat hack/tools/etcd/go.mod hack/tools/etcd/go.sum hack/tools/etcd/main.go | sha256sum | cut -c1-12)

# Prometheus 3.x.y is the Go module github.com/prometheus/prometheus v0.3xx.y.
PROMETHEUS_MODULE_VERSION := $(shell awk '$$1 == "github.com/prometheus/prometheus" && $$2 ~ /^v/ { print $$2; exit } $$2 == "github.com/prometheus/prometheus" { print $$3; exit }' hack/tools/prometheus/go.mod)
PROMETHEUS_VERSION := $(shell echo $(PROMETHEUS_MODULE_VERSION) | awk -F. '{ printf "%d.%d.%s", $$2 / 100, $$2 % 100, $$3 }')
PROMETHEUS_HASH := $(shell cat hack/tools/prometheus/go.mod hack/tools/prometheus/go.sum | sha256sum | cut -c1-12)
PROMETHEUS_OPERATOR_HASH := $(shell cat hack/tools/prometheus-operator/go.mod hack/tools/prometheus-operator/go.sum | sha256sum | cut -c1-12)

KUBE_COMPONENTS := kube-apiserver kube-controller-manager kube-scheduler
KUBE_CACHED := $(foreach c,$(KUBE_COMPONENTS),$(TOOLS_CACHE)/$(c)-$(KUBE_VERSION)-$(KUBE_HASH))
ETCD_CACHED := $(TOOLS_CACHE)/etcd-$(ETCD_VERSION)-$(ETCD_HASH)
CONTROLLER_GEN_CACHED := $(TOOLS_CACHE)/controller-gen-$(CONTROLLER_GEN_VERSION)
KUSTOMIZE_CACHED := $(TOOLS_CACHE)/kustomize-$(KUSTOMIZE_VERSION)
KUBEBUILDER_CACHED := $(TOOLS_CACHE)/kubebuilder-$(KUBEBUILDER_VERSION)
PROMETHEUS_CACHED := $(TOOLS_CACHE)/prometheus-v$(PROMETHEUS_VERSION)-$(PROMETHEUS_HASH)
PROMETHEUS_OPERATOR_CACHED := $(TOOLS_CACHE)/prometheus-operator-$(PROMETHEUS_OPERATOR_VERSION)-$(PROMETHEUS_OPERATOR_HASH)

# What envtest reads through KUBEBUILDER_ASSETS: a directory with kube-apiserver and etcd (and, for the
# metrics proxy tests, kube-controller-manager and kube-scheduler).
ENVTEST_ASSETS := $(BIN)/k8s/$(KUBE_VERSION)-etcd-$(ETCD_VERSION)
# A cold control-plane start shares two cores with the Go compiler in CI.
export KUBEBUILDER_CONTROLPLANE_START_TIMEOUT ?= 120s
export KUBEBUILDER_CONTROLPLANE_STOP_TIMEOUT ?= 60s

DIAGNOSTICS_DIR := diagnostics

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z_-]+:.*## / { printf "  %-25s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

##@ Tools

.PHONY: tools
KUBE_LINKS := $(foreach c,$(KUBE_COMPONENTS),$(ENVTEST_ASSETS)/$(c))
tools: $(KUBE_LINKS) $(ENVTEST_ASSETS)/etcd $(BIN)/controller-gen controller-gens $(BIN)/kustomize $(BIN)/kubebuilder $(BIN)/prometheus $(BIN)/prometheus-operator crds ## Build kube-apiserver, kube-controller-manager, kube-scheduler, etcd, controller-gen, kustomize, kubebuilder, Prometheus and the Prometheus Operator (cached by version), link the CRDs.

.PHONY: print-envtest-assets
print-envtest-assets: $(ENVTEST_ASSETS)/kube-apiserver $(ENVTEST_ASSETS)/etcd ## Print the directory to use as KUBEBUILDER_ASSETS.
	@echo $(ENVTEST_ASSETS)

CONTROLLER_GEN_LINKS := $(foreach v,$(sort $(CONTROLLER_GEN_VERSIONS)),$(BIN)/controller-gen-$(v))
.PHONY: controller-gens
controller-gens: $(CONTROLLER_GEN_LINKS) ## Build every controller-gen in CONTROLLER_GEN_VERSIONS, linked as bin/controller-gen-<version>.

.PHONY: print-controller-gens
print-controller-gens: controller-gens ## Print the directory holding bin/controller-gen-<version> (CONTROLLER_GEN_DIR).
	@echo $(BIN)

# Symlinks are re-pointed on every run (FORCE) so that switching back to an already cached version works.
$(KUBE_LINKS): $(ENVTEST_ASSETS)/%: $(TOOLS_CACHE)/%-$(KUBE_VERSION)-$(KUBE_HASH) FORCE
	@mkdir -p $(@D) && ln -sfn $< $@
$(ENVTEST_ASSETS)/etcd: $(ETCD_CACHED) FORCE
	@mkdir -p $(@D) && ln -sfn $< $@
$(BIN)/controller-gen: $(CONTROLLER_GEN_CACHED) FORCE
	@mkdir -p $(@D) && ln -sfn $< $@
$(CONTROLLER_GEN_LINKS): $(BIN)/controller-gen-%: $(TOOLS_CACHE)/controller-gen-% FORCE
	@mkdir -p $(@D) && ln -sfn $< $@
$(BIN)/kustomize: $(KUSTOMIZE_CACHED) FORCE
	@mkdir -p $(@D) && ln -sfn $< $@
$(BIN)/kubebuilder: $(KUBEBUILDER_CACHED) FORCE
	@mkdir -p $(@D) && ln -sfn $< $@
$(BIN)/prometheus: $(PROMETHEUS_CACHED) FORCE
	@mkdir -p $(@D) && ln -sfn $< $@
$(BIN)/prometheus-operator: $(PROMETHEUS_OPERATOR_CACHED) FORCE
	@mkdir -p $(@D) && ln -sfn $< $@

# Builds write a temporary file and rename it, so an interrupted build never leaves a broken binary.
# The -X flags make /version report the real release instead of v0.0.0-master.
KUBE_MINOR = $(word 2,$(subst ., ,$(KUBE_VERSION)))
KUBE_LDFLAGS = -s -w $(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
	-X $(p).gitVersion=$(KUBE_VERSION) -X $(p).gitMajor=1 -X $(p).gitMinor=$(KUBE_MINOR) -X $(p).gitTreeState=clean)
# kube-apiserver takes about 4 minutes on a cold 2-core machine; the other two share most of its packages
# (about 1 minute more for kube-controller-manager, seconds for kube-scheduler).
$(KUBE_CACHED): $(TOOLS_CACHE)/%-$(KUBE_VERSION)-$(KUBE_HASH):
	@mkdir -p $(@D)
	@echo "building $* $(KUBE_VERSION)"
	cd hack/tools/kubernetes && $(GO) build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $@.tmp k8s.io/kubernetes/cmd/$*
	mv $@.tmp $@

$(ETCD_CACHED):
	@mkdir -p $(@D)
	@echo "building etcd $(ETCD_VERSION)"
	cd hack/tools/etcd && $(GO) build -trimpath -ldflags '-s -w' -o $@.tmp .
	mv $@.tmp $@

# One rule builds every controller-gen. Static patterns name each cached binary explicitly, so make never
# treats one as an intermediate file and deletes it after the run.
CONTROLLER_GEN_CACHES := $(sort $(CONTROLLER_GEN_CACHED) $(foreach v,$(CONTROLLER_GEN_VERSIONS),$(TOOLS_CACHE)/controller-gen-$(v)))
$(CONTROLLER_GEN_CACHES): $(TOOLS_CACHE)/controller-gen-%:
	@mkdir -p $(@D)
	tmp=$$(mktemp -d) && GOBIN=$$tmp $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$* && mv $$tmp/controller-gen $@ && rm -rf $$tmp

$(KUSTOMIZE_CACHED):
	@mkdir -p $(@D)
	tmp=$$(mktemp -d) && GOBIN=$$tmp $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION) && mv $$tmp/kustomize $@ && rm -rf $$tmp

$(KUBEBUILDER_CACHED):
	@mkdir -p $(@D)
	tmp=$$(mktemp -d) && GOBIN=$$tmp $(GO) install sigs.k8s.io/kubebuilder/v4@$(KUBEBUILDER_VERSION) && mv $$tmp/kubebuilder $@ && rm -rf $$tmp

# Prometheus for e2e: service discovery for Kubernetes (and files and HTTP, which Prometheus always has)
# only, and no web UI assets (the HTTP API is what the tests use), which keeps the build to a few minutes.
# The version variables make its User-Agent (Prometheus/<version>) and prometheus_build_info right; the
# branch label names the Go module version it was built from.
PROMETHEUS_TAGS := remove_all_sd,enable_kubernetes_sd
PROMETHEUS_LDFLAGS = -s -w -X github.com/prometheus/common/version.Version=$(PROMETHEUS_VERSION) \
	-X github.com/prometheus/common/version.Branch=$(PROMETHEUS_MODULE_VERSION) -X github.com/prometheus/common/version.BuildUser=diagkit
$(PROMETHEUS_CACHED):
	@mkdir -p $(@D)
	@echo "building prometheus $(PROMETHEUS_VERSION)"
	cd hack/tools/prometheus && $(GO) build -trimpath -tags $(PROMETHEUS_TAGS) -ldflags '$(PROMETHEUS_LDFLAGS)' -o $@.tmp github.com/prometheus/prometheus/cmd/prometheus
	mv $@.tmp $@

# The operator reports its version in its User-Agent and names its config reloader image after it.
$(PROMETHEUS_OPERATOR_CACHED):
	@mkdir -p $(@D)
	@echo "building prometheus-operator $(PROMETHEUS_OPERATOR_VERSION)"
	cd hack/tools/prometheus-operator && $(GO) build -trimpath \
		-ldflags '-s -w -X github.com/prometheus/common/version.Version=$(PROMETHEUS_OPERATOR_VERSION:v%=%)' \
		-o $@.tmp github.com/prometheus-operator/prometheus-operator/cmd/operator
	mv $@.tmp $@

.PHONY: FORCE
FORCE:

# The Go module cache is the cache: a second run only re-points the links. Every Prometheus Operator CRD
# also goes into a directory of its own, for the e2e test that runs the operator.
CRDS_DIR := $(BIN)/crds
PROMETHEUS_OPERATOR_CRDS_DIR := $(BIN)/prometheus-operator-crds
.PHONY: crds
crds: ## Link the ServiceMonitor, PodMonitor, Issuer and Certificate CRDs (from Go modules) into bin/crds, and the Prometheus Operator's into bin/prometheus-operator-crds.
	@mkdir -p $(CRDS_DIR) $(PROMETHEUS_OPERATOR_CRDS_DIR)
	@po=$$($(GO) mod download -json github.com/prometheus-operator/prometheus-operator@$(PROMETHEUS_OPERATOR_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	cm=$$($(GO) mod download -json github.com/cert-manager/cert-manager@$(CERT_MANAGER_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	for f in $$po/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml \
		$$po/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml \
		$$cm/deploy/crds/cert-manager.io_issuers.yaml $$cm/deploy/crds/cert-manager.io_certificates.yaml; do \
		[ -f "$$f" ] || { echo "missing CRD $$f"; exit 1; }; ln -sfn "$$f" $(CRDS_DIR)/$$(basename $$f); \
	done; \
	for f in $$po/example/prometheus-operator-crd/*.yaml; do ln -sfn "$$f" $(PROMETHEUS_OPERATOR_CRDS_DIR)/$$(basename $$f); done; \
	[ -f $(PROMETHEUS_OPERATOR_CRDS_DIR)/monitoring.coreos.com_prometheuses.yaml ] || { echo "missing the Prometheus CRD"; exit 1; }

##@ Test

# Every test run gets the absolute assets directory, so any package can start a control plane.
TEST_ENV = KUBEBUILDER_ASSETS=$(ENVTEST_ASSETS) KUSTOMIZE=$(BIN)/kustomize DIAGKIT_CRDS=$(CRDS_DIR) CONTROLLER_GEN_DIR=$(BIN) \
	KUBEBUILDER=$(BIN)/kubebuilder PROMETHEUS=$(BIN)/prometheus PROMETHEUS_OPERATOR=$(BIN)/prometheus-operator PROMETHEUS_OPERATOR_CRDS=$(PROMETHEUS_OPERATOR_CRDS_DIR)
# The e2e package builds every retrofitted fixture and runs control planes: on a cold 2-core machine it comes close to
# go test's default 10-minute limit per package, well inside CI's 90 minutes.
GO_TEST ?= $(GO) test -count=1 -timeout=45m

.PHONY: print-test-env
print-test-env: tools ## Print the exports a plain `go test` needs (eval the output).
	@echo export $(TEST_ENV)

.PHONY: test
test: verify test-diagnostics test-diagnostics-latest test-root ## Run every test: unit, golden, and e2e against a real kube-apiserver and etcd.

.PHONY: test-diagnostics
test-diagnostics: tools ## Test the diagnostics module at its minimum requirements (diagnostics/go.mod).
	cd $(DIAGNOSTICS_DIR) && $(TEST_ENV) $(GO_TEST) ./...

.PHONY: test-diagnostics-latest
test-diagnostics-latest: tools ## Test the diagnostics module with the newest controller-runtime (diagnostics/go.latest.mod).
	cd $(DIAGNOSTICS_DIR) && $(TEST_ENV) $(GO_TEST) -modfile=go.latest.mod ./...

.PHONY: test-root
test-root: tools ## Test the root module: e2e, Cluster API parity, demo.
	$(TEST_ENV) $(GO_TEST) ./...

.PHONY: test-attacker
# The e2e tests that play an attacker against the real API server (e2e/attacker_test.go lists them), and the
# diagnostics unit tests that hold the same limits. Part of `make test`; this target runs them alone.
ATTACKER_TESTS := ^(TestAttacker|TestGarbageFlood.*|TestRevocation|TestFailClosedWithoutAPIServer|TestReviewFaults|TestRouteCoverage|TestMetricsProxy)$$
test-attacker: tools ## Run the attacker suite alone: floods, oversized input, log levels, cache keys, revocation, proxy paths.
	$(TEST_ENV) $(GO_TEST) ./e2e -run '$(ATTACKER_TESTS)' -v
	cd $(DIAGNOSTICS_DIR) && $(TEST_ENV) $(GO_TEST) -run 'Verbosity|Profile|DecisionKey|Oversized|CipherSuites|TokenCache' ./...

.PHONY: verify
verify: ## Check formatting, vet, staticcheck, and that go.mod files and generated files are up to date.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd $(DIAGNOSTICS_DIR) && $(GO) vet ./... && $(GO) vet -modfile=go.latest.mod ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	cd $(DIAGNOSTICS_DIR) && $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	@for d in . $(DIAGNOSTICS_DIR); do \
		(cd $$d && $(GO) mod tidy -diff) || { echo "go.mod in $$d is not tidy: run go mod tidy there"; exit 1; }; \
	done
	@cd $(DIAGNOSTICS_DIR) && $(GO) mod tidy -diff -modfile=go.latest.mod >/dev/null || \
		{ echo "diagnostics/go.latest.mod is stale: run hack/gen-diagnostics-latest-mod.sh $(CR_LATEST_VERSION)"; exit 1; }

##@ Run

.PHONY: demo
demo: tools ## Retrofit examples/sample-controller, build it, run it on a real API server: anonymous 401, unprivileged 403, reader 200.
	@$(TEST_ENV) $(GO) run ./cmd/diagkit-demo

BENCH_FLAGS ?=
.PHONY: bench
bench: tools ## Measure scrape cost and API-server load side by side; writes docs/benchmarks.md (about 10 min; BENCH_FLAGS=-short: < 3 min).
	@$(TEST_ENV) $(GO) run ./cmd/diagkit-bench $(BENCH_FLAGS)

.PHONY: bench-proxy
bench-proxy: ## Compare a scrape through diagkit-proxy's forwarder with the same scrape made directly (Go benchmark).
	$(GO) test ./metricsproxy -run '^$$' -bench Forward -benchmem -count 5

# Each fuzz target in turn, FUZZTIME each (go test fuzzes one target of one package at a time), one worker
# by default: the machines this runs on have two shared cores. New inputs are minimized for 10s at most (Go's
# 60s default would take most of a short run). Failing inputs land in the package's testdata/fuzz/<FuzzName>/,
# which `make test` then runs as regression cases with the f.Add seeds.
FUZZTIME ?= 30s
FUZZ_PARALLEL ?= 1
FUZZ_TARGETS := generator/manifest:FuzzPatch generator/manifest:FuzzRemoveProxy generator/manifest:FuzzRewriteJSONPatchArgs \
	generator/makefile:FuzzParse generator/rbacrole:FuzzAdd generator/kustomization:FuzzRead generator/kustomization:FuzzFindDeployed \
	generator/helmchart:FuzzPatch generator/gosource:FuzzPatch generator/gobuild:FuzzFromDockerfile $(DIAGNOSTICS_DIR):FuzzDecisionKey
.PHONY: fuzz
fuzz: ## Fuzz every parser and patcher, FUZZTIME each (default 30s: 6 min in all), one target at a time.
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; mod=.; [ "$$pkg" = $(DIAGNOSTICS_DIR) ] && mod=$(DIAGNOSTICS_DIR) && pkg=.; \
		echo "fuzz $$t for $(FUZZTIME)"; \
		(cd $$mod && $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10s -parallel $(FUZZ_PARALLEL) ./$$pkg); \
	done

##@ Maintain

.PHONY: diagnostics-latest-mod
diagnostics-latest-mod: ## Regenerate diagnostics/go.latest.mod for CR_LATEST_VERSION.
	hack/gen-diagnostics-latest-mod.sh $(CR_LATEST_VERSION)
