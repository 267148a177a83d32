# lakelib workspace. The two commands a new user needs: `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
# First Python 3.11/3.12 on PATH (Glue 5 and SageMaker images run 3.11).
PYTHON ?= $(shell for p in python3.11 python3.12 python3; do \
	  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not (3,11) <= sys.version_info[:2] <= (3,12))' 2>/dev/null \
	  && { echo $$p; break; }; done)
PYTEST_ARGS ?=

.PHONY: help install browser demo test lint format bench lab clean

help:
	@echo "make demo    generate sample data and run the pipeline on the local lake (.lake/)"
	@echo "make test    run every test tier (unit, integration, notebooks, infra) offline"
	@echo "make lint | bench | lab | clean"

# Re-installs only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
	  echo "make: Python 3.11 or 3.12 with venv is required (e.g. apt-get install python3.11 python3.11-venv)" >&2; exit 1; fi
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { \
	  echo "make: $(PYTHON) lacks venv/ensurepip (e.g. apt-get install python3-venv)" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q -e '.[all]'
	@$(BIN)/python -m lakelib._java ensure >/dev/null
	@touch $(STAMP)

install: $(STAMP)

# The report test opens the HTML report in a real headless browser (Debian's chromium).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the report rendering test"; \
	    apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; \
	  else echo "make: the report test needs chromium (e.g. sudo apt-get install chromium)" >&2; exit 1; fi; }

demo: install
	$(BIN)/lake demo

# Node tools the tests run offline (asl-validator for the exported state machine), exactly as
# tools/package-lock.json pins them; reinstalled only when the lock changes.
NODE_TOOLS := tools/node_modules/.install-stamp
$(NODE_TOOLS): tools/package.json tools/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  echo "make: npm is required for the ASL validator test (e.g. apt-get install npm)" >&2; exit 1; }
	npm ci --prefix tools --no-audit --no-fund --silent
	@touch $@

test: install browser $(NODE_TOOLS)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check lakelib tests bench jobs infra
	$(BIN)/ruff format --check lakelib tests bench jobs infra
	$(BIN)/mypy --strict lakelib

format: install
	$(BIN)/ruff format lakelib tests bench jobs infra
	$(BIN)/ruff check --fix lakelib tests bench jobs infra

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lab: install
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf .lake .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
