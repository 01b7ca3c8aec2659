"""Quitting and change announcements in the app shell: Ctrl+Q leaves from every page even
when the main window hides to the tray instead of closing, and a change announced from a
worker thread always reaches the windows."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.services import Changes
from core.keys import TEST_KDF
from tests.storehelp import PASSPHRASE
from ui.controller import Controller
from ui.main_window import MainWindow


@pytest.fixture(autouse=True)
def _runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


def _unlocked_controller(tmp_path: Path, tray: bool) -> Controller:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    c = Controller(app, tmp_path / "data", f"mnemo-test-quit-{os.getpid()}")
    c.tray_available = tray  # the offscreen platform has no tray; the window believes there is
    c.services.create(PASSPHRASE, TEST_KDF)
    c._on_unlocked()
    return c


def _quit_action(main: MainWindow) -> QAction:
    for action in main.findChildren(QAction):
        if action.shortcut() == QKeySequence("Ctrl+Q"):
            return action
    raise AssertionError("the main window has no Ctrl+Q action")


def test_ctrl_q_leaves_the_event_loop_from_every_page(qtbot: QtBot, tmp_path: Path) -> None:
    """Qt 6's quit() asks every window to close and gives up when one refuses; the main window
    refuses when a tray exists (closing hides it to the tray), so Ctrl+Q used to leave the
    process running with no window."""
    c = _unlocked_controller(tmp_path, tray=True)
    app = QApplication.instance()
    assert isinstance(app, QApplication) and c.main is not None
    main = c.main
    titles = [p.title for p in main.pages]
    assert "Chat" in titles and len(titles) >= 5
    elapsed: dict[str, float] = {}
    try:
        main.show()
        for title in titles:
            main.show_page(title)
            gave_up: list[bool] = []
            timer = QTimer()
            timer.setSingleShot(True)
            timer.timeout.connect(lambda g=gave_up: (g.append(True), app.exit(1)))
            timer.start(5_000)  # a safety net: the loop must have ended long before this
            QTimer.singleShot(50, _quit_action(main).trigger)
            start = time.monotonic()
            code = app.exec()
            elapsed[title] = time.monotonic() - start
            timer.stop()
            assert not gave_up, f"Ctrl+Q on the {title} page did not leave the event loop"
            assert code == 0
            c._quitting = False  # the same controller is reused for the next page
        assert max(elapsed.values()) < 3.0, elapsed
    finally:
        c.tasks.wait(10_000)
        c.shutdown()
        main.hide()
        main.deleteLater()


def test_shutdown_does_not_wait_for_a_long_task(qtbot: QtBot, tmp_path: Path) -> None:
    """A task that is still running when the user quits (a long search, an answer) gets the
    locked store instead of holding the exit for as long as it runs."""
    c = _unlocked_controller(tmp_path, tray=False)
    main = c.main
    assert main is not None
    started = threading.Event()

    def long_query() -> None:
        started.set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            c.services.require_memory()  # raises StoreLocked once shutdown closed the store
            time.sleep(0.01)

    c.tasks.run(long_query, None, lambda err: None)
    assert started.wait(5)
    t0 = time.monotonic()
    c.shutdown()
    took = time.monotonic() - t0
    assert c.tasks.wait(5_000)
    main.hide()
    main.deleteLater()
    assert took < 3.0, f"shutdown took {took:.1f} s"


def test_changes_announced_from_worker_threads_are_never_lost(qtbot: QtBot, tmp_path: Path) -> None:
    """Changes used to land in a list that the GUI copied and then cleared; a change appended
    between the two was lost. Now each one travels as a queued signal."""
    c = _unlocked_controller(tmp_path, tray=False)
    main = c.main
    assert main is not None
    seen: list[int] = []
    main.refresh = lambda changes=None: seen.append(changes.memories_added if changes else 0)  # type: ignore[method-assign]
    threads, per_thread = 6, 400

    def announce() -> None:
        for _ in range(per_thread):
            c.services.announce(Changes(memories_added=1))

    workers = [threading.Thread(target=announce) for _ in range(threads)]
    try:
        for w in workers:
            w.start()
        # The GUI keeps flushing while the workers announce.
        qtbot.waitUntil(lambda: sum(seen) == threads * per_thread, timeout=20_000)
        for w in workers:
            w.join(5)
        qtbot.wait(400)
        assert sum(seen) == threads * per_thread
        assert len(seen) < threads * per_thread  # bursts are coalesced, not one refresh each
    finally:
        c.tasks.wait(10_000)
        c.shutdown()
        main.hide()
        main.deleteLater()


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_thread_or_a_slot_reaches_the_log_and_the_dialog(
    qtbot: QtBot, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ui.controller as controller_module

    dialogs: list[str] = []
    monkeypatch.setattr(
        controller_module, "show_bug", lambda _parent, details: dialogs.append(details)
    )
    c = _unlocked_controller(tmp_path, tray=False)
    main = c.main
    assert main is not None
    c.install_excepthooks()
    try:

        def broken_worker() -> None:
            raise RuntimeError("a bug in a raw thread")

        t = threading.Thread(target=broken_worker, name="test-broken-worker")
        t.start()
        t.join(5)
        qtbot.waitUntil(lambda: len(dialogs) == 1, timeout=5_000)
        assert "a bug in a raw thread" in dialogs[0]

        def broken_slot() -> None:
            raise ValueError("a bug in a slot")

        QTimer.singleShot(0, broken_slot)
        qtbot.waitUntil(lambda: len(dialogs) == 2, timeout=5_000)
        assert "a bug in a slot" in dialogs[1]
        logged = [r for r in caplog.records if r.getMessage() == "unhandled error"]
        assert len(logged) == 2 and all(r.exc_info for r in logged)
    finally:
        c.remove_excepthooks()
        c.tasks.wait(10_000)
        c.shutdown()
        main.hide()
        main.deleteLater()


def test_ctrl_q_quits_within_3_s_while_an_answer_streams_and_ocr_reads_a_frame(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """The done-when of the shell: Ctrl+Q from the Chat page ends the event loop and the
    shutdown within 3 s although an answer is streaming on the model lane and the capture
    worker is inside OCR (which cannot be interrupted)."""
    from app.capture_config import CaptureSettings
    from app.capture_service import CaptureService
    from core.interfaces import OcrBox, WindowInfo
    from core.lanes import Lane
    from tests.app.fake_llm import FakeHost
    from tests.app.test_capture_service import FakeGrabber
    from tests.capture_fakes import BlockingOcr, FakeWindowContext

    c = _unlocked_controller(tmp_path, tray=True)
    app = QApplication.instance()
    assert isinstance(app, QApplication) and c.main is not None
    main = c.main
    services = c.services
    services.add_note("Ana moved to Lisbon in May to start a new job at the harbour.")
    services.llm_host = FakeHost(lambda _m: " ".join(["word"] * 5000), delay=0.02)
    assistant = services.assistant
    assert assistant is not None
    assistant.phrase_with_model = True

    box = OcrBox(20, 40, 120, 16, "quarterly planning meeting", 0.99)
    ocr = BlockingOcr([box])
    in_ocr, release = ocr.entered, ocr.release
    grabber = FakeGrabber()
    grabber.draw(box)
    window = WindowInfo("gedit", "notes.txt - gedit", 0, 0, 250, 300, None, True)
    capture = CaptureService(
        services,
        grabber_factory=lambda: grabber,
        context_factory=lambda: FakeWindowContext([window]),
        ocr=ocr,
        free_bytes=lambda: 10**12,
    )
    services.capture = capture
    tokens: list[str] = []
    streaming = threading.Event()

    def on_items(items: list[str]) -> None:
        tokens.extend(items)
        streaming.set()

    try:
        capture._running = True
        capture._open_devices()
        capture._start_threads(loop=False)
        capture._tick(CaptureSettings.read(services.settings.get))
        assert in_ocr.wait(10), "the frame never reached OCR"
        c.tasks.op(
            lambda ctx: assistant.ask("Where did Ana move to?", None, ctx.emit, ctx.cancel_event),
            lane=Lane.MODEL,
            on_item=on_items,
        )
        qtbot.waitUntil(lambda: len(tokens) > 5, timeout=10_000)
        main.show()
        main.show_page("Chat")
        safety = QTimer()
        safety.setSingleShot(True)
        safety.timeout.connect(lambda: app.exit(1))
        safety.start(10_000)
        QTimer.singleShot(50, _quit_action(main).trigger)
        start = time.monotonic()
        code = app.exec()
        c.shutdown()
        took = time.monotonic() - start
        safety.stop()
        assert code == 0
        assert took < 3.0, f"Ctrl+Q with an answer streaming and OCR running took {took:.1f} s"
        assert len(tokens) < 5000  # the answer was stopped, not streamed to its end
    finally:
        release.set()
        c.tasks.wait(10_000)
        main.hide()
        main.deleteLater()
