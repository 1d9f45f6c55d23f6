# bootd: make run (the daemon on loopback with the example catalog),
# make test (everything the tests need, then every test).
GO      ?= go
BIN     := bin/bootd
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
DATA    ?= $(CURDIR)/.data
LISTEN  ?= 127.0.0.1:8080
# GOTAGS: the go-ceph build tag of the installed Ceph release (pacific on
# Debian 12; see scripts/ceph-tags.sh). Expanded when a recipe runs, so after
# make deps has installed Ceph. Exported in GOFLAGS too, so that the go
# commands tests run (building bin/bootd) use it.
GOTAGS   = $(shell ./scripts/ceph-tags.sh)
export GOFLAGS = -tags=$(GOTAGS)
# The single-node Ceph cluster of make integration (scripts/ceph-cluster.sh).
CEPH_TEST_DIR  ?= $(CURDIR)/.ceph-test
CEPH_TEST_ADDR ?= 127.0.0.1

.PHONY: all build run demo demo-down test unit integration e2e lint deps deps-build clean image-debian image-pi4 storm

all: build

## build: compile bin/bootd
build:
	$(GO) build -tags "$(GOTAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/bootd
	CGO_ENABLED=0 GOARCH=amd64 $(GO) build -trimpath -ldflags "-s -w" -o bin/bootd-init-amd64 ./cmd/bootd-init
	CGO_ENABLED=0 GOARCH=arm64 $(GO) build -trimpath -ldflags "-s -w" -o bin/bootd-init-arm64 ./cmd/bootd-init

## run: bootd serve on $(LISTEN) with the embedded example image catalog and data in $(DATA);
## installs only what the build needs (deps-build), not the test tools
run: deps-build build
	./$(BIN) serve --data-dir $(DATA) --http-listen $(LISTEN)

## storm: a boot storm, N=1000 simulated machines through the whole chain against
## bootd on a real Ceph cluster, the physical limit and dnsmasq+nginx (as root; N=, PEER=0)
storm:
	./scripts/bench-storm.sh

## test: install what the tests need, check style and arrows, run every test
test: deps lint unit integration e2e

## unit: the Go tests (race detector on), the boot storms (without it), and boot once more without cgo
unit:
	$(GO) test -tags "$(GOTAGS)" -race -count=1 ./...
	$(GO) test -count=1 -v -run '^TestStorm' ./cmd/bootd/
	CGO_ENABLED=0 $(GO) test -count=1 ./boot/...

## integration: start a single-node Ceph cluster, run the tests that need it
## (rbd, crash tests of bootd serve, the RADOS store's contract, two instances' dashboards on it) as its least-privilege client.bootd
## (keyring next to ceph.conf; admin only prepares and checks), stop the
## cluster by PID even on failure
integration:
	@set -e; trap './scripts/ceph-cluster.sh stop $(CEPH_TEST_DIR)' EXIT; \
	  ./scripts/ceph-cluster.sh start $(CEPH_TEST_DIR) $(CEPH_TEST_ADDR); \
	  BOOTD_TEST_CEPH_CONF=$(CEPH_TEST_DIR)/ceph.conf \
	  $(GO) test -tags "$(GOTAGS) integration" -race -count=1 -timeout 10m ./rbd/... ./boot/radosstore/...; \
	  BOOTD_TEST_CEPH_CONF=$(CEPH_TEST_DIR)/ceph.conf \
	  $(GO) test -tags "$(GOTAGS) integration" -count=1 -timeout 5m -run 'TestShared' ./cmd/bootd/

## demo: as root, Ceph + bootd + one VM booting from its cloud disk, left running
demo:
	./scripts/demo.sh up

## demo-down: stop everything make demo started and remove its namespace
demo-down:
	./scripts/demo.sh down

## e2e: as root, boot QEMU VMs (BIOS and UEFI, and the Pi 4 image's arm64 kernel
## under -M virt) through bootd onto RBD clones in a network namespace with its
## own Ceph cluster (scripts/e2e); the boot images are built once into $(E2E_CACHE)
E2E_CACHE ?= $(CURDIR)/.cache/e2e
e2e: build
	$(MAKE) --no-print-directory image-debian image-pi4 IMAGES_DIR=$(E2E_CACHE)/images
	BOOTD_E2E_CACHE=$(E2E_CACHE) $(GO) test -tags "$(GOTAGS) e2e" -count=1 -v -timeout 30m ./scripts/e2e/

## image-debian: as root, an amd64 initramfs-tools image from Debian 12 packages
## into $(IMAGES_DIR) (debian-12.yaml and debian-12/; left alone once built)
IMAGES_DIR ?= $(CURDIR)/.cache/images
image-debian:
	./scripts/image-debian.sh $(IMAGES_DIR) debian-12

## image-pi4: as root, a Raspberry Pi 4 arm64 initramfs-tools image from Debian 12
## packages (kernel, device trees, raspi-firmware) into $(IMAGES_DIR) (debian-12-pi4)
image-pi4:
	./scripts/image-pi4.sh $(IMAGES_DIR) debian-12-pi4

## lint: gofmt, go vet and the package-arrow check
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags "$(GOTAGS)" ./...
	$(GO) vet -tags "$(GOTAGS) integration" ./rbd/ ./boot/radosstore/ ./cmd/bootd/
	$(GO) vet -tags "$(GOTAGS) e2e" ./scripts/e2e/
	./scripts/check-arrows.sh

## deps: install build and test dependencies (Debian 12 / Ubuntu; idempotent)
deps:
	./scripts/deps.sh

## deps-build: install only what make build needs (Go, a C compiler, Ceph's client libraries)
deps-build:
	./scripts/deps.sh base build

clean:
	rm -rf bin bootd
