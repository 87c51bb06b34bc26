# The README's commands. uv (from PyPI, into the machine's python3) creates .venv from uv.lock first.
SHELL := /bin/bash
export CDP_HOME ?= $(CURDIR)/.cdp
UV := python3 -m uv
RUN := $(UV) run --frozen

.PHONY: env demo test test-fast ui reset lint

env:
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv>=0.5"
	$(UV) sync --frozen

demo: env
	$(RUN) cdp demo

test: env
	$(RUN) pytest

test-fast: env
	$(RUN) pytest -m "not slow"

ui: env
	$(RUN) cdp sandbox generate
	$(RUN) cdp ui

reset: env
	$(RUN) cdp reset --yes

lint: env
	$(RUN) ruff check .
