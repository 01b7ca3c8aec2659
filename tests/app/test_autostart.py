"""Start at login: the XDG entry round-trips (add, read back, remove) in a temp config folder,
validates as a desktop entry, and the macOS plist round-trips too."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import autostart
from app.autostart import (
    AutostartError,
    LaunchAgentAutostart,
    XdgAutostart,
    apply_autostart,
    desktop_exec,
    launch_command,
    parse_desktop_exec,
)


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    return config


def test_enable_then_disable_round_trips(xdg: Path) -> None:
    backend = XdgAutostart()
    assert backend.path == xdg / "autostart" / "mnemo.desktop"
    assert not backend.is_enabled()
    apply_autostart(True, backend=backend)
    assert backend.is_enabled()
    cmd = backend.command()
    assert cmd == launch_command()
    assert cmd[-1] == "--tray"
    assert backend.path.stat().st_mode & 0o777 == 0o644
    apply_autostart(False, backend=backend)
    assert not backend.is_enabled()
    assert not backend.path.exists()
    apply_autostart(False, backend=backend)  # removing twice is fine


def test_for_platform_uses_xdg_config_home_on_linux(xdg: Path) -> None:
    backend = autostart.for_platform("linux")
    assert isinstance(backend, XdgAutostart)
    assert backend.location() == str(xdg / "autostart" / "mnemo.desktop")


@pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None, reason="needs desktop-file-utils"
)
def test_entry_validates(xdg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    odd = tmp_path / 'my data $HOME "x" 100%'
    backend = XdgAutostart()
    apply_autostart(True, data_dir=odd, backend=backend)
    out = subprocess.run(
        ["desktop-file-validate", str(backend.path)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert backend.command() == [*launch_command(), "--data-dir", str(odd.resolve())]


def test_non_default_data_dir_is_passed_on(tmp_path: Path) -> None:
    cmd = launch_command(tmp_path / "d")
    assert cmd[-3:] == ["--tray", "--data-dir", str((tmp_path / "d").resolve())]
    assert "--data-dir" not in launch_command(None)


@pytest.mark.parametrize(
    "argv",
    [
        ["/opt/mnemo/mnemo", "--tray"],
        ["/home/a b/mnemo", "--tray"],
        ['/x/"q"/$v/`c`/back\\slash/100%', "--data-dir", "/d e"],
        ["/usr/bin/python3", "/src/main.py", "--tray"],
    ],
)
def test_exec_quoting_round_trips(argv: list[str]) -> None:
    value = desktop_exec(argv)
    assert parse_desktop_exec(value) == argv


def test_disabled_in_desktop_settings_counts_as_off(xdg: Path) -> None:
    backend = XdgAutostart()
    backend.enable(["/opt/mnemo/mnemo", "--tray"])
    text = backend.path.read_text().replace(
        "X-GNOME-Autostart-enabled=true", "X-GNOME-Autostart-enabled=false"
    )
    backend.path.write_text(text)
    assert not backend.is_enabled()


def test_unwritable_folder_is_a_user_facing_error(tmp_path: Path) -> None:
    blocker = tmp_path / "config"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(AutostartError, match="start-at-login"):
        apply_autostart(True, backend=XdgAutostart(blocker))


def test_launch_agent_plist_round_trips(tmp_path: Path) -> None:
    backend = LaunchAgentAutostart(home=tmp_path)
    apply_autostart(True, backend=backend)
    assert backend.path == tmp_path / "Library/LaunchAgents/org.mnemo.Mnemo.plist"
    assert backend.command() == launch_command()
    assert backend.is_enabled()
    apply_autostart(False, backend=backend)
    assert not backend.is_enabled()


def test_frozen_launch_command_is_the_bundle(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    exe = tmp_path / "mnemo"
    exe.write_text("")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "_internal"), raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    assert launch_command() == [str(exe.resolve()), "--tray"]
