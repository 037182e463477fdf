# ddc-gitops. `make lab` and `make test` are the two commands the README starts with.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:/usr/sbin:/sbin
GO ?= go
BIN := bin/ddc-gitops
AGENT_BIN := bin/ddc-gitops-agent
PKGS := ./...

.PHONY: all build test e2e lab bench bench-agent bench-lab lint fuzz deps geth clean package

include mk/contract.mk

all: build

deps:
	@deploy/deps.sh

# bin/ddc-gitops has every command; bin/ddc-gitops-agent is the agent alone
# (`ddc-gitops-agent FLAGS` = `ddc-gitops agent FLAGS`), what the Debian
# package's agent unit runs.
build:
	$(GO) build -o $(BIN) ./cmd/ddc-gitops
	$(GO) build -o $(AGENT_BIN) ./cmd/ddc-gitops-agent

# The lab's dev chain runs geth, built with `go install` from the
# go-ethereum version in go.mod and cached in ~/.cache/ddc-gitops (the first
# build takes a few minutes; later runs reuse it).
geth:
	@$(GO) run ./cmd/ddc-gitops lab geth >/dev/null

# The whole test suite, with real haproxy, keepalived and git. Network
# namespace tests need root (CI runs as root); they skip with a message otherwise.
test: deps contract-check geth
	$(GO) vet $(PKGS)
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed: $$fmt"; exit 1; fi
	DDC_GITOPS_REQUIRE_GETH=1 $(GO) test -count=1 -timeout 20m $(PKGS)
	$(MAKE) e2e

# End-to-end scenarios on the lab (root; they skip with a message otherwise):
# push and API changes converging, bad commits, cross-zone and VIP failover,
# git server down, agent restart, node admission through the chain. Each
# starts and removes its own lab.
e2e: geth
	$(GO) test -tags e2e -count=1 -timeout 25m ./e2e/...

# The multi-zone lab on this machine (root: network namespaces). Ctrl-C
# tears it down; `bin/ddc-gitops lab down` cleans up after a crash.
# LABFLAGS passes flags, e.g. LABFLAGS='--eu-port 8080'.
lab: deps build geth
	$(BIN) validate examples/fleet
	$(BIN) lab $(LABFLAGS)

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 10x $(PKGS)
	$(MAKE) bench-agent
	@if [ "$$(id -u)" -eq 0 ]; then $(MAKE) bench-lab; else echo "bench: the lab figures (make bench-lab) need root"; fi

# The real agent binary (bin/ddc-gitops-agent --supervise) at 10,000 servers,
# once per node layout (flat, sharded), against a real haproxy and a git
# server over smart HTTP (whose share of each change is printed): VmRSS and VmHWM
# from /proc (no forced GC), no-op reconcile, one-node change and 1,000 adds,
# each printed beside its goal; the BENCH lines also go to out/bench-agent.txt.
bench-agent: build
	@mkdir -p out && rm -f out/bench-agent.txt
	set -o pipefail; DDC_GITOPS_AGENT_BIN=$(CURDIR)/$(AGENT_BIN) DDC_GITOPS_AGENT_BENCH_OUT=$(CURDIR)/out/bench-agent.txt \
		$(GO) test -run '^$$' -bench BenchmarkAgent10k -benchtime 1x -timeout 20m ./internal/agentbench | grep -E 'BENCH|^(---|ok|FAIL)'

# The lab figures of BENCHMARKS.md: push-to-applied per host with the
# webhook and polling only, VIP and cross-zone failover times, failed
# requests per scenario, node admission; every BENCH line also goes to
# out/bench-lab.txt. BENCH_ROUNDS commits per push-to-applied mode.
BENCH_ROUNDS ?= 20
bench-lab: geth
	@mkdir -p out && rm -f out/bench-lab.txt
	DDC_GITOPS_E2E_ROUNDS=$(BENCH_ROUNDS) DDC_GITOPS_E2E_BENCH_OUT=$(CURDIR)/out/bench-lab.txt \
		$(GO) test -tags e2e -count=1 -timeout 20m -v ./e2e/... | grep -E 'BENCH|^(---|ok|FAIL)'

lint:
	$(GO) vet $(PKGS)
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed: $$fmt"; exit 1; fi

# Runs the loader/renderer fuzzer for FUZZTIME (default 2m).
FUZZTIME ?= 2m
fuzz:
	$(GO) test ./render -run '^$$' -fuzz FuzzLoadRender -fuzztime $(FUZZTIME)

# The Debian package (out/ddc-gitops_VERSION_amd64.deb): the static binaries,
# man pages, bash completion, hardened systemd units, /etc/default and
# /etc/ddc-gitops configuration, the system user. Built with nfpm as a
# library by deploy/package, a Go module of its own (docs/deploy.md).
package:
	@mkdir -p out/package
	CGO_ENABLED=0 $(GO) build -trimpath -o out/package/ddc-gitops ./cmd/ddc-gitops
	CGO_ENABLED=0 $(GO) build -trimpath -o out/package/ddc-gitops-agent ./cmd/ddc-gitops-agent
	$(GO) -C deploy/package run . --binary $(CURDIR)/out/package/ddc-gitops --agent-binary $(CURDIR)/out/package/ddc-gitops-agent \
		--debian $(CURDIR)/deploy/debian --doc $(CURDIR)/docs/deploy.md --out $(CURDIR)/out

clean:
	rm -rf bin out
