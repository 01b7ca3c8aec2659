"""The Qt binding itself: PySide6 6.12.0 drops a reference to True on every `Signal.emit()`
(the bool it returns is borrowed, not owned), so after a few hundred background tasks
(app.tasks emits once per task) Python aborts with "bool_dealloc: deallocating True or
False". requirements/mnemo.in excludes that version; this test catches a binding that has it."""

from __future__ import annotations

import sys

import PySide6
from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    changed = Signal(str)


def test_signal_emit_keeps_reference_counts_intact() -> None:
    emitter = _Emitter()
    emitter.changed.connect(lambda _: None)
    before = sys.getrefcount(True)
    for _ in range(50):
        emitter.changed.emit("x")
    lost = before - sys.getrefcount(True)
    if lost > 0:  # give them back so this process does not abort at exit
        import ctypes

        for _ in range(lost):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    assert lost <= 0, (
        f"PySide6 {PySide6.__version__} loses a reference to True per Signal.emit ({lost} in 50); "
        "install the locked version: make setup"
    )
