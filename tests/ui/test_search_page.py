"""The search page against the fake engine: debounced live results, stale answers dropped,
filters passed through, applied filters shown, keyboard, empty states, thumbnails."""

from __future__ import annotations

import time
from datetime import date, datetime

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap

from core.types import CHAT, NOTE, SCREEN, SearchFilters
from tests.ui.fake_memory import FakeMedia, FakeMemoryService, StubServices, memory
from ui.result_list import THUMB_ROLE, ResultsModel, day_bounds
from ui.search_page import (
    LOCKED,
    NOTHING_YET,
    RESULTS_K,
    SearchPage,
    no_results,
)

NOW = datetime(2026, 11, 20, 15, 30).timestamp()


def sample() -> list:
    return [
        memory(
            1,
            "Invoice 118 from Nordlicht: 1,240 EUR",
            NOW - 3600,
            SCREEN,
            app="firefox",
            title="Invoices — Mail",
            media_id=11,
        ),
        memory(
            2, "Lunch with Anna on Friday", NOW - 7200, CHAT, author="Anna", conversation="Family"
        ),
        memory(3, "Pay the invoice before the 30th", NOW - 86400 * 3, NOTE),
        memory(4, "Invoice 2025 archive", NOW - 86400 * 40, SCREEN, app="thunderbird"),
    ]


@pytest.fixture
def fake() -> FakeMemoryService:
    return FakeMemoryService(sample())


@pytest.fixture
def page(qtbot, tasks, fake):  # type: ignore[no-untyped-def]
    media = FakeMedia()
    p = SearchPage(StubServices(fake, media), tasks, now=lambda: NOW)  # type: ignore[arg-type]
    p.media_fake = media  # type: ignore[attr-defined]
    qtbot.addWidget(p)
    p.resize(900, 600)
    p.show()
    p.refresh()
    qtbot.waitUntil(lambda: p.total == 4)
    return p


def shown_ids(page: SearchPage) -> list[int]:
    return [r.id for r in page.model.rows]


def test_typing_shows_results_after_debounce_with_one_search(qtbot, page, fake) -> None:
    qtbot.keyClicks(page.box, "invoice")
    # Typing itself never searched: the debounce holds the request back.
    assert fake.searches() == []
    assert page.model.rowCount() == 0
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        pass
    assert shown_ids(page) == [1, 3, 4]
    assert [q for q, _, _ in fake.searches()] == ["invoice"]
    assert page.stack.currentWidget() is page.list
    assert page.list.currentIndex().row() == 0
    assert page.summary.text().startswith("3 results")


def test_typing_stays_responsive_while_a_search_is_slow(qtbot, page, fake) -> None:
    fake.delays["invoice"] = 0.8
    page.box.setText("invoice")
    page.run_search()
    t0 = time.perf_counter()
    qtbot.keyClicks(page.box, " more words")  # the GUI thread is free while the search runs
    assert time.perf_counter() - t0 < 0.5
    assert page.box.text() == "invoice more words"
    qtbot.waitUntil(lambda: page.stale_dropped == 1, timeout=3000)


def test_stale_responses_are_dropped(qtbot, page, fake) -> None:
    fake.delays["nordlicht"] = 0.6
    shown: list = []
    page.results_shown.connect(shown.append)
    page.box.setText("nordlicht")
    page.run_search()
    page.box.setText("anna")
    page.run_search()
    qtbot.waitUntil(lambda: len(shown) == 1)
    assert shown_ids(page) == [2]
    # The slow answer to the old query arrives later and is ignored.
    qtbot.waitUntil(lambda: page.stale_dropped == 1, timeout=3000)
    assert len(shown) == 1
    assert shown_ids(page) == [2]
    assert shown[0].query == "anna"


def test_filters_are_passed_through(qtbot, page, fake) -> None:
    page.box.setText("invoice")
    page.run_search()
    qtbot.waitUntil(lambda: len(fake.searches()) == 1)
    assert fake.searches()[0] == ("invoice", SearchFilters(), RESULTS_K)

    page.app_box.setCurrentIndex(page.app_box.findData("firefox"))
    qtbot.mouseClick(page.source_buttons["screen"], Qt.MouseButton.LeftButton)
    page.date_box.setCurrentIndex(3)  # last 30 days
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        pass
    qtbot.waitUntil(lambda: page.debounce.isActive() is False and not page._pending)
    _, filters, _ = fake.searches()[-1]
    assert filters == SearchFilters(since=NOW - 30 * 86400, app="firefox", source="screen")
    assert shown_ids(page) == [1]
    assert page.clear_filters_button.isVisible()

    page.set_custom_range(date(2026, 11, 10), date(2026, 11, 12))
    qtbot.waitUntil(lambda: fake.searches()[-1][1].until is not None)
    filters = fake.searches()[-1][1]
    assert (filters.since, filters.until) == (
        day_bounds(date(2026, 11, 10))[0],
        day_bounds(date(2026, 11, 12))[1],
    )
    assert page.date_from.isVisible() and page.date_to.isVisible()

    page.clear_filters()
    qtbot.waitUntil(lambda: fake.searches()[-1][1] == SearchFilters())
    assert not page.date_from.isVisible()


