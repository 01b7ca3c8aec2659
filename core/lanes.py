"""Every background job Mnemo runs goes through a named lane: a small pool of daemon threads
with a fixed size, so what runs, and how much of it at once, is decided in one place.

- `database`: reads and writes through the store (SQLite readers run side by side).
- `compute`: embedding, decoding pictures (one thread: CPU work never competes with itself).
- `model`: the answer model (one thread: one generation at a time).
- `load`: one-shot loads that take seconds and cannot be interrupted (the embedding model, the
  answer model, the vector index, an MCP client's unlock). Kept apart so a load never blocks
  the lane that waits for it (an answer on the model lane waits for the model's load).

`LANES.submit(lane, fn)` returns a `concurrent.futures.Future`. Threads start on demand and
end after `IDLE_S` without work. A `Cancel` is a `threading.Event` that also runs callbacks
when set, so code that must react to a cancel (stop a generation) does so at once instead of
polling; `wait_either` waits for a job or a cancel, whichever comes first.

The GUI's `app.tasks.TaskRunner` runs its operations on these lanes and brings results back
to the GUI thread. The capture loop (its own grab and read threads, paced by the screen), the
store's writer and the vector index's writer are the only other threads, each owned by the
object whose state it guards.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from enum import StrEnum
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

THREAD_PREFIX = "mnemo-lane-"
IDLE_S = 30.0  # a lane thread with nothing to do for this long ends


class Lane(StrEnum):
    DATABASE = "database"
    COMPUTE = "compute"
    MODEL = "model"
    LOAD = "load"


LANE_THREADS: dict[Lane, int] = {Lane.DATABASE: 4, Lane.COMPUTE: 1, Lane.MODEL: 1, Lane.LOAD: 4}


class Cancel(threading.Event):
    """An event that also calls back when set (once, on the setting thread). Code that can stop
    at once registers what to do (`on_set`); code that checks between steps uses `is_set()`."""

    def __init__(self) -> None:
        super().__init__()
        self._guard = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def set(self) -> None:
        with self._guard:
            if self.is_set():
                return
            super().set()
            callbacks, self._callbacks = self._callbacks, []
        for cb in callbacks:
            _call(cb)

    def clear(self) -> None:
        raise TypeError("a Cancel cannot be taken back: make a new one")

    def on_set(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` when this is set (now, if it already is). Returns a function that
        unregisters it."""
        with self._guard:
            if not self.is_set():
                self._callbacks.append(callback)

                def remove() -> None:
                    with self._guard:
                        if callback in self._callbacks:
                            self._callbacks.remove(callback)

                return remove
        _call(callback)
        return lambda: None


def _call(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:
        log.exception("a cancel callback failed")


def wait_either(future: Future[Any], cancel: threading.Event) -> bool:
    """Block until `future` is done (True) or `cancel` is set (False), without polling. A plain
    `threading.Event` cannot wake anyone: then this waits for the future."""
    if not isinstance(cancel, Cancel):
        future.exception()  # waits; the caller takes the result or the error
        return True
    woken = threading.Event()
    future.add_done_callback(lambda _f: woken.set())
    remove = cancel.on_set(woken.set)
    try:
        woken.wait()
    finally:
        remove()
    return future.done()


class _Pool:
    def __init__(self, lane: Lane, threads: int) -> None:
        self.lane = lane
        self.size = max(1, threads)
        self._cond = threading.Condition()
        self._jobs: deque[tuple[Future[Any], Callable[[], Any], str]] = deque()
        self._threads: set[threading.Thread] = set()
        self._idle = 0
        self._running: dict[int, str] = {}  # thread ident -> label of the job it runs
        self._serial = 0

    def submit(self, fn: Callable[[], T], label: str) -> Future[T]:
        future: Future[T] = Future()
        with self._cond:
            self._jobs.append((future, fn, label))
            if len(self._jobs) > self._idle and len(self._threads) < self.size:
                self._serial += 1
                t = threading.Thread(
                    target=self._work,
                    name=f"{THREAD_PREFIX}{self.lane.value}-{self._serial}",
                    daemon=True,
                )
                self._threads.add(t)
                t.start()
            else:
                self._cond.notify()
        return future

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                while not self._jobs:
                    self._idle += 1
                    woke = self._cond.wait(IDLE_S)
                    self._idle -= 1
                    if not woke and not self._jobs:
                        self._threads.discard(me)
                        return
                future, fn, label = self._jobs.popleft()
                self._running[me.ident or 0] = label
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        result = fn()
                    except BaseException as e:  # handed to whoever holds the future
                        future.set_exception(e)
                    else:
                        future.set_result(result)
            finally:
                with self._cond:
                    self._running.pop(me.ident or 0, None)
                    self._cond.notify_all()

    def busy(self) -> list[str]:
        with self._cond:
            return list(self._running.values()) + [label for _f, _fn, label in self._jobs]

    def wait_idle(self, timeout: float | None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and not self._running, timeout)


class Lanes:
    """A set of lanes (the process has one, `LANES`; a test may make its own)."""

    def __init__(self, threads: dict[Lane, int] | None = None) -> None:
        sizes = {**LANE_THREADS, **(threads or {})}
        self._pools = {lane: _Pool(lane, sizes[lane]) for lane in Lane}

    def submit(self, lane: Lane, fn: Callable[[], T], *, label: str = "") -> Future[T]:
        """Run `fn()` on a thread of `lane`; `label` names the job in leak reports."""
        return self._pools[lane].submit(fn, label or getattr(fn, "__qualname__", "job"))

    def busy(self, lane: Lane) -> list[str]:
        """Labels of the jobs running or waiting on `lane`."""
        return self._pools[lane].busy()

    def wait_idle(self, lane: Lane, timeout: float | None = None) -> bool:
        return self._pools[lane].wait_idle(timeout)

    def size(self, lane: Lane) -> int:
        return self._pools[lane].size


LANES = Lanes()
