# `make install` / `make uninstall` for the live sensor as a systemd service. Included by the
# top-level Makefile; also usable alone: `make -f systemd/install.mk install`.
#
# Installs the release binary to /usr/local/bin, config/ to /etc/nsm-sensor/ (with a
# sensor.toml rewritten for the service: logs in /var/log/nsm-sensor, ring in
# /var/lib/nsm-sensor/ring, absolute rule paths under /etc/nsm-sensor/rules, user nsm-sensor),
# rules/ to /etc/nsm-sensor/rules/, the units (the sensor; `update` as a oneshot service and
# its daily timer; the read-only web console) and the logrotate snippet; creates the system
# user nsm-sensor and its directories (0750), /var/lib/nsm-sensor/rules for `update`'s versions included; the
# service's config names the pidfile /run/nsm-sensor/nsm-sensor.pid (the unit's
# RuntimeDirectory). Files you may have edited (sensor.toml, threshold.conf,
# local.rules) are not overwritten: the new version lands beside them as *.new.
#
# DESTDIR=/some/root stages the files without creating the user, chowning or reloading systemd
# (for packaging and tests).

CARGO ?= cargo
BIN ?= target/release/nsm-sensor
DESTDIR ?=
SENSOR_USER ?= nsm-sensor
BINDIR ?= /usr/local/bin
CONFDIR ?= /etc/nsm-sensor
LOGDIR ?= /var/log/nsm-sensor
STATEDIR ?= /var/lib/nsm-sensor
RUNDIR ?= /run/nsm-sensor
UNITS = nsm-sensor.service nsm-sensor-update.service nsm-sensor-update.timer nsm-sensor-console.service
UNITDIR ?= /etc/systemd/system
LOGROTATEDIR ?= /etc/logrotate.d

.PHONY: install uninstall

install:
	@test -x $(BIN) || $(CARGO) build --release
	@set -e; \
	root='$(DESTDIR)'; \
	if [ -z "$$root" ]; then \
	  [ "$$(id -u)" = 0 ] || { echo "make install: run as root (or set DESTDIR)" >&2; exit 1; }; \
	  getent group $(SENSOR_USER) >/dev/null || groupadd --system $(SENSOR_USER); \
	  getent passwd $(SENSOR_USER) >/dev/null || useradd --system --gid $(SENSOR_USER) \
	    --home-dir $(STATEDIR) --no-create-home --shell /usr/sbin/nologin \
	    --comment "nsm-sensor network security monitoring" $(SENSOR_USER); \
	  own="-o root -g $(SENSOR_USER)"; svc="-o $(SENSOR_USER) -g $(SENSOR_USER)"; \
	else own=""; svc=""; fi; \
	install -d -m 0755 "$$root$(BINDIR)" "$$root$(UNITDIR)" "$$root$(LOGROTATEDIR)"; \
	install -m 0755 $(BIN) "$$root$(BINDIR)/nsm-sensor"; \
	install -d -m 0750 $$own "$$root$(CONFDIR)" "$$root$(CONFDIR)/rules"; \
	keep() { if [ -e "$$2" ] && ! cmp -s "$$1" "$$2"; then \
	    install -m 0640 $$own "$$1" "$$2.new"; echo "kept $$2; new version in $$2.new"; \
	  else install -m 0640 $$own "$$1" "$$2"; fi; }; \
	tmp=$$(mktemp); trap 'rm -f "$$tmp"' EXIT; \
	sed -e '/^files *=/ s#\.\./rules#$(CONFDIR)/rules#g' \
	    -e '/^\[output\]/,/^\[/ s#^dir *=.*#dir = "$(LOGDIR)"#' \
	    -e '/^\[ring\]/,/^\[/ s#^dir *=.*#dir = "$(STATEDIR)/ring"#' \
	    -e 's/^# *user *=.*/user = "$(SENSOR_USER)"/' \
	    -e 's#^\# *pidfile *=.*#pidfile = "$(RUNDIR)/nsm-sensor.pid"#' \
	    config/sensor.toml > "$$tmp"; \
	grep -q '"$(LOGDIR)"' "$$tmp" && grep -q '"$(STATEDIR)/ring"' "$$tmp" \
	  && grep -q '$(CONFDIR)/rules' "$$tmp" && grep -q '^pidfile = "$(RUNDIR)/' "$$tmp" \
	  || { echo "make install: could not rewrite config/sensor.toml for the service" >&2; exit 1; }; \
	keep "$$tmp" "$$root$(CONFDIR)/sensor.toml"; \
	for f in config/*; do \
	  case "$$f" in config/sensor.toml) ;; config/threshold.conf) keep "$$f" "$$root$(CONFDIR)/$${f#config/}";; \
	  *) install -m 0640 $$own "$$f" "$$root$(CONFDIR)/$${f#config/}";; esac; \
	done; \
	(cd rules && find . -type d) | while read -r d; do install -d -m 0750 $$own "$$root$(CONFDIR)/rules/$$d"; done; \
	(cd rules && find . -type f) | while read -r f; do \
	  case "$$f" in ./local.rules) keep "rules/$$f" "$$root$(CONFDIR)/rules/$$f";; \
	  *) install -m 0640 $$own "rules/$$f" "$$root$(CONFDIR)/rules/$$f";; esac; \
	done; \
	for u in $(UNITS); do install -m 0644 "systemd/$$u" "$$root$(UNITDIR)/$$u"; done; \
	install -m 0644 systemd/nsm-sensor.logrotate "$$root$(LOGROTATEDIR)/nsm-sensor"; \
	install -d -m 0750 $$svc "$$root$(LOGDIR)" "$$root$(STATEDIR)" "$$root$(STATEDIR)/ring" "$$root$(STATEDIR)/rules"; \
	if [ -z "$$root" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	echo "installed; start with: systemctl enable --now nsm-sensor"; \
	echo "daily rule updates (configure [update] first): systemctl enable --now nsm-sensor-update.timer"; \
	echo "the web console on 127.0.0.1:8470 ([console] in sensor.toml): systemctl enable --now nsm-sensor-console"

uninstall:
	@set -e; root='$(DESTDIR)'; \
	if [ -z "$$root" ] && [ -d /run/systemd/system ]; then \
	  systemctl disable --now nsm-sensor-console nsm-sensor-update.timer nsm-sensor-update.service nsm-sensor || true; fi; \
	rm -f "$$root$(BINDIR)/nsm-sensor" "$$root$(LOGROTATEDIR)/nsm-sensor"; \
	for u in $(UNITS); do rm -f "$$root$(UNITDIR)/$$u"; done; \
	if [ -z "$$root" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	echo "removed the binary, units and logrotate snippet; kept $(CONFDIR), $(LOGDIR), $(STATEDIR) and the user $(SENSOR_USER)"
