"""Capture in the UI: the exclusion editor validates before saving and shows why; the tray's
capture section shows the status and pauses/resumes the service."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.services import Services
from app.tasks import TaskRunner
from core.keys import TEST_KDF
from tests.storehelp import PASSPHRASE
from ui.capture_settings import ExclusionEditor
from ui.capture_tray import CaptureControl
from ui.settings_page import SettingsPage


@pytest.fixture(autouse=True)
def _runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("DISPLAY", raising=False)  # no running apps to list: typing works


@pytest.fixture
def env(qtbot: QtBot, tmp_path: Path):  # type: ignore[no-untyped-def]
    services = Services(tmp_path / "data")
    services.create(PASSPHRASE, kdf=TEST_KDF)
    tasks = TaskRunner()
    yield services, tasks
    tasks.wait(10_000)
    services.close()


def test_exclusion_editor_saves_valid_entries_and_explains_bad_ones(qtbot: QtBot, env) -> None:
    services, tasks = env
    editor = ExclusionEditor(services, tasks)
    qtbot.addWidget(editor)
    editor.show()
    tasks.wait(5_000)
    editor.apps.entry.setEditText("Signal")
    editor.apps._add()
    editor.domains.entry.setText("mybank.com")
    editor.domains._add()
    qtbot.waitUntil(
        lambda: services.settings.get("privacy.excluded_domains") == ["mybank.com"], timeout=5000
    )
    assert services.settings.get("privacy.excluded_apps") == ["Signal"]
    editor.domains.entry.setText("not a domain")
    editor.domains._add()
    qtbot.waitUntil(editor.error.isVisible, timeout=5000)
    assert "not a web site domain" in editor.error.text()
    assert services.settings.get("privacy.excluded_domains") == ["mybank.com"]  # unchanged


def test_settings_privacy_tab_holds_the_exclusion_editor(qtbot: QtBot, env) -> None:
    services, tasks = env
    page = SettingsPage(services, tasks)
    qtbot.addWidget(page)
    assert page.sections["privacy"].findChild(ExclusionEditor) is not None
    assert "privacy.excluded_apps" not in page.editors
    tasks.wait(5_000)


def test_tray_section_pauses_and_resumes_capture(qtbot: QtBot, env) -> None:
    services, tasks = env
    control = CaptureControl(services, tasks, None)
    capture = services.capture
    assert capture is not None
    control.refresh()
    assert control.status_action.text() == "Capture is off"
    assert control.toggle_action.text() == "Start capturing"
    capture._running = True  # as if started (no display here for the real loop)
    control.pause(15 * 60)
    assert control.status_action.text().startswith("Paused until")
    assert control.resume_action.isVisible() and not control.pause_action.isVisible()
    control.resume()
    assert control.status_action.text().startswith("Capturing")
    assert control.toggle_action.text() == "Stop capturing"
    capture.stop()
    tasks.wait(5_000)


def test_app_picker_lists_an_app_started_after_the_page_opened(
    qtbot: QtBot, env, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ui.capture_settings as cs

    services, tasks = env
    running = ["code", "firefox"]
    monkeypatch.setattr(cs, "running_apps", lambda: list(running))
    editor = ExclusionEditor(services, tasks)
    qtbot.addWidget(editor)
    editor.show()
    picker = editor.apps.entry
    qtbot.waitUntil(lambda: picker.count() == 2, timeout=5000)
    running.append("xterm")  # started later, while Settings is open
    picker.setEditText("xt")
    picker.showPopup()
    qtbot.waitUntil(lambda: picker.findText("xterm") >= 0, timeout=5000)
    assert picker.currentText() == "xt"  # what the user was typing stays
    picker.hidePopup()


def test_capture_changes_made_on_other_threads_reach_the_tray_without_a_timer(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """The capture section redraws when capture announces a change (through the controller,
    on the GUI thread); nothing asks it every second."""
    import threading

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.session import Changes
    from ui.controller import Controller

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    c = Controller(app, tmp_path / "data", f"mnemo-test-capture-{os.getpid()}")
    try:
        c.services.create(PASSPHRASE, TEST_KDF)
        c.capture = control = CaptureControl(c.services, c.tasks, None)
        c._on_unlocked()
        capture = c.services.capture
        assert capture is not None
        assert not [t for t in control.findChildren(QTimer) if t.isActive()]
        announced: list[Changes] = []
        c.services.subscribe(lambda ch: announced.append(ch) if ch.capture else None)
        capture._running = True  # as if started (no display here for the real loop)

        def on_a_worker(fn: object) -> None:
            t = threading.Thread(target=fn)  # type: ignore[arg-type]
            t.start()
            t.join()

        on_a_worker(lambda: capture.pause(600))
        qtbot.waitUntil(lambda: control.status_action.text().startswith("Paused"), timeout=3000)
        n = len(announced)
        on_a_worker(capture._announce_status)  # nothing changed: nothing announced
        assert len(announced) == n
        on_a_worker(capture.resume)
        qtbot.waitUntil(lambda: control.status_action.text().startswith("Capturing"), timeout=3000)
        assert len(announced) == n + 1
        capture._running = False
    finally:
        c.tasks.wait(10_000)
        c.shutdown()
