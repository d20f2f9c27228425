# Berth's build and test entry points. `make test` is what CI runs.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/berth
TOOLS    := $(HOME)/.cache/berth/tools
GOLANGCI_VERSION := v2.15.0

.PHONY: build test unit e2e fuzz lint demo bench clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/berth

# All tests: vet, lint, unit and integration tests, the end-to-end tests
# against the real binary, and short fuzz runs of the parsers and the log
# masker.
test: build
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

clean:
	rm -rf bin
