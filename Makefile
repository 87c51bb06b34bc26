# The README's commands. uv (from PyPI, into the machine's python3) creates .venv from uv.lock first.
SHELL := /bin/bash
export CDP_HOME ?= $(CURDIR)/.cdp
UV := python3 -m uv
RUN := $(UV) run --frozen

.PHONY: env demo test test-all test-fast ui reset lint

# Bytecode at install: where PYTHONDONTWRITEBYTECODE is set (this machine, CI), every process would otherwise
# compile each import from source, seconds per process, and dbt runs one process per build.
env:
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv>=0.5"
	$(UV) sync --frozen --compile-bytecode

demo: env
	$(RUN) cdp demo

# Both cores: the long tests are whole-graph runs on one core each; one file per worker keeps module fixtures.
test: env
	$(RUN) pytest -n 2 --dist loadfile -m "not capacity"

test-all: env
	$(RUN) pytest -n 2 --dist loadfile

test-fast: env
	$(RUN) pytest -n 2 --dist loadfile -m "not slow"

ui: env
	$(RUN) cdp sandbox generate
	$(RUN) cdp ui

reset: env
	$(RUN) cdp reset --yes

lint: env
	$(RUN) ruff check .
