# bootd: make run (the daemon on loopback with the example catalog),
# make test (everything the tests need, then every test).
GO      ?= go
BIN     := bin/bootd
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
DATA    ?= $(CURDIR)/.data
LISTEN  ?= 127.0.0.1:8080

.PHONY: all build run test unit lint deps clean

all: build

## build: compile bin/bootd
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/bootd

## run: bootd serve on $(LISTEN) with the embedded example image catalog and data in $(DATA)
run: deps build
	./$(BIN) serve --data-dir $(DATA) --http-listen $(LISTEN)

## test: install what the tests need, check style and arrows, run every test
test: deps lint unit

## unit: the Go tests (race detector on), the boot storms (without it), and boot once more without cgo
unit:
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -v -run '^TestStorm' ./cmd/bootd/
	CGO_ENABLED=0 $(GO) test -count=1 ./boot/...

## lint: gofmt, go vet and the package-arrow check
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	./scripts/check-arrows.sh

## deps: install build and test dependencies (Debian 12 / Ubuntu; idempotent)
deps:
	./scripts/deps.sh

clean:
	rm -rf bin
