"""Desktop polish a new user trips over, each as a test: the window's first size (and the one
remembered), plain wording on Home and Search, pages without large empty gaps, file dialogs that
open in Downloads/home, every page reachable from the keyboard and the shortcuts in Help."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSize, QStandardPaths, Qt

from app.services import Services
from core.keys import TEST_KDF
from tests.ui.fake_memory import FakeMemoryService, demo_memories, install_fake_memory
from ui.main_window import MainWindow, kind_phrase, natural_size
from ui.page import memories_phrase, nothing_yet, start_folder


@pytest.fixture
def services(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Services(tmp_path / "data")
    s.create("correct horse battery staple 42", TEST_KDF)
    yield s
    s.close()


def test_first_window_size_fits_a_1080p_screen_and_is_remembered(qtbot, tasks, services) -> None:
    assert natural_size(QSize(1920, 1050)) == QSize(1440, 900)
    assert natural_size(QSize(1280, 720)) == QSize(960, 640)
    assert natural_size(QSize(800, 600)) == QSize(800, 600)  # a small screen: all of it
    install_fake_memory(services, FakeMemoryService(demo_memories(5)))
    w = MainWindow(services, tasks, tray_available=False)
    qtbot.addWidget(w)
    w.show()
    w.resize(1234, 777)
    w.remember_size()
    assert services.settings.get("device.window_size") == "1234x777"
    again = MainWindow(services, tasks, tray_available=False)
    qtbot.addWidget(again)
    assert again.first_size() == QSize(1234, 777).boundedTo(
        again.screen().availableGeometry().size()
    )


def test_plain_words_for_counts_and_kinds() -> None:
    assert memories_phrase(1) == "1 memory" and memories_phrase(2048) == "2,048 memories"
    assert kind_phrase("import:jsonl", 4) == "4 imported from JSON Lines files"
    assert kind_phrase("import:whatsapp", 1) == "1 imported from WhatsApp file"
    assert kind_phrase("screen", 12) == "12 read from the screen"
    assert kind_phrase("note", 1) == "1 note"


def test_empty_state_does_not_ask_to_turn_capture_on_while_it_is_on() -> None:
    class Capture:
        running = True

    class On:
        capture = Capture()

    assert "Turn on" not in nothing_yet(On()) and "capture is on" in nothing_yet(On())
    assert "Turn on screen capture" in nothing_yet(None)


def test_search_says_1_memory(qtbot, tasks, services) -> None:
    install_fake_memory(services, FakeMemoryService(demo_memories(1)))
    w = MainWindow(services, tasks, tray_available=False)
    qtbot.addWidget(w)
    w.show()
    search = w.page("Search")
    qtbot.waitUntil(lambda: search.total == 1, timeout=5000)  # type: ignore[union-attr]
    assert "Search 1 memory by" in search.message.text()  # type: ignore[union-attr]


def test_home_page_keeps_its_parts_together(qtbot, tasks, services) -> None:
    install_fake_memory(services, None)
    w = MainWindow(services, tasks, tray_available=False)
    qtbot.addWidget(w)
    w.resize(1200, 1000)
    w.show()
    w.show_page("Home")
    home = w.page("Home")
    qtbot.waitUntil(lambda: home.summary.text() != "Loading…", timeout=5000)  # type: ignore[union-attr]
    assert home is not None
    qtbot.wait(50)
    gap = home.note.geometry().top() - home.summary.geometry().bottom()
    assert gap < 260  # the empty-state text and the note's label, not half the window


def test_import_page_keeps_its_parts_together(qtbot, tasks, services) -> None:
    w = MainWindow(services, tasks, tray_available=False)
    qtbot.addWidget(w)
    w.resize(1200, 1000)
    w.show()
    w.show_page("Import")
    page = w.page("Import")
    assert page is not None
    qtbot.wait(100)
    hint = page.no_conversations  # type: ignore[attr-defined]
    assert hint.isVisible()
    assert hint.geometry().top() - page.files_button.geometry().bottom() < 200  # type: ignore[attr-defined]


def test_file_dialogs_start_in_downloads_else_home(monkeypatch, tmp_path) -> None:
    downloads = tmp_path / "Downloads"
    monkeypatch.setattr(QStandardPaths, "writableLocation", lambda _loc: str(downloads))
    monkeypatch.setattr(Path, "home", lambda: tmp_path)
    assert start_folder() == tmp_path  # no Downloads folder yet
    downloads.mkdir()
    assert start_folder() == downloads
    monkeypatch.chdir(tmp_path / "Downloads")
    assert start_folder() != Path.cwd() or Path.cwd() == downloads


def test_import_dialog_opens_in_the_start_folder(qtbot, tasks, services, monkeypatch) -> None:
    import ui.import_page as ip

    seen: list[str] = []
    monkeypatch.setattr(ip, "start_folder", lambda: Path("/somewhere/Downloads"))
    monkeypatch.setattr(
        ip.QFileDialog,
        "getOpenFileNames",
        lambda parent, title, folder, filt: (seen.append(folder), ([], ""))[1],
    )
    page = ip.ImportPage(services, tasks)
    qtbot.addWidget(page)
    page.choose_files()
    assert seen == ["/somewhere/Downloads"]


def test_every_page_is_reachable_from_the_keyboard_and_help_lists_the_shortcuts(
    qtbot, tasks, services
) -> None:
    from ui.about import SHORTCUTS

    install_fake_memory(services, FakeMemoryService(demo_memories(5)))
    w = MainWindow(services, tasks, tray_available=False)
    qtbot.addWidget(w)
    w.show()
    w.activateWindow()
    qtbot.waitUntil(lambda: w.isActiveWindow(), timeout=5000)
    digits = [getattr(Qt.Key, f"Key_{n}") for n in range(1, 10)]
    for i, page in enumerate(w.pages[:9]):
        qtbot.keyClick(w, digits[i], Qt.KeyboardModifier.ControlModifier)
        assert w.stack.currentWidget() is page
    w.show_page("Search")
    qtbot.keyClick(w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert w.stack.currentWidget() is w.page("Timeline")
    keys = " ".join(k for k, _ in SHORTCUTS)
    for needed in ("Ctrl+Alt+R", "Ctrl+T", "Ctrl+F", "Ctrl+L", "Ctrl+Enter", "Alt+←"):
        assert needed in keys
