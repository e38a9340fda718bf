# CareLoop: `make run` installs everything and serves the demo; `make test` installs everything and runs
# the whole suite (SQLite and PostgreSQL halves, StubBroker and Redis job tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
APT_PACKAGES := fonts-noto-cjk libharfbuzz-subset0 poppler-utils chromium

.PHONY: run test install system-packages lint messages check-messages demo clean soak

run: install
	$(BIN)/careloop serve --demo

test: install
	$(BIN)/python -m pytest

install: system-packages $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Debian packages the app needs at run time: a CJK font and HarfBuzz subsetting for fast Chinese PDFs,
# poppler for PDF checks in tests, chromium for the browser journeys. Installed only when missing.
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "please install:$$missing (Debian packages)"; fi; \
	fi

# The 10-minute sustained-load test (tests/hardening/test_sustained_load.py) on PostgreSQL and Redis; it is
# marked slow, so `make test` runs only its 30-second variant. CARELOOP_SOAK_SECONDS changes the length.
soak: install
	CARELOOP_REQUIRE_SERVICES=1 $(BIN)/python -m pytest -m slow tests/hardening/test_sustained_load.py -v

lint: install
	$(BIN)/ruff check .

messages: install
	$(BIN)/python -m core.i18n_catalog update

check-messages: install
	$(BIN)/python -m core.i18n_catalog check

demo: install
	$(BIN)/careloop demo

clean:
	rm -rf $(VENV) data careloop.db .pytest_cache
