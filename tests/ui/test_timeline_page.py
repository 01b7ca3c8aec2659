"""The visual timeline on a real encrypted store (fake embedder): the latest frame shown, moving
with the keys and by dragging, a search hit opened at its frame with its words boxed, text
selected and copied, gaps and markers on the strip, the locked state."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication, QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.services import Changes, Services
from core import audit
from core.clock import FixedClock
from core.keys import TEST_KDF
from core.types import NewMemory
from tests.fakes import FakeEmbedder
from ui.timeline_page import TimelinePage

DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 18, 0).timestamp()


def at(hour: int, minute: int = 0, second: int = 0) -> float:
    return datetime(2026, 11, 20, hour, minute, second).timestamp()


def picture(w: int, h: int, shade: int) -> bytes:
    image = Image.new("RGB", (w, h), (shade, shade, 255 - shade))
    ImageDraw.Draw(image).rectangle((10, 10, w // 2, 30), fill=(0, 0, 0))
    buf = io.BytesIO()
    image.save(buf, "WEBP", quality=60)
    return buf.getvalue()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    clock = FixedClock(datetime.fromtimestamp(NOW).astimezone())
    s = Services(tmp_path / "store", clock=clock, embedder=FakeEmbedder())
    s.create("timeline test passphrase", kdf=TEST_KDF)
    assert s.memory is not None and s.media is not None
    s.memory.wait_ready(10)
    for i in range(12):
        when = at(9, 0) + i * 60 if i < 6 else at(14, 0) + i * 60
        mid = s.media.put(
            picture(800, 450, 20 * i),
            mime="image/webp",
            time=when,
            width=800,
            height=450,
            thumbnail=picture(320, 180, 20 * i),
            app="xterm" if i % 2 else "code",
            title=f"window {i}",
        )
        lines = [f"frame number {i}", "crane maintenance schedule" if i == 3 else "other words"]
        s.memory.add(
            [
                NewMemory(
                    kind="screen",
                    text="\n".join(lines),
                    time=when,
                    app="xterm" if i % 2 else "code",
                    title=f"window {i}",
                    media_id=mid,
                    boxes=[
                        {"x": 20, "y": 40 + 40 * k, "w": 300, "h": 24, "text": t}
                        for k, t in enumerate(lines)
                    ],
                )
            ]
        )
    s.memory.add([NewMemory(kind="note", text="buy milk", time=at(10, 0))])
    s.store.write(lambda c: audit.record(c, "capture_state", at(10, 0), state="screen_locked"))
    s.store.write(lambda c: audit.record(c, "capture_state", at(13, 0), state="capturing"))
    yield s
    s.close()


@pytest.fixture
def page(qtbot, tasks, services):  # type: ignore[no-untyped-def]
    p = TimelinePage(services, tasks, now=lambda: NOW)
    qtbot.addWidget(p)
    p.resize(1100, 700)
    p.show()
    return p


def shown(page: TimelinePage) -> tuple[int | None, bool]:
    return page.view.frame_id, page.view.full


def frames(page: TimelinePage) -> list[int]:
    assert page.span is not None
    return [f.media_id for f in page.span.frames]


def wait_full(qtbot, page: TimelinePage, media_id: int) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: shown(page) == (media_id, True), timeout=5000)


def test_opens_at_the_latest_frame_full_size_with_its_caption(qtbot, page) -> None:
    page.refresh()
    qtbot.waitUntil(lambda: page.span is not None and len(page.span.frames) == 12, timeout=5000)
    wait_full(qtbot, page, frames(page)[-1])
    assert page.view.decoded_size.width() == 800  # the stored frame, not the thumbnail
    assert page.caption.text() == "14:11:00 · frame 12 of 12 · xterm · window 11"
    reasons = [g.reason for g in page.strip.gaps]
    assert reasons == ["The screen was locked"]
    assert [m.kind for m in page.strip.markers] == ["note"]


def test_arrow_keys_step_frames_and_alt_arrows_change_day(qtbot, page) -> None:
    page.refresh()
    qtbot.waitUntil(lambda: page.span is not None and page.view.full, timeout=5000)
    ids = frames(page)
    page.strip.setFocus()
    qtbot.keyClick(page.strip, Qt.Key.Key_Left)
    wait_full(qtbot, page, ids[-2])
    qtbot.keyClick(page.strip, Qt.Key.Key_Home)
    wait_full(qtbot, page, ids[0])
    qtbot.keyClick(page.strip, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    wait_full(qtbot, page, ids[10])
    with qtbot.waitSignal(page.day_shown, timeout=5000) as sig:
        qtbot.keyClick(page.strip, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert sig.args == [date(2026, 11, 19)]
    assert "No screens were captured" in page.view.message


def test_dragging_shows_previews_then_the_full_frame_where_it_rests(qtbot, page) -> None:
    page.refresh()
    qtbot.waitUntil(lambda: page.span is not None and page.view.full, timeout=5000)
    ids = frames(page)
    strip = page.strip
    strip.set_zoom(2)  # an hour: the morning frames spread out
    strip.set_current(0)
    x = [round(strip.x_of(f.time)) for f in page.span.frames[:6]]  # type: ignore[union-attr]
    page.view.painted.clear()
    qtbot.mousePress(strip, Qt.MouseButton.LeftButton, pos=QPoint(x[0], 40))
    for k in range(1, 6):
        drag_to(strip, x[k])
        qtbot.waitUntil(
            lambda k=k: [f for f, _ in page.view.painted[-1:]] == [ids[k]], timeout=5000
        )
    qtbot.mouseRelease(strip, Qt.MouseButton.LeftButton, pos=QPoint(x[-1], 40))
    qtbot.waitUntil(lambda: page.view.painted[-1:] == [(ids[5], True)], timeout=5000)
    assert any(not full for _, full in page.view.painted)  # previews while the cursor moved
    # The decoded frames stay within the cache's bound.
    timeline = page.timeline()
    assert timeline.full_cache.bytes <= timeline.full_cache.max_bytes


def test_a_search_hit_opens_at_its_frame_with_the_words_boxed(qtbot, page, services) -> None:
    hit = services.memory.search("crane maintenance").hits[0]
    page.open_at(hit.id, ["crane", "maintenance"])
    target = frames_of(services)[3]
    qtbot.waitUntil(lambda: shown(page) == (target, True) and bool(page.view.matches), timeout=5000)
    ((x, y, w, h),) = page.view.matches
    assert y == 80 and h == 24 and x >= 20 and x + w <= 320  # on the second line's box
    qtbot.keyClick(page.strip, Qt.Key.Key_Right)
    wait_full(qtbot, page, frames_of(services)[4])  # what came after


def drag_to(widget: QWidget, x: int) -> None:
    """A mouse move with the left button held (qtbot.mouseMove carries no buttons)."""
    pos = QPointF(x, 40)
    QApplication.sendEvent(
        widget,
        QMouseEvent(
            QEvent.Type.MouseMove,
            pos,
            widget.mapToGlobal(pos),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        ),
    )


def frames_of(services: Services) -> list[int]:
    return [r[0] for r in services.store.reader().execute("SELECT id FROM media ORDER BY time")]


def test_selecting_text_on_the_frame_copies_the_ocr_lines(qtbot, page) -> None:
    page.refresh()
    qtbot.waitUntil(lambda: page.view.full and bool(page.view.boxes), timeout=5000)
    view = page.view
    top_left = view.to_widget((20, 40, 1, 1)).topLeft().toPoint()
    bottom = view.to_widget((300, 104, 1, 1)).topLeft().toPoint()
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=top_left)
    view._drag_to = bottom.toPointF()
    view._select_between(top_left.toPointF(), bottom.toPointF())
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=bottom)
    assert view.selected_text() == "frame number 11\nother words"
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "frame number 11\nother words"
    assert page.copy_button.text() == "Copy selection"


def test_locked_store_says_so_and_no_frame_survives_the_lock(qtbot, page, services) -> None:
    page.refresh()
    qtbot.waitUntil(lambda: page.view.full, timeout=5000)
    timeline = services.timeline
    services.lock()
    page.refresh(Changes(locked=True))
    assert "locked" in page.view.message and page.view.image.isNull()
    assert len(timeline.full_cache) == 0


def test_coming_back_keeps_the_frame_and_now_goes_to_the_latest(qtbot, page) -> None:
    page.refresh()
    qtbot.waitUntil(lambda: page.span is not None and page.view.full, timeout=5000)
    ids = frames(page)
    page.strip.setFocus()
    qtbot.keyClick(page.strip, Qt.Key.Key_Home)
    wait_full(qtbot, page, ids[0])
    page.refresh()  # the page shown again
    qtbot.wait(300)
    wait_full(qtbot, page, ids[0])
    page.refresh()
    page.show_now()  # Ctrl+T: both in a row, the latest frame wins
    wait_full(qtbot, page, ids[-1])


def test_a_fast_drag_decodes_one_picture_at_a_time_newest_first(qtbot, page) -> None:
    """Moves faster than pictures decode never pile up work: one decode runs at a time, each
    for where the cursor is when the last one is in, and the strip is not redrawn under the
    moving cursor; where the drag ends, the full frame is shown, fitted to the view."""
    page.refresh()
    qtbot.waitUntil(lambda: page.span is not None and page.view.full, timeout=5000)
    ids = frames(page)
    strip = page.strip
    strip.set_zoom(2)
    strip.set_current(0)
    service = page.timeline()
    running, calls, most = [0], [], [0]
    lock = threading.Lock()
    real = service.picture

    def picture(media_id, full, fit=None):  # type: ignore[no-untyped-def]
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            calls.append((media_id, full))
        time.sleep(0.02)  # slower than the moves
        try:
            return real(media_id, full, fit)
        finally:
            with lock:
                running[0] -= 1

    service.picture = picture
    x = [round(strip.x_of(f.time)) for f in page.span.frames[:6]]  # type: ignore[union-attr]
    strip.repaint()
    qtbot.waitUntil(lambda: strip._asked <= set(strip.tiles), timeout=5000)  # tiles are in
    strip.repaint()
    qtbot.waitUntil(lambda: not page._decoding, timeout=5000)
    static = strip.static_paints
    qtbot.mousePress(strip, Qt.MouseButton.LeftButton, pos=QPoint(x[0], 40))
    moves = 0
    for _ in range(4):
        for k in [*range(1, 6), *range(4, -1, -1)]:
            drag_to(strip, x[k])
            moves += 1
            QApplication.processEvents()
    assert strip.static_paints == static  # only the cursor moved
    drag_to(strip, x[4])
    qtbot.mouseRelease(strip, Qt.MouseButton.LeftButton, pos=QPoint(x[4], 40))
    wait_full(qtbot, page, ids[4])
    assert most[0] == 1
    assert len(calls) < moves / 2  # skipped frames, not queued ones
    assert calls[-1] == (ids[4], True)
    fit = page.view.fit_size(page.view.image_size)
    assert (page.view.image.width(), page.view.image.height()) == fit  # painted 1:1


def test_a_resized_view_gets_its_picture_fitted_again(qtbot, page) -> None:
    page.refresh()
    qtbot.waitUntil(lambda: page.span is not None and page.view.full, timeout=5000)
    page.resize(800, 560)

    def fitted() -> bool:
        fit = page.view.fit_size(page.view.image_size)
        return page.view.full and (page.view.image.width(), page.view.image.height()) == fit

    qtbot.waitUntil(fitted, timeout=5000)
    assert page.view.image.width() < 800
    assert page.view.decoded_size.width() == 800  # fitted from the stored frame
