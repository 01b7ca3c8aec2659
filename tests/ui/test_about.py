"""About window, Help menu, tray action and the keyring seam of the controller, offscreen."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMainWindow

from app.services import Services
from app.tasks import TaskRunner
from core.keys import TEST_KDF
from core.version import VERSION
from ui import controller as controller_module
from ui.about import AboutWindow, add_help_menu
from ui.controller import Controller
from ui.tray import Tray

PASSPHRASE = "correct horse battery staple canary"
CANARY_NOTE = "CANARY-NOTE the spare key is under the blue flowerpot 7731"


@pytest.fixture
def services(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Services(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture
def tasks(qtbot):  # type: ignore[no-untyped-def]
    runner = TaskRunner()
    yield runner
    runner.wait(10_000)


def test_about_shows_version_data_and_licences(qtbot, services: Services, tasks) -> None:  # type: ignore[no-untyped-def]
    about = AboutWindow(services, tasks)
    qtbot.addWidget(about)
    assert about.title.text() == f"Mnemo {VERSION}"
    qtbot.waitUntil(lambda: "SmolLM2" in about.model.text(), timeout=5000)
    assert about.data_dir.text() == str(services.data_dir)
    models = about.models.text()
    assert models.count("Apache-2.0") == 3
    assert "all-MiniLM-L6-v2" in models and "RapidOCR" in models
    assert "missing" not in models


def test_copy_diagnostics_copies_a_report_without_content(qtbot, services: Services, tasks) -> None:  # type: ignore[no-untyped-def]
    services.create(PASSPHRASE, TEST_KDF)
    services.add_note(CANARY_NOTE)
    about = AboutWindow(services, tasks)
    qtbot.addWidget(about)
    QGuiApplication.clipboard().clear()
    about.copy_diagnostics()
    qtbot.waitUntil(lambda: about.report.isVisibleTo(about), timeout=10_000)
    copied = QGuiApplication.clipboard().text()
    assert copied == about.report.toPlainText()
    assert f"mnemo: {VERSION}" in copied
    assert "total: 1" in copied
    assert "flowerpot" not in copied and PASSPHRASE not in copied
    assert "Copied" in about.copy_status.text()


def test_help_menu_has_about_on_f1(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = QMainWindow()
    qtbot.addWidget(window)
    opened: list[bool] = []
    action = add_help_menu(window, lambda: opened.append(True))
    assert action.shortcut().toString() == "F1"
    assert [a.text() for a in window.menuBar().actions()] == ["&Help"]
    action.trigger()
    assert opened == [True]


def test_tray_menu_has_about(qtbot) -> None:  # type: ignore[no-untyped-def]
    tray = Tray()
    about = next(a for a in tray.menu.actions() if a.text() == "About Mnemo")
    with qtbot.waitSignal(tray.about_requested, timeout=1000):
        about.trigger()


def _controller(services: Services, start_in_tray: bool) -> Controller:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    c = Controller(app, services.data_dir, f"mnemo-test-{uuid.uuid4().hex[:8]}", start_in_tray)
    c.services.close()
    c.services = services
    return c


@pytest.mark.parametrize("tray", [True, False])
def test_keyring_unlocks_silently_at_login(
    qtbot, services: Services, monkeypatch: pytest.MonkeyPatch, tray: bool
) -> None:  # type: ignore[no-untyped-def]
    services.create(PASSPHRASE, TEST_KDF)
    services.lock()
    services.settings.set("device.use_keyring", True)
    asked: list[object] = []

    def keyring_fetch(data_dir: object) -> str:
        asked.append(data_dir)
        return PASSPHRASE

    import app.security

    monkeypatch.setattr(app.security, "keyring_fetch", keyring_fetch)
    monkeypatch.setattr(
        controller_module.QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: tray)
    )
    c = _controller(services, start_in_tray=True)
    try:
        c.start()
        qtbot.waitUntil(lambda: services.unlocked and c.main is not None, timeout=10_000)
        assert asked == [services.data_dir]
        assert c.gate is None
        # With a tray the app stays there; without one the window is the only way in.
        assert c.main.isVisible() is (not tray)
    finally:
        c.shutdown()
        if c.main is not None:
            c.main.deleteLater()


def test_keyring_without_entry_falls_back_to_the_unlock_window(
    qtbot, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    services.create(PASSPHRASE, TEST_KDF)
    services.lock()
    services.settings.set("device.use_keyring", True)
    import app.security

    monkeypatch.setattr(app.security, "keyring_fetch", lambda data_dir: None)
    monkeypatch.setattr(
        controller_module.QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True)
    )
    c = _controller(services, start_in_tray=True)
    try:
        c.start()
        qtbot.waitUntil(lambda: c.gate is not None, timeout=10_000)
        assert not services.unlocked
        assert not c.gate.isVisible()  # in the tray: asks when first opened
        c.open()
        assert c.gate.isVisible()
    finally:
        if c.gate is not None:
            c.gate.hide()
            c.gate.deleteLater()
        c.shutdown()


def test_tray_start_without_keyring_waits_in_the_tray(
    qtbot, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """--tray at login: no window until the user opens Mnemo from the tray."""
    services.create(PASSPHRASE, TEST_KDF)
    services.lock()
    import app.security

    def never(data_dir: object) -> str:
        raise AssertionError("keyring consulted although device.use_keyring is off")

    monkeypatch.setattr(app.security, "keyring_fetch", never)
    monkeypatch.setattr(
        controller_module.QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True)
    )
    c = _controller(services, start_in_tray=True)
    try:
        c.start()
        assert c.gate is not None and not c.gate.isVisible()
        assert c.tray is not None
        c.open()
        assert c.gate.isVisible()
    finally:
        if c.gate is not None:
            c.gate.hide()
            c.gate.deleteLater()
        c.shutdown()
