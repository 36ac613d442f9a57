# idp: one Makefile, mirrored by CI (.ci/run runs `make test`).
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
export GOBIN := $(BIN)
export GONOSUMDB := github.com/aws/aws-sdk-go-v2/service/appmesh
export PATH := $(BIN):$(PATH)
# A tool reused from PATH is a symlink in ./bin (tools/reuse.sh): its own time, not its
# target's, says whether it is newer than the pin it depends on.
MAKEFLAGS += --check-symlink-times

TEMPORAL_CLI_VERSION := v1.5.1
STATICCHECK_VERSION := v0.8.2
SANDBOX_ARGS ?=

.PHONY: all build deps tools test test-faults test-bench-smoke test-load test-unit test-integration test-ship test-chart lint bench sandbox sandbox-up sandbox-down demo screenshot clean

all: build

# The worker and starter are built as the image builds them (Dockerfile): static, no cgo. With
# cgo, a dependency's import of Go's plugin package makes the linker export every symbol
# (25 MB of dynamic symbol tables in the binary), and the benchmarks would measure a worker
# nobody ships.
build: ## bin/worker, bin/starter, bin/sandbox
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/worker ./cmd/worker
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/starter ./cmd/starter
	$(GO) build -o $(BIN)/sandbox ./cmd/sandbox

HELM_VERSION := v3.19.5

# etcd, redis-server, git, ssh-keygen: installed with apt-get when missing and root (or sudo
# without a password), else it stops with the command to run; terraform and Go it only checks.
deps:
	@./scripts/deps.sh

include tools/tools.mk

tools: $(BIN)/temporal $(BIN)/helm kube-tools ## pinned local binaries, built once (kube-tools: tools/tools.mk)

# Argo CD's repo-server renders Helm charts with the helm binary.
$(BIN)/helm:
	$(TOOLS_REUSE) helm $(HELM_VERSION) $@ || $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

$(BIN)/temporal:
	@mkdir -p $(BIN)
	$(TOOLS_REUSE) temporal $(TEMPORAL_CLI_VERSION) $@ || $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

$(BIN)/staticcheck:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# workflowcheck v0.3.0 needs a newer golang.org/x/tools than it asks for on this Go: its own
# module under tools/ pins both.
$(BIN)/workflowcheck: tools/workflowcheck/go.mod
	cd tools/workflowcheck && $(GO) build -o $(BIN)/workflowcheck go.temporal.io/sdk/contrib/tools/workflowcheck

test: deps build tools lint test-ship test-chart ## everything CI runs
	$(GO) test -race -count=1 -timeout 30m ./...
	$(MAKE) test-faults
	$(MAKE) test-bench-smoke

# Real processes of the local stack broken while runs go on (faults/, build tag faults):
# each test names its fault, what must hold after it, and how long recovery took; the
# recovery times are printed at the end (the README's Reliability table).
test-faults: deps build tools $(BIN)/staticcheck
	$(GO) vet -tags faults ./faults/
	$(BIN)/staticcheck -tags faults ./faults/
	@rm -f $(CURDIR)/bin/fault-report.tsv
	IDP_FAULT_REPORT=$(CURDIR)/bin/fault-report.tsv $(GO) test -tags faults -count=1 -timeout 60m -v ./faults/
	@echo "recovery times (fault, seconds):"; cat $(CURDIR)/bin/fault-report.tsv 2>/dev/null || true

# The load tests alone (part of test-faults): 100 services promoted into dev at once on one
# worker, then 10 racing tags of one service.
test-load: deps build tools
	$(GO) vet -tags faults ./faults/
	IDP_FAULT_REPORT=$(CURDIR)/bin/fault-report.tsv $(GO) test -tags faults -count=1 -timeout 30m -run TestLoad -v ./faults/

# How idp ships (Dockerfile, docker-compose.yaml, .github/workflows), checked with BuildKit's
# parser, compose-go and actionlint from tools/shipcheck, a module of its own so those stay out
# of the product's go.mod. Everything comes through the Go module proxy: no container engine.
test-ship: $(BIN)/staticcheck
	cd tools/shipcheck && $(GO) vet ./... && $(BIN)/staticcheck ./... && $(GO) test -count=1 ./...

# helm-charts/idp-worker, checked from tools/chartcheck, a module of its own (Helm's
# Kubernetes libraries are not the product's): rendered with the Helm SDK for several sets of
# values, bad values refused, helm lint, and every object applied to a real kube-apiserver
# (./bin, with etcd) as a server-side dry run.
test-chart: deps $(BIN)/staticcheck $(BIN)/kube-apiserver
	cd tools/chartcheck && $(GO) vet ./... && $(BIN)/staticcheck ./... && $(GO) test -count=1 ./...

test-unit: ## fast tests only (no dev server, terraform or emulator stacks)
	$(GO) test -short -count=1 ./...
	cd tools/chartcheck && $(GO) test -short -count=1 ./...

lint: $(BIN)/staticcheck $(BIN)/workflowcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	$(BIN)/workflowcheck ./workflows/...
	TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive infra

# The benchmark harness (bench/, build tag bench; issue 13) once at small N: it proves the
# scenarios run (what they measure is checked there), not how fast. Results go to a temporary
# directory; make bench writes bench/results.json and docs/BENCHMARKS.md.
test-bench-smoke: deps build tools $(BIN)/staticcheck
	$(GO) vet -tags bench ./bench/
	$(BIN)/staticcheck -tags bench ./bench/
	IDP_BENCH_SMALL=1 $(GO) test -tags bench -count=1 -run TestBench -v -timeout 15m ./bench

# Go micro benchmarks, then the scenarios against the local stack (docs/BENCHMARKS.md).
bench: deps build tools
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) test -tags bench -count=1 -run TestBench -v -timeout 90m ./bench

sandbox: deps build tools ## the local stack in the foreground (Ctrl-C stops it)
	$(BIN)/sandbox up $(SANDBOX_ARGS)

sandbox-up: deps build tools ## the local stack, detached; returns once ready
	$(BIN)/sandbox up --detach $(SANDBOX_ARGS)

sandbox-down:
	@if [ -x $(BIN)/sandbox ]; then $(BIN)/sandbox down; else echo "sandbox: not built"; fi

demo: deps build tools ## the DESIGN.md story against a fresh sandbox
	./scripts/demo.sh

# docs/webui-approval.png: a promotion waiting for approval in prod, on its Web UI page, taken
# with Debian's headless chromium through puppeteer-core (npm, into tools/screenshot). Not part
# of `make test`: it needs chromium, node and npm.
screenshot: deps build tools
	./scripts/screenshot.sh

clean:
	rm -rf $(BIN) .sandbox
