"""Turning "Start Mnemo at login" on or off writes or removes the autostart entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services import Services


def test_setting_adds_and_removes_the_entry(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    entry = tmp_path / "config" / "autostart" / "mnemo.desktop"
    services.settings.set("device.autostart", True)
    assert entry.exists() and "--tray" in entry.read_text()
    services.settings.set("device.autostart", False)
    assert not entry.exists()
    assert services.settings.get("device.autostart") is False
