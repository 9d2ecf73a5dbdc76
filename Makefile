# nsm-sensor — build, test, run. Every target installs the Debian packages it needs first.

SHELL := /bin/bash
CARGO ?= cargo
BIN := target/release/nsm-sensor
SHARED ?= ../shared
PKGS := time libpcap-dev tcpdump wireshark-common iproute2 tcpreplay netcat-openbsd iputils-ping python3 python3-jsonschema python3-yaml systemd util-linux chromium chromium-driver

.PHONY: deps build run demo test bench fuzz check clean

deps:
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root to install:$$missing" >&2; exit 1; fi; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }

build: deps
	$(CARGO) build --release

# The live sensor with the bundled configuration (logs and ring under ./var/).
run: build
	mkdir -p var/log var/ring
	$(BIN) check -c config/sensor.toml
	$(BIN) run -c config/sensor.toml

# The 2007 bot C&C story on the bundled seed capture: replay, alerts, investigate, evidence.
demo: build
	rm -rf var/demo && mkdir -p var/demo
	TZ=UTC $(BIN) replay -r demo/bleeding-botcc.rules --home-net 192.168.0.0/16 \
	  -l var/demo/log --ring-dir var/demo/ring demo/botcc-2007-02-21.pcap
	@echo "--- alert.fast"; cat var/demo/log/alert.fast
	@echo "--- alert"; cat var/demo/log/alert
	@echo "--- investigate"
	TZ=UTC $(BIN) investigate -l var/demo/log --ring-dir var/demo/ring
	@echo "--- the evidence store (kept whatever the ring forgets)"
	TZ=UTC $(BIN) investigate -l var/demo/log --list

test: deps
	$(CARGO) build --all-targets
	$(CARGO) test --lib --bins --tests -- --test-threads=2
	# The criterion benches once each, as smoke tests (criterion takes no libtest flags).
	$(CARGO) test --benches

bench: build
	benches/replay-bench.sh

fuzz: deps
	NSM_FUZZ_FRAMES=1000000 NSM_FUZZ_RULES=100000 NSM_FUZZ_HEADERS=200000 NSM_FUZZ_HEADER_RUNS=300 $(CARGO) test --release --test fuzz -- --nocapture

check: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf var

-include systemd/install.mk
