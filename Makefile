# Malote — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/malote
# System packages the Makefile installs when missing (Debian): apt-get as root, else through sudo.
APT := $(if $(filter 0,$(shell id -u)),,sudo )apt-get
CATALOGS := $(wildcard malote/locale/*/LC_MESSAGES/django.po)
# The product's settings plus the workshop (sandbox, demo, benchmarks): for make run, the tests, the benchmarks.
export DJANGO_SETTINGS_MODULE := malote_dev.settings
# A day a year ahead that is a Brazilian national holiday (Proclamação da República, a Monday).
TEST_CLOCK ?= 2027-11-15T10:00:00-03:00
# Examples per API operation in make fuzz (the suite, and so make test, runs a few).
FUZZ_EXAMPLES ?= 50

.PHONY: run test setup lint typecheck layers test-sqlite test-postgres test-clock fuzz bench clean browser gettext messages

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	UV_PYTHON=$(PYTHON) $(UV) sync --locked --quiet
	touch $@

setup: $(VENV)/.synced messages

# gettext's msgfmt compiles the translations (pt-BR is the source language; English is a catalog).
gettext:
	@command -v msgfmt >/dev/null || ($(APT) update -qq && $(APT) install -y -qq --no-install-recommends gettext)

messages: $(VENV)/.synced gettext $(CATALOGS:.po=.mo)

%.mo: %.po
	$(BIN)/malote compilemessages --ignore=.venv --ignore=.tools --ignore=var --verbosity 0

# Debian's Chromium for the browser tests (driven by Playwright from PyPI, no browser download).
browser:
	@command -v chromium >/dev/null || ($(APT) update -qq && $(APT) install -y -qq --no-install-recommends chromium)

# Web server, a delivery worker, the sandbox fakes, a local mailbox and demo traffic (see malote up).
run: setup
	$(BIN)/malote migrate --noinput
	$(BIN)/malote createcachetable
	$(BIN)/malote collectstatic --noinput --verbosity 0
	$(BIN)/malote demo
	$(BIN)/malote up --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy malote malote_dev

# The layers of docs/ARCHITECTURE.md (import-linter contracts in pyproject.toml), and no import cycle.
layers: setup
	$(BIN)/lint-imports
	$(BIN)/python -m malote_dev.tools.import_cycles

test-sqlite: setup browser
	env -u DATABASE_URL MALOTE_REQUIRE_BROWSER=1 $(BIN)/pytest -n 2 -q

# Runs the suite on PostgreSQL; where no server answers, the database tests are skipped with that
# reason (see conftest.py), never failed. The browser tests drive the views the client tests run
# here too: Chromium adds rendering, not database behaviour, so they run in the SQLite pass only.
test-postgres: setup
	DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -n 2 -q -m "not browser"

# The suite on another day (TEST_CLOCK): no test may depend on the day it runs. The tests marked
# slow (browser rendering, crash recovery, volume; no date in their subject) ran in the passes above.
test-clock: setup
	env -u DATABASE_URL MALOTE_TEST_CLOCK=$(TEST_CLOCK) $(BIN)/pytest -n 2 -q -m "not slow"

test: lint typecheck layers test-sqlite test-postgres test-clock

# The API contract (malote/api/tests/test_contract.py): schemathesis over every operation of the
# OpenAPI document with all its checks, FUZZ_EXAMPLES examples each; make test runs it with a few.
fuzz: setup
	env -u DATABASE_URL MALOTE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -n 2 -q -p no:randomly malote/api/tests/test_contract.py

bench: setup
	UV_PYTHON=$(PYTHON) $(UV) sync --locked --quiet --group bench
	rm -f $(VENV)/.synced
	$(BIN)/malote bench transitions
	$(BIN)/malote bench search
	$(BIN)/malote bench backoffice

clean:
	rm -rf $(VENV) $(TOOLS) var .pytest_cache .mypy_cache .ruff_cache
