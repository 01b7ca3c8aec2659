"""Python's cyclic garbage collector, run on the GUI thread only.

Left automatic, a collection runs in whichever thread happens to allocate past the threshold:
after unlock that is usually the worker importing the embedding engine, which allocates
hundreds of thousands of objects. A Qt object caught in a reference cycle is then destroyed
on that worker, while the GUI thread may be using it, which Qt does not allow (its objects
belong to their thread). A rare crash of the real app looked exactly like this: the GUI
thread inside Qt's event loop, a worker in the middle of `import torch`. So the app turns the
automatic collector off and collects on a GUI-thread timer, with CPython's own thresholds, and
reference counting still frees everything that is not in a cycle at once, in any thread."""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    """Create it on the GUI thread; `stop` gives the collector back to the interpreter."""

    def __init__(self, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__()
        self._was_enabled = gc.isenabled()
        self.thresholds = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> int:
        """Collect the generations past their threshold, youngest first, as CPython does;
        returns how many objects were unreachable."""
        count = gc.get_count()
        found = 0
        if count[0] > self.thresholds[0]:
            found += gc.collect(0)
            if count[1] > self.thresholds[1]:
                found += gc.collect(1)
                if count[2] > self.thresholds[2]:
                    found += gc.collect(2)
        return found

    def stop(self) -> None:
        self.timer.stop()
        if self._was_enabled:
            gc.enable()