def test_the_engine_applied_filters_are_shown(qtbot, page, fake) -> None:
    yesterday = day_bounds(date(2026, 11, 19))
    fake.time_words["yesterday"] = SearchFilters(since=yesterday[0], until=yesterday[1])
    page.app_box.setCurrentIndex(page.app_box.findData("firefox"))
    page.box.setText("invoice yesterday")
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        page.run_search()
    assert page.applied.text() == "Showing: yesterday · app firefox · words “invoice”"
    assert page.message.text() == no_results("invoice yesterday")
    assert page.stack.currentWidget() is page.message


def test_memory_text_is_never_read_as_html(qtbot, tasks) -> None:
    evil = "<b>x</b> <img src=http://example.com/a.png> invoice &amp; <a href='x'>y</a>"
    fake = FakeMemoryService([memory(1, evil, NOW - 60, NOTE)])
    page = SearchPage(StubServices(fake), tasks, now=lambda: NOW)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.show()
    page.box.setText("invoice")
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        page.run_search()
    row = page.model.rows[0]
    assert row.plain == evil  # the list lays out these characters as they are
    assert row.plain[row.ranges[0][0] :][: row.ranges[0][1]] == "invoice"
    assert evil in page.model.data(page.model.index(0))
    page.list.grab()  # paints the row (a crash or warning here fails the test)

    viewer = page.open_memory(1, ["invoice"])
    with qtbot.waitSignal(viewer.loaded, timeout=2000):
        pass
    doc = viewer.text.document()
    assert doc.toPlainText() == evil
    # No element came from the text: no images, no links, only our one marked word.
    block = doc.begin()
    marked = []
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            fmt = frag.charFormat()
            assert not fmt.isImageFormat()
            assert not fmt.isAnchor()
            if fmt.fontWeight() >= 700:
                marked.append(frag.text())
            it += 1
        block = block.next()
    assert marked == ["invoice"]
    assert viewer.heading.textFormat() == Qt.TextFormat.PlainText


def test_keyboard_down_enter_opens_the_viewer_and_escape_clears(qtbot, page, fake) -> None:
    qtbot.keyClicks(page.box, "invoice")
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        pass
    qtbot.keyClick(page.box, Qt.Key.Key_Down)
    assert page.list.hasFocus() or page.focusWidget() is page.list
    qtbot.keyClick(page.list, Qt.Key.Key_Down)
    assert page.list.currentIndex().row() == 1
    with qtbot.waitSignal(page.viewer_opened, timeout=1000) as opened:
        qtbot.keyClick(page.list, Qt.Key.Key_Return)
    viewer = opened.args[0]
    with qtbot.waitSignal(viewer.loaded, timeout=2000):
        pass
    assert viewer.memory is not None and viewer.memory.id == 3
    assert "Pay the invoice" in viewer.text.toPlainText()
    assert viewer.meta.text().endswith("Note")
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    assert not viewer.isVisible()

    # Enter in the box opens the selected result too; Esc in the box clears it.
    page.list.setCurrentIndex(page.model.index(0))
    page.box.setFocus()
    with qtbot.waitSignal(page.viewer_opened, timeout=1000) as opened:
        qtbot.keyClick(page.box, Qt.Key.Key_Return)
    assert opened.args[0].memory_id == 1
    qtbot.waitSignal(opened.args[0].loaded, timeout=2000).wait()
    opened.args[0].close()
    qtbot.keyClick(page.box, Qt.Key.Key_Escape)
    assert page.box.text() == ""
    qtbot.waitUntil(lambda: page.model.rowCount() == 0)


def test_chat_memory_opens_in_its_conversation(qtbot, tasks) -> None:
    msgs = [
        memory(i, text, NOW - 600 + i, CHAT, author=who, conversation="Family")
        for i, (who, text) in enumerate(
            [
                ("Anna", "hi"),
                ("me", "where is the spare key?"),
                ("Anna", "blue box"),
                ("me", "thanks"),
            ],
            start=1,
        )
    ]
    fake = FakeMemoryService(msgs)
    page = SearchPage(StubServices(fake), tasks, now=lambda: NOW)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    viewer = page.open_memory(3, ["blue"])
    with qtbot.waitSignal(viewer.loaded, timeout=2000):
        pass
    text = viewer.text.toPlainText()
    assert [t in text for t in ("hi", "spare key", "blue box", "thanks")] == [True] * 4
    assert text.index("spare key") < text.index("blue box") < text.index("thanks")
    # The opened message's lines carry the highlight background; the others do not.
    doc = viewer.text.document()
    highlighted = [
        b.text()
        for b in _blocks(doc)
        if b.blockFormat().background().style() != Qt.BrushStyle.NoBrush
    ]
    assert highlighted[1] == "blue box" and all("thanks" not in h for h in highlighted)
    assert "in “Family”" in viewer.provenance.text()


def _blocks(doc):  # type: ignore[no-untyped-def]
    b = doc.begin()
    while b.isValid():
        yield b
        b = b.next()


def test_empty_states(qtbot, tasks) -> None:
    empty = SearchPage(StubServices(FakeMemoryService([])), tasks, now=lambda: NOW)  # type: ignore[arg-type]
    qtbot.addWidget(empty)
    empty.refresh()
    qtbot.waitUntil(lambda: empty.total == 0)
    assert empty.message.text() == NOTHING_YET
    assert empty.stack.currentWidget() is empty.message

    locked = SearchPage(StubServices(FakeMemoryService(sample()), unlocked=False), tasks)  # type: ignore[arg-type]
    qtbot.addWidget(locked)
    locked.refresh()
    locked.box.setText("invoice")
    locked.run_search()
    assert locked.message.text() == LOCKED


def test_no_results_message_quotes_the_query_as_text(qtbot, page) -> None:
    page.box.setText("<i>zebra</i>")
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        page.run_search()
    assert page.message.text() == no_results("<i>zebra</i>")
    assert page.message.textFormat() == Qt.TextFormat.PlainText


def test_progress_shows_only_for_slow_searches(qtbot, page, fake) -> None:
    page.box.setText("anna")
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        page.run_search()
    assert not page.busy.isVisible()
    fake.delays["invoice"] = 0.7
    page.box.setText("invoice")
    page.run_search()
    qtbot.waitUntil(page.busy.isVisible, timeout=1000)
    assert page.summary.text() == "Searching…"
    with qtbot.waitSignal(page.results_shown, timeout=3000):
        pass
    assert not page.busy.isVisible()


def test_thumbnails_load_for_hits_with_pictures(qtbot, page) -> None:
    page.box.setText("nordlicht")
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        page.run_search()
    page.list.grab()  # painting asks for the thumbnail
    idx = page.model.index(0)
    qtbot.waitUntil(lambda: isinstance(page.model.data(idx, THUMB_ROLE), QPixmap))
    assert page.model.data(idx, THUMB_ROLE).width() == 240
    assert page.media_fake.calls == [("thumbnail", 11)]


def test_two_hundred_results_render_fast(qtbot, tasks) -> None:
    from PySide6.QtWidgets import QListView

    from ui.result_list import ResultDelegate, ResultRow

    rows = [
        ResultRow(
            i,
            NOW - i * 60,
            SCREEN,
            "firefox",
            f"Title {i}",
            "some \x02invoice\x03 text " * 12,
            count=1 + i % 3,
            media_id=None,
        )
        for i in range(200)
    ]
    model = ResultsModel()
    view = QListView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegate(ResultDelegate(view))
    view.setUniformItemSizes(True)
    view.resize(900, 700)
    view.show()
    t0 = time.perf_counter()
    model.set_rows(rows, NOW)
    for i in range(0, 200, 8):  # scroll the whole list, painting each screen
        view.scrollTo(model.index(i))
        view.viewport().repaint()
    elapsed = time.perf_counter() - t0
    assert model.rowCount() == 200
    assert elapsed < 2.0, f"painting 200 results took {elapsed:.2f} s"


def test_a_refresh_with_the_same_hits_keeps_the_selection(qtbot, page, fake) -> None:
    from app.services import Changes

    page.box.setText("invoice")
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        page.run_search()
    page.list.setCurrentIndex(page.model.index(2))
    resets: list = []
    page.model.modelReset.connect(lambda: resets.append(1))
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        page.refresh(Changes(memories_added=1))
    assert resets == [] and page.list.currentIndex().row() == 2
    # A new memory that matches appears, and the selected one stays selected.
    fake.memories.append(memory(9, "invoice from the garage", NOW - 10, NOTE))
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        page.refresh(Changes(memories_added=1))
    assert shown_ids(page) == [9, 1, 3, 4]
    assert page.model.rows[page.list.currentIndex().row()].id == 4


