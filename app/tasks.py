"""Background work for the GUI: operations on named lanes. Results, progress, streamed items
and errors come back on the GUI thread through queued signals; the GUI thread itself never runs
SQL, OCR, embedding or generation, and nothing polls.

- `op(work, on_done, ...)`: `work(ctx)` runs on a lane's worker; `ctx.cancelled()` says the
  result is no longer wanted, `ctx.progress(fraction, text)` reports progress, `ctx.emit(item)`
  streams items (tokens, rows) to `on_item`.
- `owner=widget`: every callback is dropped once the widget is gone (a page closed on lock).
- `key="search"`: newest wins. While an op with the same key (and owner) runs, a new one cancels
  it (its result is dropped) and waits; only the newest waiting op starts when it returns, so a
  slow engine is never handed a pile of outdated requests.
- Lanes (`core.lanes`): `database` (reads and writes through the store; a few threads, SQLite
  readers run side by side), `compute` (embedding, decoding pictures, one thread), `model` (the
  answer model, one thread: one generation at a time), `load` (one-shot model and index loads).
  The same lanes run the services' own background jobs, so every job of the process is counted
  in one place.
- `run(fn, on_done, on_error)`: the plain form, `fn()` on the database lane.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal, Slot

from core.errors import UserFacingError
from core.lanes import LANES, Cancel, Lane, Lanes

__all__ = ["Cancel", "Lane", "Op", "OpCancelled", "OpContext", "TaskRunner", "user_message"]

log = logging.getLogger(__name__)


class OpCancelled(Exception):
    """Raised by `ctx.check()` inside work whose result is no longer wanted; ends the op
    quietly (no callback runs)."""


class OpContext:
    """What an op's work function gets: cancellation, progress and a stream of items. Safe to
    use from the worker thread; everything it sends reaches the GUI thread queued."""

    def __init__(self, relay: _Relay) -> None:
        self._relay = relay
        self._cancel = Cancel()
        self._items: deque[Any] = deque()
        self._items_signalled = False
        self._lock = threading.Lock()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Stop here (quietly) if the op was cancelled."""
        if self._cancel.is_set():
            raise OpCancelled()

    @property
    def cancel_event(self) -> Cancel:
        """The event set on cancel, for engines that take one (the answer model): it also runs
        callbacks when set (`Cancel.on_set`), so an engine can stop at once."""
        return self._cancel

    def progress(self, fraction: float, text: str = "") -> None:
        if not self._cancel.is_set():
            self._relay.progressed.emit((max(0.0, min(1.0, fraction)), text))

    def emit(self, item: Any) -> None:
        """Stream one item to `on_item`. Items are batched: one queued signal is pending at a
        time, and the GUI takes every item that arrived by then in one go."""
        if self._cancel.is_set():
            return
        with self._lock:
            self._items.append(item)
            if self._items_signalled:
                return
            self._items_signalled = True
        self._relay.items_ready.emit()

    def _take_items(self) -> list[Any]:
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self._items_signalled = False
        return items


def user_message(err: BaseException, fallback: str) -> str:
    """What a widget says about an op's error: a user-facing error's own message, which says
    what to do; for a bug, `fallback` (the bug itself reaches the log and the crash dialog)."""
    return str(err) if isinstance(err, UserFacingError) else fallback


class Op:
    """A handle on a submitted operation."""

    def __init__(self, ctx: OpContext, key: tuple[int, str] | None) -> None:
        self._ctx = ctx
        self.key = key
        self.finished = False

    def cancel(self) -> None:
        """The result is no longer wanted: callbacks are dropped, `ctx.cancelled()` turns true."""
        self._ctx._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._ctx.cancelled()


class _Relay(QObject):
    """Lives on the GUI thread; its signals are emitted from a worker, so the connected slots
    (methods of this object) run queued on the GUI thread."""

    done = Signal(object)
    failed = Signal(object)
    progressed = Signal(object)
    items_ready = Signal()

    def __init__(
        self,
        runner: TaskRunner,
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[BaseException], None] | None,
        on_progress: Callable[[float, str], None] | None,
        on_item: Callable[[list[Any]], None] | None,
        owner: QObject | None,
        on_dropped: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.on_dropped = on_dropped
        self.runner = runner
        self.on_done = on_done
        self.on_error = on_error
        self.on_progress = on_progress
        self.on_item = on_item
        self.owner = owner
        self.ctx = OpContext(self)
        self.op = Op(self.ctx, None)
        self.done.connect(self._finished)
        self.failed.connect(self._failed)
        self.progressed.connect(self._progressed)
        self.items_ready.connect(self._items)

    def _wanted(self) -> bool:
        if self.ctx.cancelled():
            return False
        return self.owner is None or shiboken6.isValid(self.owner)

    def _end(self, wanted: bool) -> None:
        self.op.finished = True
        self.runner._ended(self)
        if not wanted and self.on_dropped is not None:
            self.on_dropped()

    @Slot()
    def _items(self) -> None:
        items = self.ctx._take_items()
        if items and self.on_item is not None and self._wanted():
            self.on_item(items)

    @Slot(object)
    def _progressed(self, value: tuple[float, str]) -> None:
        if self.on_progress is not None and self._wanted():
            self.on_progress(*value)

    @Slot(object)
    def _finished(self, result: Any) -> None:
        self._items()  # items emitted just before the end arrive before on_done
        wanted = self._wanted()
        self._end(wanted)
        if wanted and self.on_done is not None:
            self.on_done(result)

    @Slot(object)
    def _failed(self, err: BaseException) -> None:
        wanted = self._wanted() and not isinstance(err, OpCancelled)
        self._end(wanted)
        if not wanted:
            if not self.ctx.cancelled() and not isinstance(err, (OpCancelled, UserFacingError)):
                # The owner is gone, but a bug is never silent (one error path).
                self.runner.bug.emit("".join(traceback.format_exception(err)))
            return
        if self.on_error is not None:
            # The caller puts its widget right (and shows a user-facing error as such); a bug
            # also goes to the crash dialog: handling an error is never hiding one.
            self.on_error(err)
            if not isinstance(err, UserFacingError):
                self.runner.bug.emit("".join(traceback.format_exception(err)))
        elif isinstance(err, UserFacingError):
            self.runner.user_error.emit(str(err))
        else:
            self.runner.bug.emit("".join(traceback.format_exception(err)))


