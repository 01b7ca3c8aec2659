"""The timeline page against the fake engine: the day's histogram, listing an hour, moving
between days, opening a memory."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from PySide6.QtCore import QPoint, Qt

from core.types import NOTE, SCREEN
from tests.ui.fake_memory import FakeMemoryService, StubServices, memory
from ui.timeline_page import TimelinePage

NOW = datetime(2026, 11, 20, 18, 0).timestamp()
DAY = date(2026, 11, 20)


def at(hour: int, minute: int = 0, day: int = 20) -> float:
    return datetime(2026, 11, day, hour, minute).timestamp()


@pytest.fixture
def fake() -> FakeMemoryService:
    return FakeMemoryService(
        [
            memory(1, "standup notes", at(9, 5), NOTE),
            memory(2, "budget sheet", at(9, 40), SCREEN, app="libreoffice", title="Budget"),
            memory(3, "train tickets", at(14, 10), SCREEN, app="firefox", title="Tickets"),
            memory(4, "yesterday's thing", at(11, 0, day=19), NOTE),
        ]
    )


@pytest.fixture
def page(qtbot, tasks, fake):  # type: ignore[no-untyped-def]
    p = TimelinePage(StubServices(fake), tasks, now=lambda: NOW)  # type: ignore[arg-type]
    qtbot.addWidget(p)
    p.resize(900, 640)
    p.show()
    return p


def test_day_histogram_and_the_latest_busy_hour_listed(qtbot, page) -> None:
    with qtbot.waitSignal(page.hour_listed, timeout=2000) as listed:
        page.refresh()
    assert page.day == DAY
    counts = page.chart.counts
    assert len(counts) == 24 and counts[9] == 2 and counts[14] == 1 and sum(counts) == 3
    assert listed.args == [14]
    assert page.chart.selected == 14
    assert [r.id for r in page.model.rows] == [3]
    assert page.hour_label.text() == "14:00–15:00 · 1 memory"
    assert page.day_summary.text() == "3 memories this day"
    assert not page.next_button.isEnabled()  # no browsing into the future


def test_clicking_an_hour_lists_its_memories_newest_first(qtbot, page, fake) -> None:
    with qtbot.waitSignal(page.hour_listed, timeout=2000):
        page.refresh()
    centre = page.chart.bar_rect(9).center()
    with qtbot.waitSignal(page.hour_listed, timeout=2000) as listed:
        qtbot.mouseClick(
            page.chart, Qt.MouseButton.LeftButton, pos=QPoint(int(centre.x()), int(centre.y()))
        )
    assert listed.args == [9]
    assert [r.id for r in page.model.rows] == [2, 1]
    since, until, _ = next(a for n, a in reversed(fake.calls) if n == "list_between")
    assert (since, until) == (at(9), at(10))
    # Left/Right on the chart walk the hours.
    page.chart.setFocus()
    with qtbot.waitSignal(page.hour_listed, timeout=2000) as listed:
        qtbot.keyClick(page.chart, Qt.Key.Key_Right)
    assert listed.args == [10]
    assert page.message.text() == "Nothing was remembered in this hour."


def test_alt_left_goes_to_the_previous_day(qtbot, page) -> None:
    with qtbot.waitSignal(page.hour_listed, timeout=2000):
        page.refresh()
    page.chart.setFocus()
    with qtbot.waitSignal(page.hour_listed, timeout=2000) as listed:
        qtbot.keyClick(page.chart, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert page.day == date(2026, 11, 19)
    assert page.date_edit.date().toPython() == date(2026, 11, 19)
    assert listed.args == [11]
    assert [r.id for r in page.model.rows] == [4]
    assert page.next_button.isEnabled()
    with qtbot.waitSignal(page.day_shown, timeout=2000) as shown:
        page.step_day(-5)
    assert shown.args == [date(2026, 11, 14)]
    assert page.message.text() == "Nothing was remembered on this day."
    assert page.model.rowCount() == 0


def test_enter_opens_the_memory(qtbot, page) -> None:
    with qtbot.waitSignal(page.hour_listed, timeout=2000):
        page.refresh()
    page.chart.setFocus()
    qtbot.keyClick(page.chart, Qt.Key.Key_Down)  # from the chart into the list
    assert page.focusWidget() is page.list
    with qtbot.waitSignal(page.viewer_opened, timeout=1000) as opened:
        qtbot.keyClick(page.list, Qt.Key.Key_Return)
    viewer = opened.args[0]
    with qtbot.waitSignal(viewer.loaded, timeout=2000):
        pass
    assert viewer.memory.id == 3
    assert viewer.text.toPlainText() == "train tickets"
    assert viewer.heading.text() == "Tickets"
    viewer.close()


def test_today_marks_the_hours_still_to_come(qtbot, page) -> None:
    with qtbot.waitSignal(page.day_shown, timeout=2000):
        page.refresh()
    assert page.chart.future_from == 19  # NOW is 18:00; the 18:00 hour has begun
    with qtbot.waitSignal(page.day_shown, timeout=2000):
        page.step_day(-1)
    assert page.chart.future_from is None