def test_search_waits_for_the_engine_to_attach(qtbot, tasks) -> None:
    from app.services import Changes

    services = StubServices(None)
    page = SearchPage(services, tasks, now=lambda: NOW)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.show()
    page.refresh()
    assert page.message.text().startswith("Search is starting")
    services.memory = FakeMemoryService(sample())
    # The end of unlock announces Changes(locked=False); the main window hands it to the page.
    page.refresh(Changes(locked=False))
    qtbot.waitUntil(lambda: page.total == 4, timeout=3000)
    assert page.message.text().startswith("Search 4 memories")


def test_grouped_hit_badge_and_viewer_say_how_many(qtbot, tasks) -> None:
    same = [memory(i, "Build passed on main", NOW - i * 60, SCREEN, app="ci") for i in (1, 2, 3)]
    page = SearchPage(StubServices(FakeMemoryService(same)), tasks, now=lambda: NOW)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.show()
    page.box.setText("build")
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        page.run_search()
    assert [r.count for r in page.model.rows] == [3]
    tip = page.model.data(page.model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert tip == "3 near-identical memories, shown once"
    with qtbot.waitSignal(page.viewer_opened, timeout=1000) as opened:
        page.list.setFocus()
        qtbot.keyClick(page.list, Qt.Key.Key_Return)
    viewer = opened.args[0]
    qtbot.waitSignal(viewer.loaded, timeout=2000).wait()
    assert "seen 3 times" in viewer.provenance.text()
    viewer.close()


def test_one_search_at_a_time_and_the_newest_query_wins(qtbot, page, fake) -> None:
    fake.delays["nordlicht"] = 0.5
    shown: list = []
    page.results_shown.connect(shown.append)
    for text in ("nordlicht", "lunch", "pay", "anna"):
        page.box.setText(text)
        page.run_search()
    qtbot.waitUntil(lambda: len(shown) == 1, timeout=3000)
    # At most the running query and the last one reached the engine; the ones between never
    # did (the first may be dropped before it starts).
    assert [q for q, _, _ in fake.searches()] in (["nordlicht", "anna"], ["anna"])
    assert shown[0].query == "anna" and shown_ids(page) == [2]
    assert page.stale_dropped == 1
    assert not page.busy.isVisible()


def test_thumbnail_cache_is_bounded() -> None:
    from ui.result_list import MAX_THUMBNAILS

    model = ResultsModel()
    for i in range(MAX_THUMBNAILS + 50):
        model.set_thumbnail(i, None)
    assert len(model._thumbs) == MAX_THUMBNAILS
    assert 0 not in model._thumbs and MAX_THUMBNAILS + 49 in model._thumbs


def test_typing_stays_debounced_after_a_filter_change(qtbot, page, fake) -> None:
    page.box.setText("invoice")
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        page.date_box.setCurrentIndex(2)  # a filter change searches at once
    before = len(fake.searches())
    qtbot.keyClicks(page.box, " 118")
    qtbot.wait(60)
    assert len(fake.searches()) == before  # still waiting for the typing to pause
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        pass
    assert [q for q, _, _ in fake.searches()[before:]] == ["invoice 118"]


def test_a_forget_action_in_the_viewer_refreshes_the_results(
    qtbot, page, fake, monkeypatch
) -> None:
    from ui import memory_viewer
    from ui.memory_viewer import ViewerAction

    def forget(viewer, m) -> None:  # type: ignore[no-untyped-def]
        fake.memories = [x for x in fake.memories if x.id != m.id]
        viewer.forgotten.emit(m.id)
        viewer.close()

    monkeypatch.setattr(memory_viewer, "VIEWER_ACTIONS", [ViewerAction("Forget this", forget)])
    page.box.setText("invoice")
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        page.run_search()
    viewer = page.open_memory(3)
    qtbot.waitSignal(viewer.loaded, timeout=2000).wait()
    with qtbot.waitSignal(page.results_shown, timeout=2000):
        viewer.action_buttons[0].click()
    assert shown_ids(page) == [1, 4]


def test_relative_time_reads_as_english() -> None:
    from ui.result_list import relative_time

    now = datetime(2026, 11, 21, 12, 0).timestamp()
    day = 86400.0
    assert relative_time(now - 8 * day, now) == "1 week ago"
    assert relative_time(now - 15 * day, now) == "2 weeks ago"
    assert relative_time(now - 3 * day, now) == "3 days ago"
