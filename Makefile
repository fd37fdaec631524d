# TinyLab: two commands do all set-up and work.
#   make lab    create .venv, install TinyLab and the board toolchain, start JupyterLab
#   make test   the same set-up, then every test: pytest for the package, nbval for the lessons
# Both are idempotent: once set up they go straight to work.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tinylab-installed
# The board toolchain (Debian/Ubuntu packages), one list shared with Binder.
APT_PACKAGES := $(shell grep -v '^[[:space:]]*\#' binder/apt.txt)
TEST_WORKSPACE := $(CURDIR)/.test-workspace
LESSONS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: lab test setup toolchain bench clean help

help:
	@echo "make lab    start the workbench (JupyterLab on the welcome lesson)"
	@echo "make test   run every test (package + lesson notebooks)"
	@echo "make bench  run the benchmarks and rewrite docs/benchmarks.md"

lab: setup
	$(BIN)/tinylab lab

test: setup
	rm -rf $(TEST_WORKSPACE)
	TINYLAB_WORKSPACE=$(TEST_WORKSPACE) MPLBACKEND=Agg \
	  $(BIN)/python -m pytest tests $(LESSONS) --nbval-lax --nbval-current-env

# Every benchmark in bench/ (each prints JSON and rewrites its section of docs/benchmarks.md).
bench: setup
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	for b in $(sort $(basename $(notdir $(wildcard bench/[a-z]*.py)))); do \
	  $(BIN)/tinylab bench $$b --write || exit 1; done

setup: toolchain $(STAMP)

# Board toolchain from apt: installed when running as root, otherwise the install line is printed.
toolchain:
	@if ! command -v dpkg-query >/dev/null; then \
	  echo "Board toolchain: not a Debian/Ubuntu system; install the equivalents of: $(APT_PACKAGES)"; \
	  exit 0; fi; \
	missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing the board toolchain:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "Board toolchain missing:$$missing"; \
	  echo "  install it with: sudo apt-get install -y$$missing"; \
	  echo "  (lessons 00-06 run without it; deploying to a board needs it)"; \
	fi

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing python3-venv (needed to create .venv)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && \
	    $(PYTHON) -m venv $(VENV); \
	  else \
	    echo "Cannot create $(VENV) with $(PYTHON): install venv support (sudo apt-get install -y python3-venv) or set PYTHON=python3.11"; \
	    exit 1; \
	  fi; }

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) $(TEST_WORKSPACE) workspace notebooks/workspace
