"""The app's cyclic garbage collection runs on the GUI thread: a Qt object in a reference
cycle is destroyed there, never on a worker that happens to allocate."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QObject

from ui.collector import GuiThreadCollector


class _Cyclic(QObject):
    def __init__(self, died_on: list[str]) -> None:
        super().__init__()
        self.myself = self  # only the cycle keeps it alive once dropped
        self.died_on = died_on

    def __del__(self) -> None:
        self.died_on.append(threading.current_thread().name)


def _drop_one(died_on: list[str]) -> None:
    _Cyclic(died_on)


def _allocate_on_a_worker() -> list[list[int]]:
    """What a worker importing a large library does: many container objects that it keeps
    (as modules keep theirs), well past the youngest generation's threshold."""
    kept: list[list[int]] = []

    def churn() -> None:
        kept.extend([i] for i in range(20 * gc.get_threshold()[0]))

    worker = threading.Thread(target=churn, name="worker")
    worker.start()
    worker.join()
    return kept


@pytest.fixture
def collector(qapp: object) -> Iterator[GuiThreadCollector]:
    gc.collect()
    c = GuiThreadCollector()
    try:
        yield c
    finally:
        c.stop()


def test_without_it_a_worker_destroys_the_qt_object(qapp: object) -> None:
    """The hazard the collector exists for (so the next test can fail)."""
    assert gc.isenabled()
    gc.collect()
    died_on: list[str] = []
    _drop_one(died_on)
    kept = _allocate_on_a_worker()
    assert died_on == ["worker"] and kept


def test_with_it_the_gui_thread_destroys_the_qt_object(collector: GuiThreadCollector) -> None:
    assert not gc.isenabled()
    died_on: list[str] = []
    _drop_one(died_on)
    kept = _allocate_on_a_worker()
    assert died_on == []  # the worker's allocations collected nothing
    assert collector.check() > 0
    assert died_on == [threading.main_thread().name] and kept


def test_the_timer_collects_and_stop_gives_collection_back(qtbot: object) -> None:
    gc.collect()
    c = GuiThreadCollector(interval_ms=20)
    died_on: list[str] = []
    try:
        _drop_one(died_on)
        kept = _allocate_on_a_worker()
        qtbot.waitUntil(lambda: died_on != [], timeout=5000)  # type: ignore[attr-defined]
        assert died_on == [threading.main_thread().name] and kept
    finally:
        c.stop()
    assert gc.isenabled() and not c.timer.isActive()
