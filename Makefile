# Inventory Pro — Customers.  The two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
HOST ?= 127.0.0.1
PORT ?= 8501
ROWS ?= 1000000
REPS ?= 3

.PHONY: run test lint format bench api clean help chromium

help:
	@echo "make run    - install, migrate, load the demo tenant, start the dashboard"
	@echo "make test   - install test tools (and Chromium when possible), lint, run every test"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - the performance budget of SPEC section 8 (ROWS=... REPS=... for a quick run)"
	@echo "make api    - run the REST API on port 8000"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PIP) install -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install -r requirements-dev.txt
	@touch $(VENV)/.runtime $@

run: $(VENV)/.runtime
	$(PY) manage.py init-db
	$(PY) manage.py demo --port $(PORT)
	$(PY) manage.py dashboard --host $(HOST) --port $(PORT)

api: $(VENV)/.runtime
	$(PY) manage.py init-db
	$(PY) manage.py api --host $(HOST) --port 8000

# Debian's Chromium drives the browser tests; install it when missing and allowed.
chromium:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "Chromium is missing and packages cannot be installed here: browser tests will be skipped."; exit 0; fi; \
	echo "Installing Debian's chromium for the browser tests..."; \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
	{ $$SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium >/dev/null; }

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: $(VENV)/.dev chromium lint
	$(VENV)/bin/pytest -n 2 --timeout 600 $(PYTEST_ARGS)

bench: $(VENV)/.dev
	$(PY) bench/run.py --rows $(ROWS) --reps $(REPS) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts
