"""Qt tests run offscreen and fail on any Qt warning they did not expect; every background
task is finished before a test ends (no leaked worker threads)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt application exists

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QtMsgType

from app.tasks import TaskRunner

# Messages the offscreen platform prints for things it cannot do; not ours.
IGNORED_QT_MESSAGES = (
    "This plugin does not support",
    # The offscreen platform has no tray window; tests that pretend a tray exists see this.
    "QObject::connect: No such signal QPlatformNativeInterface::systemTrayWindowChanged",
)


@pytest.fixture(autouse=True)
def fail_on_qt_warnings(qtlog: object) -> Iterator[None]:
    yield
    bad = [
        r.message
        for r in qtlog.records  # type: ignore[attr-defined]
        if r.type in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg)
        and not r.message.startswith(IGNORED_QT_MESSAGES)
    ]
    assert not bad, f"unexpected Qt warnings: {bad}"


@pytest.fixture
def tasks(qtbot: object) -> Iterator[TaskRunner]:
    runner = TaskRunner()
    yield runner
    assert runner.wait(10_000), "background tasks still running at the end of the test"
    runner.cancel_all()
