# digitd: build and install.
#
#   make                      release build (swift build -c release)
#   make install              binary, model, config and systemd units under PREFIX (default /usr/local)
#   make install PREFIX=/usr DESTDIR=/tmp/pkg     staged install for packaging
#   make check-units          systemd-analyze verify + security score of the units
#   make uninstall
#
# The config file goes to $(SYSCONFDIR)/digitd/digitd.toml (default /etc), where `digitd run`
# looks for it, and is not overwritten when it exists (your edits stay). Units go to
# $(UNITDIR) with the binary's installed path written into ExecStart.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DATADIR    ?= $(PREFIX)/share/digitd
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=
SWIFT      ?= swift
SWIFT_FLAGS ?=
MODEL      ?= Models/digitd-default.safetensors
# The cascade's screen network, installed beside the model (digitd uses it when it is there).
SCREEN     ?= Models/digitd-screen.safetensors
# The model for pictures (scan, run): MNIST plus the pipeline's own crops of generated scenes.
SCENE      ?= Models/digitd-scene.safetensors
# Its own screen, trained on the same scene crops.
SCENE_SCREEN ?= Models/digitd-scene-screen.safetensors

.PHONY: all build install uninstall check-units

all: build

build:
	$(SWIFT) build -c release --product digitd $(SWIFT_FLAGS)

install: build
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(DATADIR)" "$(DESTDIR)$(SYSCONFDIR)/digitd" "$(DESTDIR)$(UNITDIR)"
	install -m 0755 "$$($(SWIFT) build -c release --show-bin-path $(SWIFT_FLAGS))/digitd" "$(DESTDIR)$(BINDIR)/digitd"
	install -m 0644 "$(MODEL)" "$(DESTDIR)$(DATADIR)/digitd-default.safetensors"
	install -m 0644 "$(SCREEN)" "$(DESTDIR)$(DATADIR)/digitd-screen.safetensors"
	install -m 0644 "$(SCENE)" "$(DESTDIR)$(DATADIR)/digitd-scene.safetensors"
	install -m 0644 "$(SCENE_SCREEN)" "$(DESTDIR)$(DATADIR)/digitd-scene-screen.safetensors"
	install -m 0644 Config/digitd.toml "$(DESTDIR)$(DATADIR)/digitd.toml.example"
	@if [ -e "$(DESTDIR)$(SYSCONFDIR)/digitd/digitd.toml" ]; then \
	  echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/digitd/digitd.toml (new defaults in $(DATADIR)/digitd.toml.example)"; \
	else \
	  install -m 0644 Config/digitd.toml "$(DESTDIR)$(SYSCONFDIR)/digitd/digitd.toml"; \
	fi
	for unit in digitd.service digitd@.service; do \
	  sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' "systemd/$$unit" > "$(DESTDIR)$(UNITDIR)/$$unit"; \
	  chmod 0644 "$(DESTDIR)$(UNITDIR)/$$unit"; \
	done
	@echo "installed; to start the service: systemctl daemon-reload && systemctl enable --now digitd"

uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/digitd" "$(DESTDIR)$(DATADIR)/digitd-default.safetensors" \
	      "$(DESTDIR)$(DATADIR)/digitd-screen.safetensors" "$(DESTDIR)$(DATADIR)/digitd-scene.safetensors" \
	      "$(DESTDIR)$(DATADIR)/digitd-scene-screen.safetensors" \
	      "$(DESTDIR)$(DATADIR)/digitd.toml.example" \
	      "$(DESTDIR)$(UNITDIR)/digitd.service" "$(DESTDIR)$(UNITDIR)/digitd@.service"
	-rmdir "$(DESTDIR)$(DATADIR)" 2>/dev/null
	@echo "left $(SYSCONFDIR)/digitd/digitd.toml in place"

# Verifies the units as they would be installed (ExecStart pointing at a built binary).
check-units:
	@tmp=$$(mktemp -d); bin=$$($(SWIFT) build --show-bin-path $(SWIFT_FLAGS)); \
	for unit in digitd.service digitd@.service; do \
	  sed -e "s|@BINDIR@|$$bin|g" -e 's|@DATADIR@|$(DATADIR)|g' "systemd/$$unit" > "$$tmp/$$unit"; \
	done; \
	sed -e 's|%I|video0|g' -e 's|%i|video0|g' "$$tmp/digitd@.service" > "$$tmp/digitd-video0.service"; \
	(cd "$$tmp" && systemd-analyze verify --man=no ./digitd.service ./digitd@video0.service) && echo "units verify"; \
	systemd-analyze security --offline=yes "$$tmp/digitd.service" | tail -1; \
	systemd-analyze security --offline=yes "$$tmp/digitd-video0.service" | tail -1; \
	rm -rf "$$tmp"
