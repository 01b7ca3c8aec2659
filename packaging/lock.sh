#!/usr/bin/env bash
# `make lock`: regenerate requirements/lock/*.txt from the ranges in requirements/*.in, with
# hashes, using uv (installed here into build/lock-tools, not into .venv). Review the diff,
# run `make upgrade-check` (or at least `make test package-test`), then commit the locks.
#
# Only linux-x86_64-py311 is installed and tested here. The macOS and Windows locks are
# resolved by uv for that platform (same ranges, same day) but were never installed by us.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
TOOLS=build/lock-tools
PYTHON=${PYTHON:-python3}
if [ ! -x "$TOOLS/bin/uv" ] || ! "$TOOLS/bin/uv" --version | grep -q " $UV_VERSION"; then
  [ -x "$TOOLS/bin/python" ] || "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip --disable-pip-version-check -q install "uv==$UV_VERSION"
fi
UV="$TOOLS/bin/uv"
[ "${1:-}" = "--tools-only" ] && exit 0

# The CPU build of torch (torch==2.13.0+cpu) is not on the main index: point TORCH_FIND_LINKS
# at a folder (or page) that has it, e.g. PyTorch's CPU wheel index.
TORCH_FIND_LINKS=${TORCH_FIND_LINKS:-/opt/wheels}

compile() {  # compile OUT PLATFORM [extra uv args]
  local out=$1 platform=$2
  shift 2
  "$UV" pip compile requirements/mnemo.in --quiet --generate-hashes --no-header \
    --python-version 3.11 --python-platform "$platform" "$@" -o "$out.tmp"
  { echo "# Locked by \`make lock\` (uv $UV_VERSION) from requirements/mnemo.in for $platform,"
    echo "# Python 3.11. Install with packaging/setup-env.sh (make setup), never by hand."
    cat "$out.tmp"; } >"$out"
  rm -f "$out.tmp"
  echo "mnemo lock: $out ($(grep -c '^[A-Za-z0-9]' "$out") packages)"
}

# glibc 2.34 or newer (Debian 12, Ubuntu 22.04, RHEL 9): PySide6 6.10+ has no older wheels.
compile requirements/lock/linux-x86_64-py311.txt x86_64-manylinux_2_34 --find-links "$TORCH_FIND_LINKS"
# torch 2.13.0 has macOS wheels for 14.0 and newer only.
MACOSX_DEPLOYMENT_TARGET=14.0 compile requirements/lock/macos-arm64-py311.txt aarch64-apple-darwin
compile requirements/lock/windows-x86_64-py311.txt x86_64-pc-windows-msvc

for name in nodeps bootstrap; do
  "$UV" pip compile "requirements/$name.in" --quiet --generate-hashes --no-header --no-deps \
    --python-version 3.11 -o "requirements/lock/$name.txt"
  echo "mnemo lock: requirements/lock/$name.txt"
done
