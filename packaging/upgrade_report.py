"""The report of `make upgrade-check`: which packages the newest resolution upgrades, and which
upgrade breaks what. A failure (a failing test, or a failed bundle check) is blamed on the
upgraded packages whose code its traceback runs through; one that runs through none is listed
as "unattributed" (then bisect: install the lock and one upgrade at a time).

    .venv/bin/python packaging/upgrade_report.py LOCK UPGRADE_DIR"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\]+)")
# A frame in an installed package: from the venv, or from the bundle (relative paths there).
FRAME = re.compile(r"(?:site-packages/|_internal/|File \")([A-Za-z0-9_]+)/")


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        m = PIN.match(line)
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def owners(site: Path) -> dict[str, str]:
    """Top-level import name -> distribution name, from the scratch venv's RECORD files."""
    out: dict[str, str] = {}
    for record in site.glob("*.dist-info/RECORD"):
        dist = record.parent.name.split("-")[0].lower().replace("_", "-")
        for line in record.read_text(errors="replace").splitlines():
            top = line.split("/", 1)[0].split(",", 1)[0]
            if top and not top.endswith((".dist-info", ".data")) and top != "..":
                out.setdefault(top.removesuffix(".py"), dist)
    return out


def blame(text: str, upgraded: set[str], owner: dict[str, str]) -> list[str]:
    hit = {owner.get(m) for m in FRAME.findall(text)}
    return sorted(d for d in hit if d in upgraded)


def failures_from_junit(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {"(the test run)": "no junit report: pytest did not run; see pytest.log"}
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        for kind in ("failure", "error"):
            node = case.find(kind)
            if node is not None:
                name = f"{case.get('classname')}::{case.get('name')}"
                out[name] = (node.get("message") or "") + "\n" + (node.text or "")
    return out


def failures_from_smoke(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}  # SKIP_BUNDLE=1
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"bundle": "no smoke report: the bundle did not build or start; see build.log"}
    out = {}
    for name, check in doc.get("selfcheck", {}).get("checks", {}).items():
        if not check.get("ok"):
            out[f"bundle self-check: {name}"] = check.get("error", "")
    if not doc.get("selfcheck", {}).get("checks"):
        out["bundle self-check"] = json.dumps(doc.get("selfcheck", {}))[-3000:]
    cli = doc.get("cli", {})
    if cli and not cli.get("ok"):
        out["bundle CLI"] = json.dumps(cli)[-3000:]
    if doc.get("audit") and doc["audit"].get("referenced"):
        out["bundle audit"] = json.dumps(doc["audit"]["referenced"])
    return out


def main(argv: list[str]) -> int:
    lock, up = Path(argv[0]), Path(argv[1])
    old, new = pins(lock), pins(up / "lock.txt")
    upgrades = {n: {"from": old.get(n), "to": v} for n, v in sorted(new.items()) if old.get(n) != v}
    site = next((up / ".venv" / "lib").glob("python*/site-packages"))
    owner = owners(site)
    failed = {**failures_from_junit(up / "junit.xml"), **failures_from_smoke(up / "smoke.json")}
    breaks: dict[str, list[str]] = {}
    unattributed = []
    for name, text in failed.items():
        culprits = blame(text, set(upgrades), owner)
        for c in culprits:
            breaks.setdefault(c, []).append(name)
        if not culprits:
            unattributed.append(name)
    report = {
        "upgrades": upgrades,
        "failures": len(failed),
        "breaks": breaks,
        "unattributed": unattributed,
        "ok": not failed,
    }
    print(json.dumps(report, indent=1))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
