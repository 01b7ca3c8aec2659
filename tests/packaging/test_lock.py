"""The locks (requirements/lock/) against their input (requirements/mnemo.in): every package
pinned once with hashes, every input range met by its pin, torch exactly 2.13.0 (the CPU build
on Linux), pyproject's ranges equal to the input's, and the venv this test runs in holds exactly
the lock when `make setup` says it installed it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from hashlib import sha256
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
REQ = ROOT / "requirements"
PLATFORMS = {
    "linux-x86_64-py311": {"sys_platform": "linux", "platform_machine": "x86_64"},
    "macos-arm64-py311": {"sys_platform": "darwin", "platform_machine": "arm64"},
    "windows-x86_64-py311": {"sys_platform": "win32", "platform_machine": "AMD64"},
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def inputs(name: str = "mnemo.in") -> list[Requirement]:
    lines = (REQ / name).read_text().splitlines()
    return [Requirement(x.split("#")[0].strip()) for x in lines if x.split("#")[0].strip()]


def lock_entries(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes), failing on an unhashed or repeated pin."""
    entries: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for line in path.read_text().splitlines():
        m = PIN.match(line)
        if m:
            current = canonicalize_name(m.group(1))
            assert current not in entries, f"{path.name}: {current} pinned twice"
            entries[current] = (m.group(2).rstrip("\\").strip(), 0)
        elif current and "--hash=sha256:" in line:
            version, n = entries[current]
            entries[current] = (version, n + 1)
    unhashed = [name for name, (_, n) in entries.items() if n == 0]
    assert not unhashed, f"{path.name}: pins without a hash: {unhashed}"
    return entries


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_lock_pins_every_input_within_its_range_with_hashes(platform: str) -> None:
    lock = lock_entries(REQ / "lock" / f"{platform}.txt")
    env = {**default_environment(), **PLATFORMS[platform], "python_version": "3.11"}
    for req in inputs():
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        assert name in lock, f"{platform}: {req} is not locked (make lock)"
        assert req.specifier.contains(lock[name][0], prereleases=True), (platform, req, lock[name])
    torch = lock["torch"][0]
    assert torch == ("2.13.0+cpu" if platform.startswith("linux") else "2.13.0")
    assert not [n for n in lock if n.startswith(("nvidia-", "triton"))], "a CUDA build got in"


def test_model_package_and_pip_are_locked_apart() -> None:
    nodeps = lock_entries(REQ / "lock" / "nodeps.txt")
    assert set(nodeps) == {canonicalize_name(r.name) for r in inputs("nodeps.in")}
    assert set(lock_entries(REQ / "lock" / "bootstrap.txt")) == {"pip"}


def test_pyproject_ranges_are_the_inputs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [
        d for ds in project["optional-dependencies"].values() for d in ds
    ]
    as_set = {str(Requirement(d)) for d in declared}
    assert as_set == {str(r) for r in inputs() + inputs("nodeps.in")}


def test_this_venv_is_the_lock_when_setup_installed_it() -> None:
    stamp = Path(sys.prefix) / ".mnemo-installed"
    lock = REQ / "lock" / "linux-x86_64-py311.txt"
    if not sys.platform.startswith("linux") or not stamp.is_file():
        pytest.skip("this environment was not made by packaging/setup-env.sh")
    locks = [REQ / "lock" / "bootstrap.txt", lock, REQ / "lock" / "nodeps.txt"]
    want = sha256(b"".join(p.read_bytes() for p in locks)).hexdigest()
    if stamp.read_text().strip() != want:
        pytest.skip("this environment was installed from another lock (make setup updates it)")
    out = subprocess.run(
        [sys.executable, str(ROOT / "packaging" / "check_lock.py"), *map(str, locks)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout
