# Berth's build and test entry points. `make test` is what CI runs.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/berth
TOOLS    := $(HOME)/.cache/berth/tools
GOLANGCI_VERSION := v2.15.0

.PHONY: build image test unit e2e fuzz lint demo bench clean kube-testenv kube-realnode postgres-testenv

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/berth

# The container image gateways in clusters run (and `berth server` can):
# a static berth for linux/$(ARCH) with CA certificates and a non-root
# user, written as an OCI layout tar by hack/ociimage, with no container
# engine and no registry. Push it with
#   skopeo copy oci-archive:bin/berth-image.tar docker://REGISTRY/berth:TAG
# or `docker load -i bin/berth-image.tar`; see docs/kubernetes.md.
ARCH     ?= $(shell $(GO) env GOARCH)
IMAGE    ?= ghcr.io/berthdev/berth:$(VERSION)
image:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/linux-$(ARCH)/berth ./cmd/berth
	$(GO) run ./hack/ociimage -binary bin/linux-$(ARCH)/berth -arch $(ARCH) -ref $(IMAGE) -version $(VERSION) -out bin/berth-image.tar

# All tests: vet, lint, unit and integration tests, the end-to-end tests
# against the real binary, and short fuzz runs of the parsers and the log
# masker.
#
# Under CI (CI=true) the Kubernetes test control plane is built first, so
# internal/kubetest's tests run (they fail in CI without it); elsewhere they
# use the cache if `make kube-testenv` has filled it, and skip if not.
test: build
	@if [ "$$CI" = true ]; then $(MAKE) kube-testenv kube-realnode; fi
	@if [ "$$CI" = true ]; then $(MAKE) postgres-testenv; fi
	$(GO) vet ./...
	$(MAKE) lint
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) fuzz

# Minimising each new input is capped by count: time-capped minimisation
# (60 s by default) stalled the short CI run at 0 execs/s.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 15s -fuzzminimizetime 200x ./internal/spec
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 10s -fuzzminimizetime 200x ./internal/pipeline
	$(GO) test -run '^$$' -fuzz '^FuzzMask$$' -fuzztime 10s -fuzzminimizetime 200x ./internal/pipeline/mask

lint:
	@test -x $(TOOLS)/golangci-lint || GOBIN=$(TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	$(TOOLS)/golangci-lint run ./...

# Build Berth, start a server on a fresh data dir, deploy the example shop
# and show it answering through the gateway.
demo: build
	./hack/demo.sh

bench: build
	./bench/run.sh

# Build the real Kubernetes control plane the tests start (etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok,
# kwokctl) into ~/.cache/berth/kube-<version> ($$BERTH_KUBE_CACHE overrides).
# About 7-10 minutes on 2 cores the first time (3.6 GB of Go build cache,
# 1 GB of modules, 457 MB of binaries); under a second once built.
kube-testenv:
	./hack/kubeenv/build.sh

# Build a real node for the Kubernetes tests that ask for one
# (kubetest.Options.RealNode): kubelet, containerd, its runc shim, ctr and
# the CNI plugins into realnode/ of the same cache; runc, busybox-static
# and git come from Debian (installed when missing, as root). `make test`
# builds it under CI (CI=true), like the control plane; elsewhere the tests
# that need it skip, saying so. See docs/kubernetes-testenv.md.
kube-realnode: kube-testenv
	./hack/kubeenv/realnode.sh

# Make sure the PostgreSQL tests have a server (internal/pgtest): one named
# by BERTH_TEST_POSTGRES_URL, one on 127.0.0.1:5432, or Debian's binaries
# from which the tests start their own. With none of them it installs
# Debian's postgresql package (as root, or through sudo).
postgres-testenv:
	@if [ -n "$$BERTH_TEST_POSTGRES_URL" ]; then echo "postgres-testenv: using BERTH_TEST_POSTGRES_URL"; \
	elif bash -c 'exec 3<>/dev/tcp/127.0.0.1/5432' 2>/dev/null; then echo "postgres-testenv: a server answers on 127.0.0.1:5432"; \
	elif ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then echo "postgres-testenv: tests will start a server from /usr/lib/postgresql"; \
	else echo "postgres-testenv: installing Debian's postgresql package"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q postgresql; fi

clean:
	rm -rf bin
