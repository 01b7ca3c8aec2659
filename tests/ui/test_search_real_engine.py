"""The search page, viewer and timeline on the real memory service (real store, FTS, vector
index, time words; the deterministic fake embedder stands in for the model). Skipped until the
memory engine (app.memory_service) is part of the tree."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

import pytest
from PySide6.QtCore import Qt

pytest.importorskip("app.memory_service")

from app.services import Services
from core.keys import TEST_KDF
from core.types import CHAT, NOTE, SCREEN, NewMemory
from tests.fakes import FakeEmbedder
from ui.result_list import day_bounds
from ui.search_page import SearchPage
from ui.timeline_page import TimelinePage

EVIL = "<b>x</b> <img src=http://example.com/a.png> the quarterly invoice"


@pytest.fixture
def services(tmp_path):  # type: ignore[no-untyped-def]
    s = Services(tmp_path / "data", embedder=FakeEmbedder())  # type: ignore[call-arg]
    s.create("correct horse battery staple 42", TEST_KDF)
    assert s.memory is not None and s.memory.wait_ready(30)
    yesterday_noon = datetime.combine(date.today() - timedelta(days=1), datetime.min.time())
    t = yesterday_noon.timestamp() + 12 * 3600
    s.memory.add(
        [
            NewMemory(
                kind=SCREEN,
                text="Invoice 118 from Nordlicht, 1,240 EUR",
                time=t,
                app="firefox",
                title="Invoices — Mail",
            ),
            NewMemory(kind=NOTE, text=EVIL, time=t + 60),
            NewMemory(
                kind=CHAT,
                text="where is the spare key?",
                time=t + 120,
                author="me",
                conversation="Family",
            ),
            NewMemory(
                kind=CHAT,
                text="in the blue box",
                time=t + 180,
                author="Anna",
                conversation="Family",
            ),
            NewMemory(kind=CHAT, text="thanks!", time=t + 240, author="me", conversation="Family"),
            NewMemory(kind=NOTE, text="An old invoice from last year", time=t - 400 * 86400),
        ]
    )
    yield s
    s.lock()


def test_search_page_on_the_real_engine(qtbot, tasks, services) -> None:
    page = SearchPage(services, tasks)
    qtbot.addWidget(page)
    page.show()
    page.refresh()
    qtbot.waitUntil(lambda: page.total == 6, timeout=5000)
    assert page.app_box.findData("firefox") > 0

    qtbot.keyClicks(page.box, "invoice")
    with qtbot.waitSignal(page.results_shown, timeout=10_000):
        pass
    texts = [r.plain for r in page.model.rows]
    assert any("Nordlicht" in t for t in texts)
    assert any(EVIL in t for t in texts)  # shown as the characters it is
    # The engine marked the matched word wherever it occurs (meaning-only hits have none).
    assert all(r.ranges for r in page.model.rows if "invoice" in r.plain.lower())
    page.list.grab()

    # A time word in the query ranks that time first (it is no wall), and the page says so.
    page.box.setText("invoice yesterday")
    with qtbot.waitSignal(page.results_shown, timeout=10_000) as shown:
        page.run_search()
    results = shown.args[0]
    since, until = day_bounds(date.today() - timedelta(days=1))
    assert results.time_hint == (since, until)
    assert results.filters.since is None and results.filters.until is None
    assert "Memories from yesterday first" in page.applied.text()
    assert "An old invoice" not in page.model.rows[0].plain

    # Filters from the controls reach the engine.
    page.box.setText("invoice")
    page.app_box.setCurrentIndex(page.app_box.findData("firefox"))
    qtbot.waitUntil(
        lambda: page.last_results is not None and page.last_results.filters.app == "firefox",
        timeout=10_000,
    )
    assert [r.app for r in page.model.rows] == ["firefox"]


def test_viewer_and_timeline_on_the_real_engine(qtbot, tasks, services) -> None:
    page = SearchPage(services, tasks)
    qtbot.addWidget(page)
    page.show()
    page.box.setText("blue box")
    with qtbot.waitSignal(page.results_shown, timeout=10_000):
        page.run_search()
    assert "in the blue box" in page.model.rows[0].plain
    page.list.setFocus()
    with qtbot.waitSignal(page.viewer_opened, timeout=2000) as opened:
        qtbot.keyClick(page.list, Qt.Key.Key_Return)
    viewer = opened.args[0]
    qtbot.waitSignal(viewer.loaded, timeout=5000).wait()
    text = viewer.text.toPlainText()
    assert text.index("spare key") < text.index("blue box") < text.index("thanks!")
    viewer.close()

    timeline = TimelinePage(services, tasks)
    qtbot.addWidget(timeline)
    timeline.show()
    with qtbot.waitSignal(timeline.day_shown, timeout=5000) as shown_day:
        timeline.set_day(date.today() - timedelta(days=1))
    assert shown_day.args == [date.today() - timedelta(days=1)]
    # No screenshots that day: the chats and the note are markers on the strip.
    assert sorted(m.kind for m in timeline.strip.markers) == ["chat", "chat", "chat", "note"]
    assert "No screens were captured" in timeline.view.message
    t0 = time.perf_counter()
    timeline.strip.grab()
    assert time.perf_counter() - t0 < 1.0
