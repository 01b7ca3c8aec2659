"""The retention check in the app: on unlock and every hour, erase what the storage settings
(maximum age, maximum size) say must go, on the task runner (app.erase_service does the work)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from app.tasks import TaskRunner

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000


class RetentionScheduler(QObject):
    """`enforce()` returns a sentence for the user when it erased something, else None."""

    finished = Signal(str)

    def __init__(self, tasks: TaskRunner, enforce: Callable[[], str | None]) -> None:
        super().__init__()
        self.tasks = tasks
        self.enforce = enforce
        self._running = False
        self.timer = QTimer(self)
        self.timer.setInterval(HOUR_MS)
        self.timer.timeout.connect(self.tick)

    def start(self) -> None:
        self.timer.start()
        QTimer.singleShot(0, self, self.tick)  # at unlock too, not an hour later

    def stop(self) -> None:
        self.timer.stop()

    def tick(self) -> None:
        if self._running or not self.timer.isActive():
            return
        self._running = True

        def done(result: object) -> None:
            self._running = False
            if isinstance(result, str):
                self.finished.emit(result)

        def failed(err: BaseException) -> None:
            self._running = False
            log.warning("retention check failed: %s", type(err).__name__)

        self.tasks.run(self.enforce, done, failed)