class _Job:
    """One op's work on a lane thread; its outcome goes to the relay as a queued signal."""

    def __init__(self, work: Callable[[OpContext], Any], relay: _Relay) -> None:
        self.work = work
        self.relay = relay
        self.ended = threading.Event()  # set by the runner once it no longer counts the job

    def run(self) -> None:
        ctx = self.relay.ctx
        if ctx.cancelled():
            self.relay.failed.emit(OpCancelled())
            return
        try:
            result = self.work(ctx)
        except OpCancelled as e:
            self.relay.failed.emit(e)
        except BaseException as e:  # reported on the GUI thread
            if not isinstance(e, UserFacingError) and not ctx.cancelled():
                log.error("background task failed:\n%s", traceback.format_exc())
            self.relay.failed.emit(e)
        else:
            self.relay.done.emit(result)


class TaskRunner(QObject):
    """Runs operations on lanes; callbacks run on the GUI thread. Uncaught bugs go to `bug`
    (the crash dialog) and user-facing errors to `user_error` when no on_error is given."""

    bug = Signal(str)
    user_error = Signal(str)

    def __init__(
        self,
        max_threads: int | None = None,
        parent: QObject | None = None,
        *,
        lanes: Lanes | None = None,
    ) -> None:
        """Ops run on the process's lanes, or (a test's `max_threads`) on lanes of their own
        with that many database threads."""
        super().__init__(parent)
        if lanes is None:
            lanes = LANES if max_threads is None else Lanes({Lane.DATABASE: max_threads})
        self.lanes = lanes
        self._jobs: set[_Job] = set()  # submitted and not ended (for wait)
        self._jobs_lock = threading.Lock()
        self._relays: set[_Relay] = set()
        # Newest wins: per key, the running op and the newest one waiting for it.
        self._running: dict[tuple[int, str], _Relay] = {}
        self._waiting: dict[tuple[int, str], tuple[_Relay, Lane, Callable[[OpContext], Any]]] = {}

    def op(
        self,
        work: Callable[[OpContext], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        *,
        lane: Lane = Lane.DATABASE,
        owner: QObject | None = None,
        key: str | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        on_item: Callable[[list[Any]], None] | None = None,
        on_dropped: Callable[[], None] | None = None,
    ) -> Op:
        """`on_dropped` runs (on the GUI thread) when an op that was handed to a lane ends
        unwanted: cancelled, replaced by a newer one with its key, or its owner gone."""
        relay = _Relay(self, on_done, on_error, on_progress, on_item, owner, on_dropped)
        self._relays.add(relay)
        if key is not None:
            full = (id(owner) if owner is not None else 0, key)
            relay.op.key = full
            running = self._running.get(full)
            if running is not None:
                running.op.cancel()
                stale = self._waiting.pop(full, None)
                if stale is not None:
                    stale[0].op.cancel()
                    self._relays.discard(stale[0])
                self._waiting[full] = (relay, lane, work)
                return relay.op
            self._running[full] = relay
        self._start(lane, work, relay)
        return relay.op

    def _start(self, lane: Lane, work: Callable[[OpContext], Any], relay: _Relay) -> None:
        job = _Job(work, relay)
        with self._jobs_lock:
            self._jobs.add(job)

        def run() -> None:
            try:
                job.run()
            finally:
                with self._jobs_lock:
                    self._jobs.discard(job)
                job.ended.set()

        self.lanes.submit(lane, run, label=f"op on {lane.value}")

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        *,
        owner: QObject | None = None,
        lane: Lane = Lane.DATABASE,
    ) -> Op:
        """`fn()` on a lane; with `owner`, the callbacks are dropped once it is gone."""
        return self.op(lambda _ctx: fn(), on_done, on_error, owner=owner, lane=lane)

    def _ended(self, relay: _Relay) -> None:
        self._relays.discard(relay)
        key = relay.op.key
        if key is None or self._running.get(key) is not relay:
            return
        del self._running[key]
        waiting = self._waiting.pop(key, None)
        if waiting is not None:
            nxt, lane, work = waiting
            self._running[key] = nxt
            self._start(lane, work, nxt)

    def busy(self, key: str, owner: QObject | None = None) -> bool:
        """Whether an op with this key (and owner) is running or waiting."""
        return (id(owner) if owner is not None else 0, key) in self._running

    def cancel_all(self) -> None:
        """Every op's result is no longer wanted (the app is quitting or locking)."""
        for relay in list(self._relays):
            relay.op.cancel()
        self._waiting.clear()

    def wait(self, msecs: int = 30_000) -> bool:
        """Wait for this runner's submitted ops to end (at most msecs in all)."""
        deadline = time.monotonic() + msecs / 1000
        while True:
            with self._jobs_lock:
                job = next(iter(self._jobs), None)
            if job is None:
                return True
            if not job.ended.wait(max(0.0, deadline - time.monotonic())):
                return False
