#!/usr/bin/env bash
# `make package`: build the one-folder bundle dist/mnemo/ with PyInstaller, then print its size.
# PyInstaller comes with the lock (`make setup`).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DIST=${DIST:-dist}            # make upgrade-check builds into its own folders
WORK=${WORK:-build/pyinstaller}

# Icons are committed; regenerate only when missing (packaging/make_icons.py draws them).
[ -f assets/icons/mnemo.svg ] || QT_QPA_PLATFORM=offscreen "$PY" packaging/make_icons.py

# No --clean: PyInstaller reuses its analysis in build/pyinstaller when inputs are unchanged
# (`make clean` for a build from scratch).
start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" packaging/mnemo.spec
secs=$(( $(date +%s) - start ))
size=$(du -sh "$DIST/mnemo" | cut -f1)
echo "mnemo package: $DIST/mnemo built in ${secs} s, size ${size}"
