"""The Import page on a real unlocked store (fake embedder): progress with counts, Cancel that
keeps nothing from the file, the per-file report, drag-and-drop onto the page and the main
window, the conversations list opening the viewer on the imported thread."""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.import_service import ImportResult
from app.services import Services
from core.keys import TEST_KDF
from tests.fakes import FakeEmbedder
from ui.import_page import ImportPage, accept_drops_on
from ui.main_window import MainWindow

FIX = Path(__file__).parents[1] / "fixtures" / "imports"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    s = Services(tmp_path / "store", embedder=FakeEmbedder())
    s.create("correct horse battery staple 42", kdf=TEST_KDF)
    assert s.memory is not None
    s.memory.wait_ready(10)
    yield s
    s.close()


@pytest.fixture
def page(qtbot, tasks, services):  # type: ignore[no-untyped-def]
    p = ImportPage(services, tasks)
    qtbot.addWidget(p)
    p.resize(900, 700)
    p.show()
    yield p
    tasks.wait(10_000)


def run_import(qtbot, page: ImportPage, paths: list[Path]) -> ImportResult:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(page.finished, timeout=20_000) as blocker:
        assert page.start(paths)
    result = blocker.args[0]
    assert isinstance(result, ImportResult), result
    return result


def big_jsonl(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "id": f"b{i}",
                        "time": "2024-05-01T10:00:00+00:00",
                        "speaker": "Dana",
                        "text": f"line {i} of the long chat",
                        "conversation": "Long chat",
                    }
                )
                + "\n"
            )
    return path


def drag_enter(mime: QMimeData) -> QDragEnterEvent:
    # PySide flags the only QDragEnterEvent constructor Qt 6 has (QPoint) as deprecated.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ev = QDragEnterEvent(
            QPoint(50, 50),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
    ev._mime = mime  # type: ignore[attr-defined]  # keep it alive as long as the event
    return ev


def drop_event(paths: list[Path], enter: bool = False) -> QDropEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    if enter:
        return drag_enter(mime)
    ev = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    ev._mime = mime  # type: ignore[attr-defined]
    return ev


def test_report_and_conversations_then_viewer(qtbot, page, services) -> None:  # type: ignore[no-untyped-def]
    result = run_import(
        qtbot, page, [FIX / "chatgpt" / "conversations.json", FIX / "malformed" / "garbage.json"]
    )
    assert [f.imported for f in result.files] == [9, 0]
    assert page.summary.isVisible()
    assert "9 messages imported" in page.summary.text() and "1 not imported" in page.summary.text()
    good, bad = (page.report.topLevelItem(i) for i in range(2))
    assert good.text(0) == "conversations.json (ChatGPT export)"
    assert (good.text(1), good.text(2), good.text(3)) == ("9", "0", "2")
    children = [good.child(i).text(0) for i in range(good.childCount())]
    assert "Rejected item 4: not a ChatGPT conversation (no message tree)" in children
    assert any(c.startswith("Skipped 1 × tool output") for c in children)
    assert bad.text(0) == "garbage.json — not imported"
    assert "garbage.json is not valid JSON" in bad.child(0).text(0)
    assert not page.progress_box.isVisible() and page.files_button.isEnabled()

    qtbot.waitUntil(lambda: page.conversations.topLevelItemCount() == 4, timeout=5000)
    rows = {
        page.conversations.topLevelItem(i).text(0): page.conversations.topLevelItem(i)
        for i in range(4)
    }
    lisbon = rows["Trip to Lisbon 🇵🇹"]
    assert lisbon.text(2) == "4" and "conversations.json" in lisbon.text(1)
    viewer = page.open_memory(lisbon.data(0, Qt.ItemDataRole.UserRole))
    with qtbot.waitSignal(viewer.loaded, timeout=5000):
        pass
    assert [m.external_id for m in viewer.neighbours] == ["n1", "n2b", "n3", "n5"]
    text = viewer.text.toPlainText()
    assert "What should I see in Lisbon?" in text and "Yes, that is tram 28." in text
    viewer.close()


def test_progress_is_shown_and_cancel_keeps_nothing(qtbot, page, services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    big = big_jsonl(tmp_path / "long.jsonl", 400)
    reached, release = threading.Event(), threading.Event()

    def hold(p) -> None:  # type: ignore[no-untyped-def]
        # Runs on the worker: park the import mid-file until the test has clicked Cancel.
        if p.messages >= 128 and not reached.is_set():
            reached.set()
            release.wait(10)

    page._relay.progressed.connect(hold, Qt.ConnectionType.DirectConnection)
    with qtbot.waitSignal(page.finished, timeout=20_000) as blocker:
        assert page.start([FIX / "jsonl" / "chat.jsonl", big])
        assert page.progress_box.isVisible() and not page.files_button.isEnabled()
        assert reached.wait(10)
        qtbot.waitUntil(lambda: "messages so far" in page.progress_label.text(), timeout=5000)
        assert "long.jsonl — file 2 of 2" in page.progress_label.text()
        assert page.progress.maximum() == 2 and page.progress.value() == 1
        assert not page.start([big])  # one import at a time
        qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
        assert "Cancelling" in page.progress_label.text()
        release.set()
    result = blocker.args[0]
    assert [f.cancelled for f in result.files] == [False, True]
    assert services.memory.count() == 4  # the first file only
    assert page.summary.text().startswith("Cancelled.")
    assert page.report.topLevelItem(1).text(0) == "long.jsonl — cancelled, nothing kept"


def test_drop_files_on_the_page(qtbot, page, services) -> None:  # type: ignore[no-untyped-def]
    enter = drop_event([FIX / "telegram" / "result.json"], enter=True)
    QApplication.sendEvent(page, enter)
    assert enter.isAccepted()
    with qtbot.waitSignal(page.finished, timeout=20_000) as blocker:
        QApplication.sendEvent(page, drop_event([FIX / "telegram" / "result.json"]))
    assert blocker.args[0].files[0].imported == 5
    assert services.memory.count() == 5


def test_drop_on_the_main_window_goes_to_the_import_page(qtbot, tasks, services) -> None:  # type: ignore[no-untyped-def]
    window = MainWindow(services, tasks, tray_available=False)
    qtbot.addWidget(window)
    accept_drops_on(window)
    window.show()
    window.show_page("Search")
    page = window.page("Import")
    assert isinstance(page, ImportPage)
    enter = drop_event([FIX / "notes"], enter=True)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    with qtbot.waitSignal(page.finished, timeout=20_000) as blocker:
        QApplication.sendEvent(window, drop_event([FIX / "notes"]))
    assert window.stack.currentWidget() is page
    assert blocker.args[0].files[0].format == "markdown"
    assert services.memory.count() == 7
    tasks.wait(10_000)


def test_text_drags_are_not_taken(qtbot, page) -> None:  # type: ignore[no-untyped-def]
    mime = QMimeData()
    mime.setText("just words")
    ev = drag_enter(mime)
    QApplication.sendEvent(page, ev)
    assert not ev.isAccepted()


def test_locked_store_starts_nothing(qtbot, page, services) -> None:  # type: ignore[no-untyped-def]
    services.lock()
    assert not page.start([FIX / "jsonl" / "chat.jsonl"])
    page.refresh()  # no crash, nothing to list
