"""core.lanes: bounded named pools, cancels that call back, waiting for a job or a cancel."""

from __future__ import annotations

import threading
import time

import pytest

from core import lanes as lanes_module
from core.lanes import Cancel, Lane, Lanes, wait_either


def test_a_lane_runs_at_most_its_size_at_once_and_names_its_threads() -> None:
    lanes = Lanes({Lane.DATABASE: 2})
    inside = 0
    most = 0
    guard = threading.Lock()
    release = threading.Event()
    names: set[str] = set()

    def job() -> int:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
            names.add(threading.current_thread().name)
        release.wait(5)
        with guard:
            inside -= 1
        return 1

    futures = [lanes.submit(Lane.DATABASE, job, label="count") for _ in range(6)]
    time.sleep(0.2)
    assert most == 2 and len(lanes.busy(Lane.DATABASE)) == 6
    release.set()
    assert sum(f.result(5) for f in futures) == 6
    assert lanes.wait_idle(Lane.DATABASE, 5) and lanes.busy(Lane.DATABASE) == []
    assert most == 2
    assert names and all(n.startswith("mnemo-lane-database-") for n in names)


def test_errors_reach_the_future_and_the_lane_goes_on() -> None:
    lanes = Lanes()

    def boom() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError):
        lanes.submit(Lane.COMPUTE, boom).result(5)
    assert lanes.submit(Lane.COMPUTE, lambda: 7).result(5) == 7


def test_idle_lane_threads_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lanes_module, "IDLE_S", 0.1)
    lanes = Lanes()
    seen: list[threading.Thread] = []
    lanes.submit(Lane.LOAD, lambda: seen.append(threading.current_thread())).result(5)
    seen[0].join(5)
    assert not seen[0].is_alive()
    # and the lane starts a new one for the next job
    assert lanes.submit(Lane.LOAD, lambda: 3).result(5) == 3


def test_cancel_calls_back_once_and_at_once_when_already_set() -> None:
    cancel = Cancel()
    calls: list[str] = []
    cancel.on_set(lambda: calls.append("a"))
    remove = cancel.on_set(lambda: calls.append("removed"))
    remove()
    cancel.set()
    cancel.set()
    assert calls == ["a"] and cancel.is_set()
    cancel.on_set(lambda: calls.append("late"))
    assert calls == ["a", "late"]
    with pytest.raises(TypeError):
        cancel.clear()


def test_a_failing_callback_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    cancel = Cancel()
    calls: list[int] = []

    def bad() -> None:
        raise RuntimeError("x")

    cancel.on_set(bad)
    cancel.on_set(lambda: calls.append(1))
    cancel.set()
    assert calls == [1]
    assert "cancel callback failed" in caplog.text


def test_wait_either_returns_on_the_cancel_without_waiting_for_the_job() -> None:
    lanes = Lanes()
    release = threading.Event()
    slow = lanes.submit(Lane.LOAD, lambda: release.wait(10))
    cancel = Cancel()
    threading.Timer(0.1, cancel.set).start()
    t0 = time.monotonic()
    assert wait_either(slow, cancel) is False
    assert time.monotonic() - t0 < 2
    release.set()
    assert slow.result(5) is True


def test_wait_either_returns_when_the_job_ends() -> None:
    lanes = Lanes()
    cancel = Cancel()
    fut = lanes.submit(Lane.LOAD, lambda: 5)
    assert wait_either(fut, cancel) is True and fut.result() == 5
    plain = threading.Event()
    assert wait_either(lanes.submit(Lane.LOAD, lambda: 1), plain) is True
