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
deps: ## Install Node.js packages (npm ci) and the kernel tools (iptables, nft, conntrack, iproute2), compile the eBPF programs
	@hack/install-node-deps.sh
	@hack/install-system-deps.sh
	@hack/build-bpf.sh .cache/build >/dev/null # the eBPF programs kpng loads in a source checkout (tests, lab), cached in .cache/bpf/

.PHONY: k8s-binaries
k8s-binaries: ## Obtain etcd, kube-apiserver, kube-proxy, kubectl, e2e.test, ginkgo, kubelet, kube-controller-manager, kube-scheduler, agnhost, regression-issue-74839, coredns for the pinned version
	@hack/k8s-binaries.sh

.PHONY: build
build: ## Compile TypeScript to dist/ (the kpng bin)
	@hack/install-node-deps.sh
	tsc -p tsconfig.build.json
	@hack/copy-build-assets.sh
	@hack/build-bpf.sh

.PHONY: lint
lint: ## Typecheck and lint
	@hack/install-node-deps.sh
	tsc -p tsconfig.json --noEmit
	eslint .

.PHONY: test
test: deps ## Run every test tier: unit, netns (root), cluster (etcd + kube-apiserver), lab, suite (e2e.test), e2e (upstream specs on netns clusters, root)
	@hack/k8s-binaries.sh --if-needed
	vitest run

.PHONY: test-unit test-netns test-cluster test-suite test-lab test-e2e test-e2e-cluster
test-unit: ## Run the unit tier only
	@hack/install-node-deps.sh
	vitest run --project unit
test-netns: deps ## Run the netns tier only (root)
	vitest run --project netns
test-cluster: deps ## Run the cluster tier only
	@hack/k8s-binaries.sh --only etcd,kube-apiserver,kubectl
	vitest run --project cluster
test-lab: deps ## Run the lab tier only (root; the lab for iptables and nft on ipv4 and dual, and the suite's own tests)
	@hack/k8s-binaries.sh --only etcd,kube-apiserver,kubectl
	vitest run --project lab
test-suite: deps ## Run the suite tier only (the e2e selections against the real e2e.test and ginkgo)
	@hack/k8s-binaries.sh --only e2e.test,ginkgo
	vitest run --project suite
test-e2e: deps ## Run the e2e tier only (root): upstream [sig-network] Services [Conformance] on netns clusters, kube-proxy then kpng iptables and nft, with parity
	@hack/k8s-binaries.sh --only cluster,e2e.test,ginkgo
	vitest run --project e2e
test-e2e-cluster: deps ## Run the opt-in e2e-cluster tier (root): netns clusters of real kubelets + containerd, not part of make test
	@hack/k8s-binaries.sh --only cluster,e2e.test,ginkgo # e2e.test and ginkgo: the e2e command signalled while its cluster starts
	vitest run --project e2e-cluster

# ------------------------------------------------------------------ the harness (kind, Tilt, e2e)
# kpng-harness (package.json bin), run from source with the project's Node.js.
KPNG_HARNESS := node harness/cli.ts
IMAGE ?= kpng:dev
# Parallel ginkgo processes for e2e (KPNG used 25).
n ?= 8

.PHONY: image
image: ## Build the proxy image from proxy/Dockerfile (needs Docker)
	@hack/install-node-deps.sh
	@$(KPNG_HARNESS) image --tag $(IMAGE)

.PHONY: tilt-setup tilt-up tilt-down
tilt-setup: ## kind cluster, namespace, RBAC and tilt.env for b=<backend> i=<family> [m=<model>] [recreate=1]
	@hack/install-node-deps.sh
	@$(KPNG_HARNESS) tilt-setup --backend $(b) --family $(i) --model $(m) --image $(IMAGE)$(if $(recreate), --recreate)
tilt-up: ## Run the Tilt loop on the tilt-setup cluster: rebuild and redeploy on every change
	@hack/install-node-deps.sh
	@$(KPNG_HARNESS) tilt-up
tilt-down: ## Remove what Tilt deployed and delete the kind cluster [keep=1 keeps the cluster]
	@hack/install-node-deps.sh
	@$(KPNG_HARNESS) tilt-down$(if $(keep), --keep-cluster)

