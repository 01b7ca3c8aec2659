"""A test must clean up after itself: a thread it started that is still running after it ended,
a Qt timer it left ticking, or a warning logged by code it ran (not by the test expecting it)
fails the test.

- Threads: any thread started during the test and alive 2 s after its teardown.
- Timers: active QTimers (created from Python) still alive after a Qt test's teardown.
- Warnings: log records at WARNING or above during the test, unless the test takes `caplog`
  (it is then looking at them) or is marked `@pytest.mark.logs_warnings`.

The guard fails tests in the folders of ENFORCED (surveyed: their known leaks are listed in
KNOWN_LEAKS, test node id -> kinds, a list that may only shrink); elsewhere it is not yet on.
`MNEMO_LEAKS=report` lists every leak in `leaks.txt` instead of failing (to survey a suite),
`MNEMO_LEAKS=enforce` fails them everywhere.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

# Threads that live for the whole process by design, started by libraries on first use.
PROCESS_THREADS = ("QDBusConnection", "pydevd", "ThreadPoolExecutor", "asyncio_", "tqdm_monitor")
THREAD_GRACE_S = 2.0
ENFORCED: tuple[str, ...] = ()
KNOWN_LEAKS: dict[str, set[str]] = {}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "logs_warnings: the code under test logs warnings on purpose"
    )


def _new_threads(before: set[int]) -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t.ident not in before
        and t is not threading.current_thread()
        # Threads Python did not start (Qt's pool, whose idle threads expire on their own)
        # show up as dummies that never end.
        and not isinstance(t, threading._DummyThread)
        and not t.name.startswith(PROCESS_THREADS)
    ]


def _active_timers() -> list[Any]:
    try:
        import shiboken6
        from PySide6.QtCore import QTimer
    except ImportError:
        return []
    out = []
    for obj in gc.get_objects():
        # type(), not isinstance: isinstance reads __class__, which some library objects
        # (deprecated torch attributes) answer with a warning.
        if issubclass(type(obj), QTimer):
            try:
                if shiboken6.isValid(obj) and obj.isActive():
                    out.append(obj)
            except RuntimeError:
                pass
    return out


_STATE = pytest.StashKey[dict[str, Any]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    uses_qt = "qtbot" in getattr(item, "fixturenames", ())
    handler = _Records()
    logging.getLogger().addHandler(handler)
    item.stash[_STATE] = {
        "threads": {t.ident for t in threading.enumerate() if t.ident is not None},
        "timers": {id(t) for t in _active_timers()} if uses_qt else set(),
        "qt": uses_qt,
        "handler": handler,
    }
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    result = yield
    state = item.stash.get(_STATE, None)
    if state is None:
        return result
    handler: _Records = state["handler"]
    logging.getLogger().removeHandler(handler)
    leaks = _leaks(item, state, handler)
    if not leaks:
        return result
    mode = os.environ.get("MNEMO_LEAKS", "")
    if mode == "report":
        with open("leaks.txt", "a", encoding="utf-8") as f:
            for leak in leaks:
                f.write(f"{item.nodeid}\t{leak}\n")
        return result
    if mode != "enforce" and not item.nodeid.startswith(ENFORCED):
        return result
    raise AssertionError("leak guard (tests/leakguard.py): " + "; ".join(leaks))


def _leaks(item: pytest.Item, state: dict[str, Any], handler: _Records) -> list[str]:
    leaks: list[str] = []
    deadline = time.monotonic() + THREAD_GRACE_S
    threads = _new_threads(state["threads"])
    while threads and time.monotonic() < deadline:
        time.sleep(0.05)
        threads = [t for t in threads if t.is_alive()]
    if threads:
        leaks.append("thread: " + ", ".join(sorted(t.name for t in threads)))
    if state["qt"]:
        from PySide6.QtCore import QCoreApplication

        if QCoreApplication.instance() is not None:
            QCoreApplication.processEvents()
        timers = [t for t in _active_timers() if id(t) not in state["timers"]]
        if timers:
            names = sorted(
                {
                    f"{t.objectName() or type(t.parent()).__name__} every {t.interval()} ms"
                    for t in timers
                }
            )
            leaks.append("timer: " + ", ".join(names))
    expects = "caplog" in getattr(item, "fixturenames", ()) or item.get_closest_marker(
        "logs_warnings"
    )
    if handler.records and not expects:
        where = sorted({f"{r.name}:{r.levelname}" for r in handler.records})
        leaks.append("warning: " + ", ".join(where))
    known = KNOWN_LEAKS.get(item.nodeid, set())
    return [leak for leak in leaks if leak.split(":")[0] not in known]
