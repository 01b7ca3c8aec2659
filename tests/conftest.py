"""Test-wide guards: Qt runs offscreen unless a test starts its own display, and no test may
open a network connection (R21): any connect to an internet address fails loudly."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from PySide6.QtCore import QCoreApplication, QTimer

# A test that leaks a thread, a Qt timer or a logged warning fails (tests/leakguard.py).
pytest_plugins = ["tests.leakguard"]

# Property tests run the same examples every time (a CI run must not fail on a new random
# draw), with no per-example deadline (the machine may be busy).
settings.register_profile(
    "mnemo", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("mnemo")

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Tests must never touch the user's real data folder.
os.environ.pop("MNEMO_PASSPHRASE", None)
# Nor the real cache folder (the model's CPU-friendly copy goes there): one per test run, which
# child processes and the app under test inherit.
_CACHE = tempfile.mkdtemp(prefix="mnemo-test-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
attempts: list[object] = []


class NetworkBlocked(RuntimeError):
    pass


def _guard(sock: socket.socket, address: object) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        attempts.append(address)
        raise NetworkBlocked(f"test tried to connect to {address!r}")


def _connect(self: socket.socket, address: object) -> None:
    _guard(self, address)
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: object) -> int:
    _guard(self, address)
    return _real_connect_ex(self, address)


socket.socket.connect = _connect  # type: ignore[method-assign]
socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]


# QCoreApplication.exit() (the app's Quit; closing the unlock prompt with no tray) also makes
# every later QEventLoop.exec() in this process return at once, until the application's own
# exec() runs again: qtbot.waitSignal in a later test would then never see its signal. Which
# test runs next depends on the order (and on which pytest-xdist worker runs the file), so a
# test that asked Qt to exit has that undone when it ends.
_exits: list[int] = []
_real_exit = QCoreApplication.exit


def _recorded_exit(code: int = 0) -> None:
    _exits.append(code)
    _real_exit(code)


QCoreApplication.exit = staticmethod(_recorded_exit)  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _qt_exit_is_undone() -> Iterator[None]:
    yield
    if not _exits:
        return
    _exits.clear()
    app = QCoreApplication.instance()
    if app is not None:
        # The application's exec() clears the exit request on entry and on return.
        QTimer.singleShot(0, lambda: _real_exit(0))
        app.exec()
    _exits.clear()


@pytest.fixture(autouse=True)
def _no_real_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A test that forgets --data-dir writes into a throwaway folder, not the user's.
    monkeypatch.setenv("MNEMO_DATA_DIR", str(tmp_path_factory.mktemp("default-data")))
