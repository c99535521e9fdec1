# berth — build, install and test.
GO       ?= go
BIN      ?= bin
PREFIX   ?= /usr/local
GOFLAGS  ?= -trimpath
# berth-runtime starts once per container: strip it and keep it static.
LDFLAGS  ?= -s -w
# Its entry point joins a user namespace before the Go runtime starts (see
# cmd/berth-runtime/entry_amd64.s; internal/testutil builds it the same way).
RUNTIME_LDFLAGS := $(LDFLAGS) $(if $(filter amd64,$(shell $(GO) env GOARCH)),-E main.nsenterEntry)

.PHONY: all build install test test-unit test-privileged vet demo conformance bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/berth ./cmd/berthd
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -ldflags '$(RUNTIME_LDFLAGS)' -o $(BIN)/berth-runtime ./cmd/berth-runtime
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -ldflags '$(LDFLAGS)' -o $(BIN)/testinit ./test/testinit

SYSTEMD_UNIT_DIR ?= /etc/systemd/system

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/berth
	install -m 0755 $(BIN)/berth $(BIN)/berthd $(BIN)/berth-runtime $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 docs/DAEMON.md docs/ARCHITECTURE.md $(DESTDIR)$(PREFIX)/share/doc/berth/
	# The unit is installed even without systemd running (this machine has none); enable it where it does.
	install -d $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	install -m 0644 contrib/systemd/berthd.service $(DESTDIR)$(SYSTEMD_UNIT_DIR)/

vet:
	$(GO) vet ./...

# The whole suite: unit tests and, as root, the privileged ones (they skip with a message otherwise).
test: build vet
	BERTH_BIN_DIR=$(abspath $(BIN)) $(GO) test -count=1 -timeout 30m ./...

demo: build
	./scripts/demo.sh

conformance: build
	./test/conformance/runtime-tools.sh

bench: build
	./bench/runtime-start.sh

clean:
	rm -rf $(BIN)
