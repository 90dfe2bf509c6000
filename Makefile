# kpng: a Kubernetes service proxy with swappable backends, and its harness.
# Every target installs what it needs through idempotent hack/ scripts.

SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help
# The project's own Node.js (npm package node@24) comes first on PATH.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

# Backend, IP family and deployment model for tilt-setup, lab, e2e-*.
b ?= iptables
i ?= ipv4
m ?= single-process-per-node

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_%-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: ## Install Node.js packages (npm ci) and the kernel tools (iptables, nft, conntrack, iproute2)
	@hack/install-node-deps.sh
	@hack/install-system-deps.sh

.PHONY: k8s-binaries
k8s-binaries: ## Obtain etcd, kube-apiserver, kube-proxy, kubectl, e2e.test, ginkgo for the pinned version
	@hack/k8s-binaries.sh

.PHONY: build
build: ## Compile TypeScript to dist/ (the kpng bin)
	@hack/install-node-deps.sh
	tsc -p tsconfig.build.json

.PHONY: lint
lint: ## Typecheck and lint
	@hack/install-node-deps.sh
	tsc -p tsconfig.json --noEmit
	eslint .

.PHONY: test
test: deps ## Run every test tier: unit, netns (root), cluster (etcd + kube-apiserver)
	@hack/k8s-binaries.sh --if-needed
	vitest run

.PHONY: lab lab-matrix
lab: deps ## Run the lab conformance suite in a docker-free lab of netns nodes (b=backend i=family m=model)
	@hack/k8s-binaries.sh --only etcd,kube-apiserver,kubectl
	node harness/cli.ts lab --backend $(b) --family $(i) --model $(m)
lab-matrix: deps ## Run the lab for every backend × family the proxy offers, into one report (reports/lab)
	@hack/k8s-binaries.sh --only etcd,kube-apiserver,kubectl
	node harness/cli.ts lab --backend all --family all --model $(m)

.PHONY: test-unit test-netns test-cluster test-lab
test-unit: ## Run the unit tier only
	@hack/install-node-deps.sh
	vitest run --project unit
test-netns: deps ## Run the netns tier only (root)
	vitest run --project netns
test-cluster: deps ## Run the cluster tier only
	@hack/k8s-binaries.sh
	vitest run --project cluster
test-lab: deps ## Run the lab tier only (root; the lab for iptables and nft on ipv4 and dual, and the suite's own tests)
	@hack/k8s-binaries.sh --only etcd,kube-apiserver,kubectl
	vitest run --project lab
