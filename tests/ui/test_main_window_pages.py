"""The real main window with a real (unlocked) store and the fake engine attached as
services.memory: Search is the first page, focused, and Ctrl+K / Ctrl+F bring it back."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.services import Services
from core.keys import TEST_KDF
from tests.ui.fake_memory import FakeMemoryService, demo_memories, install_fake_memory
from ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tasks, tmp_path):  # type: ignore[no-untyped-def]
    services = Services(tmp_path / "data")
    services.create("correct horse battery staple 42", TEST_KDF)
    install_fake_memory(services, FakeMemoryService(demo_memories(300)))
    w = MainWindow(services, tasks, tray_available=False)
    qtbot.addWidget(w)
    w.show()
    w.refresh()
    yield w
    tasks.wait(10_000)
    services.close()


def test_search_is_first_and_focused(qtbot, window) -> None:
    assert window.nav.item(0).text() == "Search"
    assert [p.title for p in window.pages][:3] == ["Search", "Home", "Timeline"]
    search = window.pages[0]
    qtbot.waitUntil(lambda: search.box.hasFocus() or window.focusWidget() is search.box)
    qtbot.waitUntil(lambda: search.total == 300)
    assert "Search 300 memories" in search.message.text()


def test_ctrl_k_and_ctrl_f_focus_the_search_box(qtbot, window) -> None:
    search = window.pages[0]
    window.show_page("Timeline")
    assert window.stack.currentWidget() is window.pages[2]
    for key in (Qt.Key.Key_K, Qt.Key.Key_F):
        window.show_page("Timeline")
        qtbot.keyClick(window, key, Qt.KeyboardModifier.ControlModifier)
        assert window.stack.currentWidget() is search
        qtbot.waitUntil(lambda: window.focusWidget() is search.box)
    qtbot.keyClicks(search.box, "invoice")
    with qtbot.waitSignal(search.results_shown, timeout=3000):
        pass
    assert search.model.rowCount() > 0


def test_an_open_viewer_goes_away_with_the_window_on_lock(qtbot, tasks, tmp_path) -> None:
    import shiboken6

    services = Services(tmp_path / "data")
    services.create("correct horse battery staple 42", TEST_KDF)
    fake = FakeMemoryService(demo_memories(20))
    install_fake_memory(services, fake)
    window = MainWindow(services, tasks, tray_available=False)  # not given to qtbot: deleted here
    window.show()
    viewer = window.pages[0].open_memory(fake.memories[0].id)
    qtbot.waitSignal(viewer.loaded, timeout=2000).wait()
    assert viewer.parent() is window  # so the controller's lock (delete window) removes it
    window.hide()
    window.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(viewer))
    tasks.wait(10_000)
    services.close()
