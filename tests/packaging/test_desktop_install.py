"""install-desktop.sh / uninstall-desktop.sh in a temporary HOME with a stand-in bundle: the
menu entry validates, icons land in every hicolor size, uninstall removes exactly what install
added and keeps the data unless purging."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "packaging" / "install-desktop.sh"
UNINSTALL = ROOT / "packaging" / "uninstall-desktop.sh"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home with space"
    (h / ".local" / "share" / "icons" / "hicolor" / "48x48" / "apps").mkdir(parents=True)
    (h / ".local" / "share" / "icons" / "hicolor" / "48x48" / "apps" / "other.png").write_bytes(
        b"x"
    )
    (h / ".local" / "share" / "applications").mkdir(parents=True)
    (h / ".local" / "share" / "applications" / "other.desktop").write_text("[Desktop Entry]\n")
    return h


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    b = tmp_path / "dist" / "mnemo"
    (b / "_internal").mkdir(parents=True)
    exe = b / "mnemo"
    exe.write_text("#!/bin/sh\necho stand-in\n")
    exe.chmod(0o755)
    (b / "_internal" / "lib.so").write_bytes(b"\0" * 10)
    return b


def run(script: Path, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "MNEMO_"))}
    e.update(HOME=str(home), **env)
    return subprocess.run(
        ["bash", str(script), *args], env=e, capture_output=True, text=True, timeout=60
    )


def test_install_then_uninstall_leaves_home_as_it_was(home: Path, bundle: Path) -> None:
    before = snapshot(home)
    out = run(INSTALL, home, MNEMO_BUNDLE=str(bundle))
    assert out.returncode == 0, out.stderr
    share = home / ".local" / "share"
    app = home / ".local" / "opt" / "mnemo"
    assert (app / "mnemo").stat().st_mode & 0o111
    assert (app / "_internal" / "lib.so").exists()
    for s in SIZES:
        assert (share / f"icons/hicolor/{s}x{s}/apps/mnemo.png").is_file()
    assert (share / "icons/hicolor/scalable/apps/mnemo.svg").is_file()
    entry = (share / "applications" / "mnemo.desktop").read_text()
    assert f'Exec="{app}/mnemo"' in entry  # the space in HOME is quoted
    assert "Icon=mnemo" in entry and "Terminal=false" in entry
    assert "StartupWMClass=Mnemo" in entry
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(
            ["desktop-file-validate", str(share / "applications" / "mnemo.desktop")],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout
    # Installing again replaces the copy in place.
    assert run(INSTALL, home, MNEMO_BUNDLE=str(bundle)).returncode == 0

    data = share / "Mnemo"
    data.mkdir()
    (data / "mnemo.key").write_bytes(b"k")
    # The answer model's re-encoded copy, made on first use, goes with the app.
    model_cache = home / ".cache" / "Mnemo" / "models"
    model_cache.mkdir(parents=True)
    (model_cache / "SmolLM2-135M-Instruct.Q4_1-0123456789abcdef.F16.gguf").write_bytes(b"G")
    other_cache = home / ".cache" / "other-app"
    other_cache.mkdir()
    before |= {".cache", ".cache/other-app"}
    out = run(UNINSTALL, home)
    assert out.returncode == 0, out.stderr
    assert not (home / ".cache" / "Mnemo").exists() and other_cache.is_dir()
    assert f"Your memories are still in {data}" in out.stdout
    assert "PURGE=1" in out.stdout
    assert snapshot(home) == before | {".local/share/Mnemo", ".local/share/Mnemo/mnemo.key"}
    # Purging deletes the data folder too.
    out = run(UNINSTALL, home, "--purge")
    assert out.returncode == 0, out.stderr
    assert not data.exists()
    assert f"deleted your Mnemo data in {data}" in out.stdout


def test_uninstall_removes_the_login_entry_of_this_copy_only(home: Path, bundle: Path) -> None:
    assert run(INSTALL, home, MNEMO_BUNDLE=str(bundle)).returncode == 0
    autostart = home / ".config" / "autostart" / "mnemo.desktop"
    autostart.parent.mkdir(parents=True)
    app = home / ".local" / "opt" / "mnemo"
    autostart.write_text(f'[Desktop Entry]\nExec="{app}/mnemo" --tray\n')
    other = home / ".config" / "autostart" / "other.desktop"
    other.write_text("[Desktop Entry]\nExec=other\n")
    out = run(UNINSTALL, home)
    assert out.returncode == 0, out.stderr
    assert not autostart.exists()
    assert other.exists()


def test_purge_refuses_a_folder_that_is_not_mnemo_data(home: Path, tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("do not delete")
    out = run(UNINSTALL, home, "--purge", MNEMO_DATA_DIR=str(precious))
    assert out.returncode == 1
    assert (precious / "thesis.tex").exists()


def test_install_without_a_bundle_says_what_to_do(home: Path, tmp_path: Path) -> None:
    out = run(INSTALL, home, MNEMO_BUNDLE=str(tmp_path / "nothing"))
    assert out.returncode == 1
    assert "make package" in out.stderr
    assert not (home / ".local" / "opt").exists()


def test_xdg_data_home_is_respected(home: Path, bundle: Path, tmp_path: Path) -> None:
    xdg = tmp_path / "xdg-data"
    out = run(INSTALL, home, MNEMO_BUNDLE=str(bundle), XDG_DATA_HOME=str(xdg))
    assert out.returncode == 0, out.stderr
    assert (xdg / "applications" / "mnemo.desktop").exists()
    out = run(UNINSTALL, home, XDG_DATA_HOME=str(xdg))
    assert not (xdg / "applications" / "mnemo.desktop").exists()
    assert f"{xdg}/Mnemo" in out.stdout
