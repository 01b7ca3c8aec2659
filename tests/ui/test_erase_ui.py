"""Erasure in the GUI: the Storage & erasure tab shows usage and erases by app after a preview
and a confirmation (cancel erases nothing); the memory viewer's "Forget this" erases, tells the
list and closes; the tray's "Forget the last 15 minutes" confirms with a count and reports the
receipt; the search results' context menu offers both forget actions."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.services import Services
from app.tasks import TaskRunner
from core.keys import TEST_KDF
from core.types import SCREEN, NewMemory
from tests.fakes import FakeEmbedder
from tests.storehelp import PASSPHRASE
from ui import erase_ui
from ui.memory_viewer import VIEWER_ACTIONS, MemoryViewer, media_of, memory_of
from ui.settings_page import SettingsPage


@pytest.fixture(autouse=True)
def _runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


@pytest.fixture
def env(qtbot: QtBot, tmp_path: Path) -> Iterator[tuple[Services, TaskRunner, list[int]]]:
    services = Services(tmp_path / "data", embedder=FakeEmbedder())
    services.create(PASSPHRASE, kdf=TEST_KDF)
    assert services.memory is not None and services.memory.wait_ready(10)
    now = services.clock.now()
    ids = services.memory.add(
        [
            NewMemory(kind=SCREEN, text=f"slack thread {w}", time=now - 60 * i, app="Slack")
            for i, w in enumerate(["alpha", "bravo", "charlie"])
        ]
        + [NewMemory(kind=SCREEN, text="weather page", time=now - 7200, app="Firefox")]
    )
    tasks = TaskRunner()
    saved = list(VIEWER_ACTIONS)
    yield services, tasks, ids
    VIEWER_ACTIONS[:] = saved
    assert tasks.wait(20_000)
    services.close()


def count(services: Services) -> int:
    assert services.memory is not None
    return services.memory.count()


def test_storage_tab_previews_confirms_and_erases(
    qtbot: QtBot, env: tuple[Services, TaskRunner, list[int]]
) -> None:
    services, tasks, _ = env
    page = SettingsPage(services, tasks)
    qtbot.addWidget(page)
    page.show()
    page.show_section("storage")
    titles = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    assert "Storage && erasure" in titles  # shown as "Storage & erasure"
    panel = page.sections["storage"].findChild(erase_ui.StoragePanel)
    assert panel is not None
    qtbot.waitUntil(lambda: panel.loaded, timeout=10_000)
    assert "4 memories using" in panel.usage_label.text()
    assert [label for label, _, _ in panel.by_app.items] == ["Slack", "Firefox"]
    assert len(panel.by_day.items) == 30 and panel.by_day.items[-1][1] >= 3
    # Declared storage limits are on the same tab.
    assert {"storage.max_age_days", "storage.max_gb"} <= set(page.editors)

    panel.kind.setCurrentIndex(1)
    panel.app_box.setCurrentIndex(panel.app_box.findData("Slack"))
    panel.preview_button.click()
    qtbot.waitUntil(lambda: panel.flow.box is not None, timeout=10_000)
    box = panel.flow.box
    assert box is not None
    assert "Forget 3 memories" in box.text() and "everything from Slack" in box.text()
    assert "cannot be undone" in box.informativeText()
    assert "slack thread" in box.detailedText()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: panel.flow.box is None)
    tasks.wait(5_000)
    assert count(services) == 4  # cancelled: nothing erased

    panel.preview_button.click()
    qtbot.waitUntil(lambda: panel.flow.box is not None, timeout=10_000)
    panel.flow.forget_button.click()
    qtbot.waitUntil(lambda: panel.result.text().startswith("Forgot 3 memories"), timeout=10_000)
    assert count(services) == 1
    qtbot.waitUntil(lambda: "1 memory using" in panel.usage_label.text(), timeout=10_000)
    assert [label for label, _, _ in panel.by_app.items] == ["Firefox"]


def test_viewer_forget_this(qtbot: QtBot, env: tuple[Services, TaskRunner, list[int]]) -> None:
    services, tasks, ids = env
    erase_ui.install(services)
    erase_ui.install(services)  # installing twice does not add the buttons twice
    assert [a.label for a in VIEWER_ACTIONS].count("Forget this") == 1
    # Not handed to qtbot: the viewer deletes itself when it closes, as it should here.
    viewer = MemoryViewer(memory_of(services), media_of(services), tasks, ids[0])
    with qtbot.waitSignal(viewer.loaded, timeout=10_000):
        viewer.show()
    button = next(b for b in viewer.action_buttons if b.text() == "Forget this")
    assert button.objectName() == "danger" and button.isEnabled()
    button.click()
    qtbot.waitUntil(lambda: getattr(viewer, "erase_flow", None) is not None)
    flow = viewer.erase_flow
    qtbot.waitUntil(lambda: flow.box is not None, timeout=10_000)
    assert "Forget 1 memory (this memory)" in flow.box.text()
    with qtbot.waitSignal(viewer.forgotten, timeout=10_000) as sig:
        flow.forget_button.click()
    assert sig.args == [ids[0]]
    qtbot.waitUntil(lambda: not viewer.isVisible())
    assert services.memory is not None and services.memory.get(ids[0]) is None
    assert count(services) == 3


def test_tray_forget_last_fifteen_minutes(
    qtbot: QtBot, env: tuple[Services, TaskRunner, list[int]]
) -> None:
    services, tasks, _ = env
    told: list[str] = []
    actions = erase_ui.tray_actions(services, tasks, told.append)
    assert [a.text() for a in actions] == [
        "Forget the last 15 minutes",
        "Forget the last hour",
        "Forget the last day",
    ]
    actions[0].trigger()
    flows = actions[0].flows  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: bool(flows) and flows[0].box is not None, timeout=10_000)
    assert "Forget 3 memories (the last 15 minutes)" in flows[0].box.text()
    flows[0].forget_button.click()
    qtbot.waitUntil(lambda: bool(told), timeout=10_000)
    assert told[0].startswith("Forgot 3 memories")
    assert count(services) == 1


def test_search_result_menu_offers_forget(
    qtbot: QtBot, env: tuple[Services, TaskRunner, list[int]]
) -> None:
    from ui.search_page import SearchPage

    services, tasks, _ = env
    page = SearchPage(services, tasks)
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignal(page.results_shown, timeout=10_000):
        page.box.setText("slack thread")
        page.run_search()
    index = page.model.index(0)
    menu = erase_ui.result_menu(page, index, page.list.visualRect(index).center())
    assert menu is not None
    labels = [a.text() for a in menu.actions()]
    assert labels == ["Forget this", "Forget everything from Slack"]
    menu.actions()[1].trigger()
    menu.close()
    qtbot.waitUntil(lambda: page.erase_flow.box is not None, timeout=10_000)
    page.erase_flow.forget_button.click()
    qtbot.waitUntil(lambda: page.summary.text().startswith("Forgot 3"), timeout=10_000)
    assert count(services) == 1
    # The page searches again after the erase: the forgotten hits leave the list.
    qtbot.waitUntil(
        lambda: not page.debounce.isActive() and page.model.rowCount() <= 1, timeout=10_000
    )


def test_storage_tab_follows_an_erase_made_elsewhere(
    qtbot: QtBot, env: tuple[Services, TaskRunner, list[int]]
) -> None:
    """Seen: after "Forget the last 15 minutes" from the tray, the open Storage tab still
    showed the old counts."""
    from app.services import Changes

    services, tasks, ids = env
    page = SettingsPage(services, tasks)
    qtbot.addWidget(page)
    page.show()
    page.show_section("storage")
    panel = page.sections["storage"].findChild(erase_ui.StoragePanel)
    assert panel is not None
    qtbot.waitUntil(lambda: "4 memories using" in panel.usage_label.text(), timeout=10_000)
    assert services.erase is not None
    from core.erase import EraseSpec

    receipt = services.erase.erase(EraseSpec(ids=list(ids[:2])))
    assert receipt.memories == 2
    page.refresh(Changes(memories_removed=2))  # what the window does with the announcement
    qtbot.waitUntil(lambda: "2 memories using" in panel.usage_label.text(), timeout=10_000)


def test_erase_range_takes_times_not_only_days() -> None:
    from PySide6.QtCore import QDate, QDateTime, QTime

    from ui.erase_ui import range_spec

    day = QDate(2026, 11, 20)
    spec, what = range_spec(QDateTime(day, QTime(9, 0)), QDateTime(day, QTime(9, 30, 20)))
    assert spec.until - spec.since == 31 * 60  # 9:00 up to the end of the 9:30 minute
    assert spec.since == QDateTime(day, QTime(9, 0)).toSecsSinceEpoch()
    assert what == "on 20 Nov 2026 from 09:00 to 09:30"
    _, what = range_spec(QDateTime(day, QTime(22, 0)), QDateTime(day.addDays(1), QTime(1, 0)))
    assert what == "from 20 Nov 2026 22:00 to 21 Nov 2026 01:00"
