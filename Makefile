# TinyLab: two commands do all set-up and work.
#   make lab    create .venv, install TinyLab and the board toolchain, start JupyterLab
#   make test   the same set-up, then every test: pytest for the package, nbval for the lessons
#   make app    the same set-up, then serve the Voila apps (notebooks/apps) on localhost
# All are idempotent: once set up they go straight to work.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tinylab-installed
# The board toolchain (Debian/Ubuntu packages), one list shared with Binder.
APT_PACKAGES := $(shell grep -v '^[[:space:]]*\#' binder/apt.txt)
# Test-only Debian packages: the browser the Voila apps are tested in (Playwright drives it;
# no browser download) and a font for legible screenshots (only recommended by chromium, and
# recommends are not installed). Not on Binder.
TEST_APT_PACKAGES := chromium fonts-liberation
TEST_WORKSPACE := $(CURDIR)/.test-workspace
LESSONS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
APPS := $(sort $(wildcard notebooks/apps/*.ipynb))

.PHONY: lab app test test-isa setup assignments toolchain test-browser bench clean help

help:
	@echo "make lab    start the workbench (JupyterLab on the welcome lesson)"
	@echo "make test   run every test (package + lesson notebooks), the cross-CPU ones twice"
	@echo "make test-isa  the cross-CPU tests under another oneDNN instruction set (ISA=SSE41)"
	@echo "make app    serve the Voila apps (notebooks/apps) on http://localhost:8866/"
	@echo "make bench  run the benchmarks and rewrite docs/benchmarks.md"
	@echo "make assignments  the lessons as nbgrader assignments in assignments/ (ASSIGNMENTS=DIR)"

lab: setup
	$(BIN)/tinylab lab

# Voila on notebooks/apps only, no browser opened; `tinylab app --port N` for another port.
app: setup
	$(BIN)/tinylab app

# The cross-CPU tests under another instruction set first (two minutes), then everything:
# the package's tests, then the lessons in order on one workspace and the apps, with the
# hand-offs strict (a lesson that does not find what the lesson before it saved fails: the
# test that the course is one thread). Both parts run; either failing fails the target.
test: setup test-browser test-isa
	rm -rf $(TEST_WORKSPACE) $(TEST_WORKSPACE)-tests
	status=0; \
	TINYLAB_WORKSPACE=$(TEST_WORKSPACE)-tests MPLBACKEND=Agg \
	  $(BIN)/python -m pytest tests || status=1; \
	TINYLAB_WORKSPACE=$(TEST_WORKSPACE) TINYLAB_HANDOFFS=strict MPLBACKEND=Agg \
	  $(BIN)/python -m pytest $(LESSONS) $(APPS) --nbval-lax --nbval-current-env || status=1; \
	exit $$status

# The tests that compare float training with a recorded number (marked cross_cpu), again with
# the float kernels of another CPU: oneDNN capped at an older instruction set, and oneDNN's
# custom ops on (as TensorFlow has them by default on CPUs with AVX512_VNNI). A tolerance too
# tight for another machine fails here first (docs/reproducibility.md).
# `make test-isa ISA=AVX ONEDNN_OPTS=0` for other settings.
ISA ?= SSE41
ONEDNN_OPTS ?= 1
test-isa: setup
	@echo "The cross-CPU tests with ONEDNN_MAX_CPU_ISA=$(ISA) TF_ENABLE_ONEDNN_OPTS=$(ONEDNN_OPTS)"
	rm -rf $(TEST_WORKSPACE)-$(ISA)
	TINYLAB_WORKSPACE=$(TEST_WORKSPACE)-$(ISA) MPLBACKEND=Agg \
	  ONEDNN_MAX_CPU_ISA=$(ISA) TF_ENABLE_ONEDNN_OPTS=$(ONEDNN_OPTS) \
	  $(BIN)/python -m pytest tests -m cross_cpu -p no:cacheprovider

# Every benchmark in bench/ (each prints JSON and rewrites its section of docs/benchmarks.md).
bench: setup test-browser
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	for b in $(sort $(basename $(notdir $(wildcard bench/[a-z]*.py)))); do \
	  $(BIN)/tinylab bench $$b --write || exit 1; done

# The C engine with the other avr-gcc versions a student may have (Ubuntu 24.04's 7.3, Debian
# 13's 14.2), each from a chroot made once with debootstrap (root, and the network the first
# time; cached in ~/.cache/tinylab/chroots): the engine's AVR tests, and the lesson student's
# firmware on the virtual Uno against this machine's avr-gcc; rewrites the compilers section of
# docs/benchmarks.md. Not part of `make test`. `sudo make compilers COMPILER_SUITES=trixie`
# for one.
COMPILER_SUITES ?= trixie noble
.PHONY: compilers
compilers: setup
	TINYLAB_COMPILER_SUITES="$(COMPILER_SUITES)" tools/compilers/run.sh --write

setup: toolchain $(STAMP)

# The lessons as graded assignments for nbgrader (docs/instructors.md): an nbgrader course
# folder with nbgrader_config.py, source/ (the solutions) and release/ (for the students).
# A folder that exists keeps its gradebook and submissions; each lesson's versions are rewritten.
ASSIGNMENTS ?= assignments
assignments: setup
	$(BIN)/tinylab assignments --out $(ASSIGNMENTS)

# $(call apt_ensure,What,packages,why): the Debian packages that are missing are installed when
# running as root; otherwise the exact install line is printed and set-up goes on.
define apt_ensure
	@if ! command -v dpkg-query >/dev/null; then \
	  echo "$(1): not a Debian/Ubuntu system; install the equivalents of: $(2)"; \
	  exit 0; fi; \
	missing=""; \
	for p in $(2); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing $(1):$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	  echo "$(1) missing:$$missing"; \
	  echo "  install it with: sudo apt-get install -y$$missing"; \
	  echo "  ($(3))"; \
	fi
endef

# The board toolchain (compile, upload, the virtual Uno).
toolchain:
	$(call apt_ensure,Board toolchain,$(APT_PACKAGES),lessons 00-07 run without it; deploying to a board needs it)

# The browser the Voila apps are tested in (the browser tests skip without it, or fail when CI
# is set).
test-browser:
	$(call apt_ensure,Test browser,$(TEST_APT_PACKAGES),the Voila apps' browser tests need it)

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
	rm -rf $(VENV) $(TEST_WORKSPACE) $(TEST_WORKSPACE)-* workspace notebooks/workspace
