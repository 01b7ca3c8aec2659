"""The settings page built from the declaration: every declared setting has an editor with its
label; a change is saved (on the task runner) and persists; a bad value shows the message;
the Security tab changes the passphrase and locks."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtWidgets import QCheckBox, QLineEdit, QSpinBox
from pytestqt.qtbot import QtBot

from app.services import Services
from app.tasks import TaskRunner
from core.keys import TEST_KDF, unlock_key
from core.settings import SETTINGS
from tests.storehelp import PASSPHRASE
from ui.main_window import MainWindow
from ui.security_settings import KeyringBox, PassphraseBox
from ui.settings_page import CUSTOM_KEYS, SettingsPage


@pytest.fixture(autouse=True)
def _runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


@pytest.fixture
def env(qtbot: QtBot, tmp_path: Path) -> tuple[Services, TaskRunner]:
    services = Services(tmp_path / "data")
    services.create(PASSPHRASE, kdf=TEST_KDF)
    tasks = TaskRunner()
    yield services, tasks
    tasks.wait(10_000)
    services.close()


def _page(qtbot: QtBot, services: Services, tasks: TaskRunner) -> SettingsPage:
    page = SettingsPage(services, tasks)
    qtbot.addWidget(page)
    page.show()
    page.refresh()
    key = "security.autolock_minutes"
    qtbot.waitUntil(lambda: hasattr(page.editors[key], "value"), timeout=5_000)
    return page


def test_every_declared_setting_has_an_editor(
    qtbot: QtBot, env: tuple[Services, TaskRunner]
) -> None:
    page = _page(qtbot, *env)
    assert set(page.editors) == {s.key for s in SETTINGS} - CUSTOM_KEYS
    titles = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    assert "Security" in titles and "Capture" in titles
    spin = page.editors["security.autolock_minutes"].editor
    assert isinstance(spin, QSpinBox) and (spin.minimum(), spin.maximum()) == (0, 1440)
    assert isinstance(page.editors["security.lock_with_screen"].editor, QCheckBox)
    assert spin.value() == 15


def test_change_persists_and_bad_value_shows_the_message(
    qtbot: QtBot, env: tuple[Services, TaskRunner]
) -> None:
    services, tasks = env
    page = _page(qtbot, services, tasks)
    spin = page.editors["security.autolock_minutes"].editor
    assert isinstance(spin, QSpinBox)
    spin.setValue(42)
    spin.editingFinished.emit()
    qtbot.waitUntil(lambda: services.settings.get("security.autolock_minutes") == 42, timeout=5000)
    box = page.editors["security.lock_with_screen"].editor
    assert isinstance(box, QCheckBox)
    box.setChecked(False)
    qtbot.waitUntil(lambda: services.settings.get("security.lock_with_screen") is False)
    # Persisted: a fresh page, after lock and unlock, shows the stored values.
    services.lock()
    services.unlock(PASSPHRASE)
    again = _page(qtbot, services, tasks)
    assert again.editors["security.autolock_minutes"].value == 42
    assert not again.editors["security.lock_with_screen"].editor.isChecked()
    # A refused value: the message from the declaration, and the stored value is kept.
    editor = again.editors["backup.folder"]
    line = editor.editor
    assert isinstance(line, QLineEdit)
    line.setText("x" * 5000)
    line.editingFinished.emit()
    qtbot.waitUntil(lambda: not editor.error.isHidden(), timeout=5000)
    assert "Scheduled backup folder: expected text" in editor.error.text()
    assert services.settings.get("backup.folder") == ""


def test_security_tab_changes_the_passphrase(
    qtbot: QtBot, env: tuple[Services, TaskRunner], tmp_path: Path
) -> None:
    services, tasks = env
    page = _page(qtbot, services, tasks)
    box = page.sections["security"].findChild(PassphraseBox)
    assert box is not None and page.sections["security"].findChild(KeyringBox) is not None
    qtbot.keyClicks(box.old, "wrong old passphrase")
    qtbot.keyClicks(box.new, "brand new words here")
    qtbot.keyClicks(box.again, "brand new words here")
    assert box.button.isEnabled() and "Strength" in box.hint.text()
    box.button.click()
    qtbot.waitUntil(lambda: not box.error.isHidden(), timeout=10_000)
    assert "current passphrase is wrong" in box.error.text()
    box.old.setText(PASSPHRASE)
    with qtbot.waitSignal(box.changed, timeout=10_000):
        box.button.click()
    unlock_key(tmp_path / "data", "brand new words here").wipe()
    assert box.old.text() == "" and "changed" in box.status.text()


def test_lock_now_from_settings_locks_the_main_window(
    qtbot: QtBot, env: tuple[Services, TaskRunner]
) -> None:
    services, tasks = env
    from ui import main_window

    main_window.PAGES.append(("Later feature", main_window.HomePage))
    try:
        window = MainWindow(services, tasks, tray_available=False)
    finally:
        main_window.PAGES.pop()
    qtbot.addWidget(window)
    assert [p.title for p in window.pages][-2:] == ["Home", "Settings"]
    window.show_page("Settings")
    assert window.pages[-1].title == "Settings"
    page = window.page("Settings")
    assert isinstance(page, SettingsPage)
    from ui.security_settings import LockNowRow, ScreenLockNote

    lock_box = page.sections["security"].findChild(LockNowRow)
    note = page.sections["security"].findChild(ScreenLockNote)
    assert lock_box is not None and note is not None
    assert "screen lock" in note.text().lower()
    with qtbot.waitSignal(window.lock_requested, timeout=2000):
        lock_box.lock_now.click()
