"""A test must clean up after itself: a thread it started that is still running after it ended,
a Qt timer it left ticking, or a warning logged by code it ran (not by the test expecting it)
fails the test.

- Threads: any thread started during the test and alive 5 s after its teardown; lane threads
  (core.lanes) live for the process, so for them a job still running or waiting on the
  database, compute or model lane is the leak.
- Timers: active QTimers (created from Python) still alive after a Qt test's teardown.
- Warnings: log records at WARNING or above during the test, unless the test takes `caplog`
  (it is then looking at them) or is marked `@pytest.mark.logs_warnings`.

The guard fails tests in the folders of ENFORCED (all of them since the whole suite was
surveyed); the leaks seen then and not fixed yet are listed in KNOWN_LEAKS (test id -> kinds),
a list that may only shrink. Tests that log on purpose are in EXPECTED_WARNINGS or marked.
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
# Lane threads outlive their jobs (they end after core.lanes.IDLE_S without work); the load
# lane's one-shot loads of a model or an index (seconds on a busy machine, not interruptible)
# are not waited for by lock and quit and end on their own, so only the other lanes count.
LANE_THREADS = "mnemo-lane-"
THREAD_GRACE_S = 5.0  # generous: CI runs on two busy cores
ENFORCED: tuple[str, ...] = ("tests/",)
# Tests that log warnings or errors on purpose (they damage a store, kill the model, fill the
# disk): a test id, or a module's path for every test in it.
EXPECTED_WARNINGS: tuple[str, ...] = (
    "tests/reliability/test_r5_fuzz.py::",
    "tests/reliability/test_r5_damage_said.py::",
    "tests/core/test_vector_index.py::test_tampered_snapshot_is_rebuilt",
    "tests/core/test_vector_index.py::test_stale_snapshot_is_rebuilt",
    "tests/core/test_store.py::test_r5_",
    "tests/core/test_store.py::test_a_write_from_a_damage_listener",
    "tests/core/capture/test_backlog.py::test_a_damaged_frame_is_dropped_not_read",
    "tests/models/test_llm_host.py::test_killed_child_gives_a_clear_error",
    "tests/models/test_llm_host.py::test_complete_raises_model_stopped_when_the_child_dies",
    "tests/models/test_llm_host.py::test_child_has_no_secrets_and_a_hung_child_is_restarted",
    "tests/app/test_assistant_real.py::test_killed_model_mid_answer",
    "tests/app/test_capture_service.py::test_disk_full_pauses_and_resumes",
    "tests/app/test_capture_service.py::test_the_backlog_cap_drops_the_oldest_frames",
    "tests/ui/test_chat_window.py::test_a_bug_in_ask_goes_to_the_crash_dialog_path",
    "tests/ui/test_damage_banner.py::test_a_damaged_store_shows_a_read_only_banner",
)
# Leaks seen when the guard was turned on, not fixed yet: test id -> kinds. May only shrink.
KNOWN_LEAKS: dict[str, set[str]] = {
    # The model host is a module fixture: its threads live until the module's last test.
    "tests/app/test_assistant_real.py::test_factual_question_is_answered_with_the_right_citation": {
        "thread"
    },
    "tests/app/test_trust_answers_real.py::"
    "test_real_model_answers_the_flight_question_from_the_honest_lines": {"thread"},
    "tests/models/test_llm_host.py::test_generation_streams_tokens": {"thread"},
    # A store the MCP test's in-process part leaves open until the module ends.
    "tests/app/test_mcp_stdio.py::test_real_client_over_stdio": {"thread"},
}
KNOWN_LEAKS_AT_MOST = 4
assert len(KNOWN_LEAKS) <= KNOWN_LEAKS_AT_MOST, "KNOWN_LEAKS may only shrink"


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
        and not t.name.startswith((*PROCESS_THREADS, LANE_THREADS))
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
    from core.lanes import LANES, Lane

    for lane in (Lane.DATABASE, Lane.COMPUTE, Lane.MODEL):
        if not LANES.wait_idle(lane, max(0.0, deadline - time.monotonic())):
            leaks.append(f"lane job on {lane.value}: " + ", ".join(sorted(LANES.busy(lane))))
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
    expects = (
        "caplog" in getattr(item, "fixturenames", ())
        or item.get_closest_marker("logs_warnings")
        or item.nodeid.startswith(EXPECTED_WARNINGS)
    )
    if handler.records and not expects:
        where = sorted({f"{r.name}:{r.levelname}" for r in handler.records})
        leaks.append("warning: " + ", ".join(where))
    known = KNOWN_LEAKS.get(item.nodeid, set())
    return [leak for leak in leaks if leak.split(":")[0] not in known]
