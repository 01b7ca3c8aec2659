#!/usr/bin/env bash
# `make upgrade-check`: what would the newest versions break? In a scratch venv (build/upgrade,
# never .venv) it resolves requirements/mnemo.in afresh (--upgrade; BEYOND=1 also drops the
# ranges' upper bounds, torch's pin excepted), installs that, runs the test suite and builds and
# smoke-tests the bundle there, and writes build/upgrade/report.json: each upgrade (locked ->
# newest), the failing tests and bundle checks, and for each failure the upgraded packages its
# traceback runs through. Slow (a full suite and a bundle build); not part of CI. The locks are
# not touched: to take the upgrade, `make lock`, then commit the new locks with what they fix.
# For a quicker look: PYTEST_ARGS="tests/models -x" (a part of the suite), SKIP_BUNDLE=1.
set -uo pipefail
cd "$(dirname "$0")/.."

UP=build/upgrade
PYTHON=${PYTHON:-python3}
LOCK=requirements/lock/linux-x86_64-py311.txt
mkdir -p "$UP"
bash packaging/lock.sh --tools-only  # uv in build/lock-tools; the locks are not touched
UV=build/lock-tools/bin/uv

input=requirements/mnemo.in
if [ "${BEYOND:-0}" = "1" ]; then
  # Drop "<X" upper bounds (and "!=" exclusions stay), but keep torch==2.13.0.
  sed -E '/^torch==/!s/,?<[^,;#]+//g' requirements/mnemo.in >"$UP/mnemo-beyond.in"
  input=$UP/mnemo-beyond.in
fi
echo "mnemo upgrade-check: resolving the newest versions of $input"
"$UV" pip compile "$input" --quiet --upgrade --generate-hashes --no-header \
  --python-version 3.11 --python-platform x86_64-manylinux_2_34 \
  --find-links "${TORCH_FIND_LINKS:-/opt/wheels}" -o "$UP/lock.txt" || {
  echo "mnemo upgrade-check: the newest versions do not resolve together (see above)"; exit 1; }

VENV=$UP/.venv
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q install --require-hashes"
$PIP -r requirements/lock/bootstrap.txt 2> >(grep -v "is ignored: it is neither" >&2)
$PIP --no-deps -r "$UP/lock.txt" 2> >(grep -v "is ignored: it is neither" >&2)
$PIP --no-deps -r requirements/lock/nodeps.txt 2> >(grep -v "is ignored: it is neither" >&2)
"$VENV/bin/python" packaging/check_lock.py "$UP/lock.txt" requirements/lock/nodeps.txt \
  >"$UP/check_lock.txt" || true

echo "mnemo upgrade-check: the test suite on the newest versions (log: $UP/pytest.log)"
# shellcheck disable=SC2086
"$VENV/bin/python" -m pytest -q -p no:randomly --junitxml="$UP/junit.xml" ${PYTEST_ARGS:-} \
  >"$UP/pytest.log" 2>&1
rm -f "$UP/smoke.json"
if [ "${SKIP_BUNDLE:-0}" != "1" ]; then
  echo "mnemo upgrade-check: the bundle on the newest versions (log: $UP/build.log)"
  PY=$VENV/bin/python DIST=$UP/dist WORK=$UP/pyinstaller bash packaging/build.sh >"$UP/build.log" 2>&1
  "$VENV/bin/python" packaging/smoke_test.py --bundle "$UP/dist/mnemo" --cli-only \
    >"$UP/smoke.json" 2>"$UP/smoke.log"
fi

.venv/bin/python packaging/upgrade_report.py "$LOCK" "$UP" | tee "$UP/report.json"
