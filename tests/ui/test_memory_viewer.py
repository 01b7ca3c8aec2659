"""The memory viewer: provenance, review status, screenshot slot, plug-in actions, copy."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication

from core.types import QUARANTINED, SCREEN
from tests.ui.fake_memory import FakeMedia, FakeMemoryService, StubServices, memory
from ui import memory_viewer
from ui.memory_viewer import MemoryViewer, ViewerAction, media_of, memory_of

NOW = datetime(2026, 11, 20, 18, 0).timestamp()


def open_viewer(qtbot, tasks, mems, media=None, mid=1, terms=None):  # type: ignore[no-untyped-def]
    services = StubServices(FakeMemoryService(mems), media)
    viewer = MemoryViewer(
        memory_of(services), media_of(services), tasks, mid, terms, now=lambda: NOW
    )
    with qtbot.waitSignal(viewer.loaded, timeout=2000):
        viewer.show()
    return viewer


def test_screen_memory_with_screenshot_and_review_status(qtbot, tasks) -> None:
    m = memory(
        1,
        "Total due: 1,240 EUR\nInvoice 118",
        NOW - 120,
        SCREEN,
        app="firefox",
        title="Invoice — Mail",
        media_id=5,
        trust=0.35,
        status=QUARANTINED,
    )
    m.reasons = ["reads like instructions to an assistant"]
    media = FakeMedia()
    viewer = open_viewer(qtbot, tasks, [m], media, terms=["invoice"])
    assert viewer.heading.text() == "Invoice — Mail"
    assert viewer.meta.text() == "Fri 20 Nov 2026, 17:58 (2 min ago) · Screen · firefox".replace(
        " 2026", ""
    )
    # Plain words, not "trust 0.35 · reviewed: ok".
    assert "Less trusted source" in viewer.provenance.text()
    assert "0.35" not in viewer.provenance.text() and "review" not in viewer.provenance.text()
    assert viewer.review.isVisible()
    assert "reads like instructions" in viewer.review.text()
    qtbot.waitUntil(viewer.screenshot.isVisible, timeout=2000)
    assert media.calls == [("load_image", 5)]
    assert viewer.screenshot.image.width() == 1280
    # The hook the capture feature calls with OCR boxes to mark.
    viewer.show_screenshot(media.load_image(5), [(10, 20, 200, 30), QRect(0, 0, 5, 5)])
    assert viewer.screenshot.rects == [QRect(10, 20, 200, 30), QRect(0, 0, 5, 5)]
    viewer.screenshot.grab()
    viewer.show_screenshot(b"not an image", [])
    assert not viewer.screenshot.isVisible()
    viewer.close()


def test_copy_text_and_plugged_in_actions(qtbot, tasks, monkeypatch) -> None:
    seen = []
    monkeypatch.setattr(
        memory_viewer,
        "VIEWER_ACTIONS",
        [ViewerAction("Forget this", lambda v, m: seen.append((v.memory_id, m.id)), "danger")],
    )
    viewer = open_viewer(qtbot, tasks, [memory(1, "the spare key is in the blue box", NOW)])
    forget = viewer.action_buttons[0]
    assert forget.text() == "Forget this" and forget.objectName() == "danger"
    assert forget.isEnabled()
    forget.click()
    assert seen == [(1, 1)]
    viewer.copy_button.click()
    assert QGuiApplication.clipboard().text() == "the spare key is in the blue box"
    assert viewer.copy_button.text() == "Copied"
    qtbot.waitUntil(lambda: viewer.copy_button.text() == "Copy text", timeout=5000)
    viewer.close()


def test_a_memory_that_is_gone(qtbot, tasks) -> None:
    viewer = open_viewer(qtbot, tasks, [], mid=99)
    assert viewer.heading.text().startswith("This memory is no longer there")
    assert not viewer.copy_button.isEnabled()
    viewer.close()