.PHONY: e2e e2e-selection e2e-report
e2e: ## Upstream e2e per backend × family, then the parity report: kind where Docker answers, else netns clusters (root, ipv4 unless i=, kube-proxy first) [cluster=netns|kind] [b=] [i=] [focus=RE]
	@hack/install-node-deps.sh
	@hack/k8s-binaries.sh --only e2e.test,ginkgo,kubectl
	@if [ "$(cluster)" = netns ] || { [ "$(cluster)" != kind ] && ! docker info >/dev/null 2>&1; }; then hack/install-system-deps.sh && hack/k8s-binaries.sh --only cluster; fi
	@$(KPNG_HARNESS) e2e --nodes $(n)$(if $(cluster), --cluster $(cluster))$(if $(filter command line,$(origin b)), --backend $(b))$(if $(filter command line,$(origin i)), --family $(i))$(if $(focus), --focus '$(focus)')$(if $(keep), --keep-cluster)
e2e-%: ## Upstream e2e for one: make e2e-<family>-<backend>, e.g. e2e-ipv4-iptables, e2e-dual-nft
	@hack/install-node-deps.sh
	@$(KPNG_HARNESS) require-tools docker kind
	@hack/k8s-binaries.sh --only e2e.test,ginkgo,kubectl
	@$(KPNG_HARNESS) e2e --family $(firstword $(subst -, ,$*)) --backend $(patsubst $(firstword $(subst -, ,$*))-%,%,$*) --nodes $(n)$(if $(keep), --keep-cluster)
e2e-selection: ## Verify each backend × family's e2e selection against e2e.test's spec list, print the counts (no Docker)
	@hack/install-node-deps.sh
	@hack/k8s-binaries.sh --only e2e.test
	@$(KPNG_HARNESS) e2e-selection$(if $(show), --show)
e2e-report: ## The parity report (markdown + HTML) from reports/e2e/<family>-<backend>/junit*.xml
	@hack/install-node-deps.sh
	@$(KPNG_HARNESS) report

# ------------------------------------------------------------------ a control plane to use by hand
.PHONY: control-plane-up control-plane-down
control-plane-up: deps ## Start etcd + kube-apiserver on loopback [i=<family>], leave them running; prints export KUBECONFIG=...
	@hack/k8s-binaries.sh --only etcd,kube-apiserver,kubectl >&2
	@$(KPNG_HARNESS) control-plane up --family $(i)
control-plane-down: ## Stop the control plane control-plane-up started and remove its files
	@hack/install-node-deps.sh
	@$(KPNG_HARNESS) control-plane down

# ------------------------------------------------------------------ a cluster without Docker
nodes ?= 2
.PHONY: cluster-up cluster-down
cluster-up: deps ## A cluster without Docker: kubelet + containerd per node namespace [nodes=2] [i=ipv4|ipv6|dual] [proxy=kube-proxy] (root); prints export KUBECONFIG=...
	@hack/k8s-binaries.sh --only cluster >&2
	@$(KPNG_HARNESS) cluster up --provider netns --family $(i) --nodes $(nodes)$(if $(proxy), --proxy $(proxy))
cluster-down: ## Remove the cluster cluster-up made: processes, namespaces, mounts, cgroups, files; host sysctls put back
	@hack/install-node-deps.sh
	@$(KPNG_HARNESS) cluster down

# ------------------------------------------------------------------ the docker-free lab
.PHONY: lab lab-matrix
lab: deps ## The lab conformance suite in a docker-free lab of netns nodes, for b=<backend> i=<family> [m=<model>]
	@hack/k8s-binaries.sh --only etcd,kube-apiserver,kubectl
	@$(KPNG_HARNESS) lab --backend $(b) --family $(i) --model $(m)
lab-matrix: deps ## The lab for every backend × family the proxy offers, into one report (reports/lab)
	@hack/k8s-binaries.sh --only etcd,kube-apiserver,kubectl
	@$(KPNG_HARNESS) lab --model $(m)
