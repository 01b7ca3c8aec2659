# Mnemo's one task runner. `make run` starts the app, `make test` runs every test;
# both set everything up first (see packaging/setup-env.sh).
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mnemo-installed

.PHONY: setup run test check lint types layering bench package install-desktop uninstall-desktop clean

setup:
	@bash packaging/setup-env.sh

run: setup
	@$(PY) main.py $(ARGS)

test: setup
	@$(PY) -m pytest $(PYTEST_ARGS)

check: setup lint types layering

lint:
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .

types:
	@$(PY) -m mypy

layering:
	@$(PY) -m pytest -q tests/test_layering.py

bench: setup
	@$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf build dist .mypy_cache .ruff_cache
