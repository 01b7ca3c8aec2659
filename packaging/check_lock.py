"""Check that this Python environment holds exactly what the given lock files pin.

    .venv/bin/python packaging/check_lock.py requirements/lock/bootstrap.txt LOCK ...

Fails (exit 1) when a locked package is missing or at another version, or when an installed
package needs a dependency that is not installed (the locks are installed with --no-deps, so
this is where an incomplete lock shows; only locked packages' dependencies are checked).
Packages from requirements/lock/nodeps.txt are
installed without their dependencies on purpose and are not checked for them. Packages
installed beyond the locks are listed as a warning. Prints one line; --json for a document."""

from __future__ import annotations

import json
import re
import sys
from importlib import metadata
from pathlib import Path

try:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
except ImportError:  # a bare venv: pip always carries it
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
# Tools of the venv itself, never in a lock.
IGNORED = {"pip", "setuptools", "wheel"}


def read_lock(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = PIN.match(line)
        if m:
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def installed() -> dict[str, metadata.Distribution]:
    dists: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            dists.setdefault(canonicalize_name(name), dist)
    return dists


def check(locks: list[Path]) -> dict:
    pins: dict[str, str] = {}
    nodeps: set[str] = set()
    for lock in locks:
        got = read_lock(lock)
        pins.update(got)
        if lock.name == "nodeps.txt":
            nodeps |= set(got)
    have = installed()
    wrong = {
        name: {"locked": want, "installed": have[name].version if name in have else None}
        for name, want in sorted(pins.items())
        if name not in have or have[name].version != want
    }
    unmet: list[str] = []
    for name, dist in sorted(have.items()):
        if name in nodeps or name not in pins:  # extras are the developer's own business
            continue
        for text in dist.requires or ():
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            dep = canonicalize_name(req.name)
            if dep not in have:
                unmet.append(f"{name} needs {req}")
            elif not req.specifier.contains(have[dep].version, prereleases=True):
                unmet.append(f"{name} needs {req}, has {have[dep].version}")
    extra = sorted(set(have) - set(pins) - IGNORED)
    return {
        "ok": not wrong and not unmet,
        "locked": len(pins),
        "wrong": wrong,
        "unmet": unmet,
        "extra": extra,
    }


def main(argv: list[str]) -> int:
    as_json = "--json" in argv
    locks = [Path(a) for a in argv if a != "--json"]
    if not locks:
        print(__doc__, file=sys.stderr)
        return 2
    report = check(locks)
    if as_json:
        print(json.dumps(report, indent=1))
    else:
        if report["ok"]:
            print(f"mnemo setup: the environment matches the lock ({report['locked']} packages)")
        for name, v in report["wrong"].items():
            have = v["installed"] or "missing"
            print(f"mnemo setup: {name} is {have}, the lock says {v['locked']}")
        for line in report["unmet"]:
            print(f"mnemo setup: unmet dependency: {line} (the lock is incomplete: make lock)")
        if report["extra"]:
            print("mnemo setup: warning: installed but not locked: " + ", ".join(report["extra"]))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
