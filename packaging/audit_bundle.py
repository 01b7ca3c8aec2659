"""Audit the bundle against what the frozen app imports: for every top-level package the
self-check loaded (its report's "modules"), the data files that package has in this venv but
the bundle lacks, and the packages whose metadata (dist-info) the bundle lacks while their code
reads metadata. Used by smoke_test.py (its "audit" entry); alone:

    .venv/bin/python packaging/audit_bundle.py dist/mnemo MODULE...

"referenced": missing files whose name the package's own code has as a string literal (the
way kernels opens "python_depends.json"): likely a failure waiting for a code path.
"unreferenced": the rest (licences, completions, test helpers), counted for a person to judge.
Shared libraries are not compared (PyInstaller collects them by dependency, sometimes
elsewhere). What the spec drops on purpose is not reported. Advisory: the self-check and the
frozen CLI are the gate. Prints JSON; exits 1 if anything referenced is missing."""

from __future__ import annotations

import importlib.util
import json
import sys
from importlib import metadata
from pathlib import Path

CODE = (".py", ".pyc", ".pyi", ".pyx", ".pxd", ".h", ".hpp", ".cuh", ".c", ".cpp", ".a", ".lib")
DROPPED = ("/include/", "/tests/", "/test/", "/cmake/", "/pkgconfig/", "/translations/", "/bin/")
IGNORED_FILES = ("py.typed", ".cmake", "LICENSE", "LICENSE.txt", "COPYING", "NOTICE")
READS_METADATA = ("metadata.version(", "importlib_metadata", "get_distribution(")


def package_dir(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)))
    return path if "site-packages" in path.parts else None


def missing_data(pkg: Path, internal: Path) -> list[str]:
    out = []
    for f in pkg.rglob("*"):
        if not f.is_file() or "__pycache__" in f.parts:
            continue
        rel = f.relative_to(pkg.parent).as_posix()
        if f.name.endswith(CODE) or f.name.endswith(IGNORED_FILES) or ".so" in f.suffixes:
            continue
        if any(part in "/" + rel for part in DROPPED):
            continue
        if not (internal / rel).exists():
            out.append(rel)
    return sorted(out)


def quoted(name: str, code: str) -> bool:
    """The file name as a string literal in the code (a data file the code opens by name)."""
    return "." in name.strip(".") and (f'"{name}"' in code or f"'{name}'" in code)


def source_text(pkg: Path) -> str:
    parts = []
    for f in pkg.rglob("*.py"):
        try:
            parts.append(f.read_text(errors="replace"))
        except OSError:
            continue
    return "\n".join(parts)


def audit(bundle: Path, modules: list[str]) -> dict:
    internal = bundle / "_internal"
    have_meta = {p.name.split("-")[0].lower().replace("_", "-") for p in internal.glob("*-info")}
    dists = metadata.packages_distributions()
    referenced: dict[str, list[str]] = {}
    unreferenced: dict[str, int] = {}
    meta: list[str] = []
    for name in sorted(set(modules)):
        pkg = package_dir(name)
        if pkg is None:
            continue
        lost = missing_data(pkg, internal)
        code = source_text(pkg) if lost or name in dists else ""
        named = [rel for rel in lost if quoted(rel.rsplit("/", 1)[-1], code)]
        if named:
            referenced[name] = named[:20]
        if len(lost) > len(named):
            unreferenced[name] = len(lost) - len(named)
        for dist in dists.get(name, []):
            key = dist.lower().replace("_", "-")
            if key not in have_meta and any(k in code for k in READS_METADATA):
                meta.append(dist)
    return {
        "ok": not referenced,
        "referenced": referenced,
        "unreferenced": unreferenced,
        "missing_metadata": sorted(meta),
    }


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    report = audit(Path(argv[0]), argv[1:])
    print(json.dumps(report, indent=1))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
