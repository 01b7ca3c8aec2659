"""The desktop app: display check, single instance, first run or unlock, then the main window
and the tray. Locking closes the store and puts the unlock window back in front."""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from pathlib import Path

from app import paths
from app.display import display_problem
from app.logging_setup import setup_logging

log = logging.getLogger(__name__)


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="mnemo", add_help=False)
    p.add_argument("--data-dir")
    p.add_argument(
        "--tray", action="store_true", help="start in the tray (used when starting at login)"
    )
    args, _ = p.parse_known_args(argv)
    return args


def instance_name(data_dir: str) -> str:
    return "mnemo-" + hashlib.sha256(data_dir.encode("utf-8")).hexdigest()[:16]


def _keep_crash_stacks(data_dir: Path) -> None:
    """A hard crash (a signal from native code) writes every thread's Python stack, file and
    function names only, to crash.log beside the log (stderr before the first run)."""
    import faulthandler

    target = sys.stderr
    if data_dir.exists():
        try:
            folder = paths.log_dir(data_dir)
            folder.mkdir(parents=True, exist_ok=True)
            target = open(folder / "crash.log", "a", encoding="utf-8")  # noqa: SIM115 (kept open)
        except OSError:
            log.warning("crash.log could not be opened; crash stacks go to stderr")
    if target is not None:
        faulthandler.enable(file=target, all_threads=True)


def run_gui(argv: list[str]) -> int:
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 3
    args = _parse(argv)
    data_dir = paths.data_dir(args.data_dir)

    from PySide6.QtNetwork import QLocalSocket
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Mnemo")
    app.setDesktopFileName("mnemo")
    app.setQuitOnLastWindowClosed(False)
    style = paths.assets_dir() / "style.qss"
    if style.exists():
        app.setStyleSheet(style.read_text(encoding="utf-8"))

    name = instance_name(str(data_dir))
    probe = QLocalSocket()
    probe.connectToServer(name)
    if probe.waitForConnected(300):
        probe.write(b"show\n")
        probe.flush()
        probe.waitForBytesWritten(300)
        probe.disconnectFromServer()
        print("mnemo: already running; its window was brought forward.", file=sys.stderr)
        return 0

    if data_dir.exists():
        setup_logging(paths.log_dir(data_dir))
    _keep_crash_stacks(data_dir)
    from ui.collector import GuiThreadCollector
    from ui.controller import Controller

    collector = GuiThreadCollector()  # Qt objects in cycles die on the GUI thread
    controller = Controller(app, data_dir, name, start_in_tray=args.tray)
    controller.install_excepthooks()
    controller.start()
    code = app.exec()
    controller.shutdown()
    controller.remove_excepthooks()
    collector.stop()
    return int(code)
