# Notifier: `make run` serves the app on http://127.0.0.1:5000, `make test` runs every test.
# GNU make. Recipes use bash so that `set -o pipefail` and [[ ]] work.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
HOST ?= 127.0.0.1
PORT ?= 5000

# System packages the test suite needs (Debian names) and how each is found.
SYSTEM_PACKAGES := redis-server chromium postgresql nginx prometheus
CHROMIUM ?= /usr/bin/chromium

.PHONY: help run test lock vendor vendor-optional sysdeps lint format bench clean messages $(VENV)

help:
	@echo "make run     create $(VENV), vendor htmx, init the SQLite db and demo users, serve on http://$(HOST):$(PORT)"
	@echo "make test    install test deps and system packages (as root), lint, run the whole suite"
	@echo "make vendor  fetch htmx + SSE extension into static/vendor/ (checksum-checked)"
	@echo "make lock    re-resolve requirements*.txt from pyproject.toml (LOCK_ARGS=--upgrade to bump all)"
	@echo "make messages  re-extract page strings, update translations/*/messages.po, compile the .mo"
	@echo "make lint | format | bench | clean"

# The virtualenv, installed from the lock files (exact versions, every file hash-checked) and
# then the project itself without dependencies. A stamp per lock: it reinstalls whenever the lock
# or pyproject.toml changes. `make test` installs requirements-test.txt (a superset of
# requirements.txt at the same versions), so it satisfies `make run` too.
$(VENV): $(STAMP)

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) || { \
	  echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu install python3-venv (apt-get install python3-venv)" >&2; \
	  exit 1; }

$(RUN_STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	@touch $@

$(STAMP): requirements-test.txt requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-test.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	@touch $@ $(RUN_STAMP)

# Re-resolve the lock files from pyproject.toml with pip-tools (in its own venv, so it never
# lands in the project's). Pins already in the lock stay unless asked:
#   make lock                                  after adding or changing a dependency
#   make lock LOCK_ARGS=--upgrade              every package to its newest allowed version
#   make lock LOCK_ARGS="--upgrade-package flask"
PIP_TOOLS ?= pip-tools==7.6.2
LOCK_VENV ?= .venv-lock
LOCK_ARGS ?=
COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

lock:
	@[[ -x $(LOCK_VENV)/bin/pip-compile ]] || { $(PYTHON) -m venv $(LOCK_VENV) && \
	  $(LOCK_VENV)/bin/python -m pip install --quiet '$(PIP_TOOLS)'; }
	$(COMPILE) -o requirements.txt pyproject.toml
	$(COMPILE) --extra test -c requirements.txt -o requirements-test.txt pyproject.toml

# Fetch and verify the pinned htmx files; exit 1 on a checksum mismatch, 3 when unreachable.
vendor:
	$(PYTHON) scripts/vendor.py

# For `make run`: an unreachable registry is only a warning (pages use the CDN copy with SRI);
# a checksum mismatch still stops.
vendor-optional:
	@rc=0; $(PYTHON) scripts/vendor.py || rc=$$?; \
	if [[ $$rc -eq 3 ]]; then \
	  echo "warning: could not fetch htmx (no npm registry access); pages will load it from the CDN" >&2; \
	elif [[ $$rc -ne 0 ]]; then exit $$rc; fi

run: $(RUN_STAMP) vendor-optional
	$(BIN)/flask --app app init-db
	$(BIN)/flask --app app seed-demo
	$(BIN)/python app.py --host $(HOST) --port $(PORT)

# redis-server, Chromium and PostgreSQL (initdb) for the integration and browser tests; nginx for
# the proxy tests (drain, self-test); prometheus for promtool, which checks the /metrics text.
sysdeps:
	@missing=(); \
	command -v redis-server >/dev/null 2>&1 || missing+=(redis-server); \
	[[ -x "$(CHROMIUM)" ]] || missing+=(chromium); \
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql); \
	[[ -x /usr/sbin/nginx ]] || command -v nginx >/dev/null 2>&1 || missing+=(nginx); \
	command -v promtool >/dev/null 2>&1 || missing+=(prometheus); \
	if (( $${#missing[@]} == 0 )); then exit 0; fi; \
	if [[ $$(id -u) -eq 0 ]]; then \
	  echo "installing missing system packages: $${missing[*]}"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update; \
	  apt-get install -y "$${missing[@]}"; \
	else \
	  echo "error: the test suite needs these system packages: $${missing[*]}" >&2; \
	  echo "       install them with: sudo apt-get install -y $${missing[*]}" >&2; \
	  echo "       (or run 'make test' as root, which installs them)" >&2; \
	  exit 1; \
	fi

# pytest-xdist workers (README "Tests"). 0 (serial) by default: on a 2-core machine the suite is
# CPU-bound (3 workers: 29 min 30 s at load ~4, no faster than serial, and the timing-heavy
# restart tests suffer); on a machine with more cores `make test TEST_WORKERS=4` spreads it.
TEST_WORKERS ?= 0
test: $(STAMP) sysdeps
	$(PYTHON) scripts/vendor.py
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -n $(TEST_WORKERS) --durations=20

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The floor and Notifier (SQLite), then gunicorn + Redis + PostgreSQL; writes docs/benchmarks.md.
bench: $(STAMP) sysdeps
	$(BIN)/python -m bench

# Page translations (README "Translations"): extract every _()/gettext string into the
# template, merge it into each language's catalog (new strings arrive untranslated, changed
# ones fuzzy), then compile the .mo files the app reads. The .mo files are committed, so a
# fresh clone and the wheel serve every language without this step; tests/test_i18n.py fails
# while a catalog lacks a translation or its .mo is older than its .po.
# Keywords: _ gettext ngettext lazy_gettext (defaults), _l (lazy_gettext), N_ (marked for the
# scripts, notifier/i18n.py UI_STRINGS), and the email channel's _t(job, msg) / _nt(job, s, p, n).
BABEL_KEYWORDS := -k _l -k N_ -k _t:2 -k _nt:2,3
messages: $(RUN_STAMP)
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --sort-by-file --no-wrap \
	  --project Notifier --version 0.1.0 --copyright-holder "Notifier contributors" -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-wrap --ignore-obsolete
	$(BIN)/pybabel compile -d translations --statistics

# Removes the venv, the vendored files and caches; keeps instance/ (database, secret key).
clean:
	rm -rf $(VENV) $(LOCK_VENV) static/vendor/*.js static/vendor/.*.part .pytest_cache .ruff_cache \
	  .hypothesis test-artifacts build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
