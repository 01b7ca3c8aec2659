"""Background work for the GUI: one task runner on a thread pool. Results and errors come back
on the GUI thread through signals; the GUI thread itself never runs SQL, OCR, embedding or
generation."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from core.errors import UserFacingError

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Lives on the GUI thread; its signals are emitted from a worker, so the connected slots
    (methods of this object) run queued on the GUI thread."""

    done = Signal(object)
    failed = Signal(object)

    def __init__(
        self,
        runner: TaskRunner,
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[BaseException], None] | None,
    ) -> None:
        super().__init__()
        self.runner = runner
        self.on_done = on_done
        self.on_error = on_error
        self.done.connect(self._finished)
        self.failed.connect(self._failed)

    @Slot(object)
    def _finished(self, result: Any) -> None:
        self.runner._relays.discard(self)
        if self.on_done is not None:
            self.on_done(result)

    @Slot(object)
    def _failed(self, err: BaseException) -> None:
        self.runner._relays.discard(self)
        if self.on_error is not None:
            self.on_error(err)
        elif isinstance(err, UserFacingError):
            self.runner.user_error.emit(str(err))
        else:
            self.runner.bug.emit("".join(traceback.format_exception(err)))


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.fn = fn
        self.relay = relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn()
        except BaseException as e:  # reported on the GUI thread
            if not isinstance(e, UserFacingError):
                log.error("background task failed:\n%s", traceback.format_exc())
            self.relay.failed.emit(e)
        else:
            self.relay.done.emit(result)


class TaskRunner(QObject):
    """`run(fn, on_done, on_error)`: fn runs on a worker; the callbacks run on the GUI thread.
    Uncaught bugs go to `bug` (the crash dialog) when no on_error is given."""

    bug = Signal(str)
    user_error = Signal(str)

    def __init__(self, max_threads: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._relays: set[_Relay] = set()

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        relay = _Relay(self, on_done, on_error)
        self._relays.add(relay)
        self.pool.start(_Job(fn, relay))

    def wait(self, msecs: int = 30_000) -> bool:
        return self.pool.waitForDone(msecs)
