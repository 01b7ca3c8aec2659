# Mnemo's one task runner. `make run` starts the app, `make test` runs every test;
# both set everything up first (see packaging/setup-env.sh).
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mnemo-installed

.PHONY: setup lock upgrade-check run test soak check lint types layering bench bench-answers bench-suspicion-probe bench-suspicion-fit bench-suspicion-embed package \
	package-test install-desktop uninstall-desktop clean

# Installs exactly requirements/lock/<platform>.txt (hash-checked); see README, "Dependencies".
setup:
	@bash packaging/setup-env.sh

# Re-resolve the locks from the ranges in requirements/mnemo.in (uv, with hashes).
lock:
	@bash packaging/lock.sh

# The newest versions the ranges allow, in a scratch venv (build/upgrade): tests and the bundle
# smoke test there, and a report of which upgrade breaks what. Slow; not part of CI.
upgrade-check:
	@bash packaging/upgrade-check.sh

run: setup
	@$(PY) main.py $(ARGS)

# Two processes (pytest-xdist; CI has two cores), each taking whole files so a file's shared
# fixtures (a loaded model, a display) are set up once. TEST_WORKERS=0 runs one process.
TEST_WORKERS ?= 2
test: setup
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The R-suite at its long scale (tests/reliability/README.md): 300 SIGKILLs, ten minutes of
# concurrent capture, search, erase and backup. `make test` runs the same tests shorter.
soak: setup
	@MNEMO_SOAK=1 $(PY) -m pytest -q -s tests/reliability $(PYTEST_ARGS)

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

# Answer quality on locomo-dev alone (MNEMO_LOCOMO overrides the data path); BENCH_ARGS=--quick
# asks 12 questions per category instead of all of them.
bench-answers: setup
	@$(PY) -m bench.answer_locomo $(BENCH_ARGS)

# Would a learned probe on the MiniLM embedding catch what the poison rules miss? Trains on the
# tuned fixture sets, scores the never-seen fresh4/fresh5 and locomo (about 6 CPU-minutes).
bench-suspicion-probe: setup
	@nice -n 10 $(PY) -m bench.suspicion_probe

# Refit the structural poison detector's weights (core/structural_weights.json) on the fixture
# sets (never fresh6) and the locomo turns; about 10 CPU-seconds.
bench-suspicion-fit: setup
	@nice -n 10 $(PY) -m bench.suspicion_fit

# Refit the embedding poison detector (core/embedded_weights.json): MiniLM embeddings of the
# hand-written fixture sets (never fresh11 or fresh12), locomo turns and package descriptions, cached in
# /tmp/mnemo-fit-cache; the first run embeds ~6000 texts (about 25 wall-minutes on 2 busy
# cores), later runs only fit (seconds).
bench-suspicion-embed: setup
	@nice -n 10 $(PY) -m bench.suspicion_embed

# The one-folder bundle in dist/mnemo (PyInstaller; see packaging/README.md). Not part of
# `make test`: building takes minutes. `make package-test` builds it, then checks that it loads
# its models, runs the CLI and shows the first-run window on a virtual display.
package: setup
	@bash packaging/build.sh

package-test: package
	@$(PY) packaging/smoke_test.py

# Put dist/mnemo in ~/.local/opt/mnemo with a menu entry and icons; uninstall removes exactly
# that and keeps your data unless PURGE=1.
install-desktop:
	@bash packaging/install-desktop.sh

uninstall-desktop:
	@bash packaging/uninstall-desktop.sh $(if $(filter 1,$(PURGE)),--purge)

clean:
	rm -rf build dist .mypy_cache .ruff_cache
