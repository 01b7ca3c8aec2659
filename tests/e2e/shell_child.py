"""Run by test_shell_on_display.py in its own process on a real X display with a tray: the app
shell is unlocked, locked and unlocked again, then Ctrl+Q is used on every page. Prints one JSON
line with what it saw."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from app.services import Services
from core.keys import TEST_KDF
from ui.controller import Controller

PASSPHRASE = "correct horse battery staple"


def main() -> int:
    data = Path(sys.argv[1])
    shot = sys.argv[2] if len(sys.argv) > 2 else ""
    s = Services(data)
    s.create(PASSPHRASE, kdf=TEST_KDF)
    s.close()
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    c = Controller(app, data, f"mnemo-shell-{os.getpid()}")
    c.start()
    seen: dict[str, object] = {"tray": QSystemTrayIcon.isSystemTrayAvailable()}

    def spin(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    def tray_shown() -> bool:
        return any(
            w.metaObject().className() == "QSystemTrayIconSys" and w.isVisible()
            for w in QApplication.topLevelWidgets()
        )

    def quit_action() -> QAction:
        assert c.main is not None
        return next(
            a for a in c.main.findChildren(QAction) if a.shortcut() == QKeySequence("Ctrl+Q")
        )

    def quit_from(page: str, after_ms: int) -> float | None:
        """Ctrl+Q on `page` after `after_ms` of the running event loop; None if it stayed."""
        assert c.main is not None
        c.main.show_page(page)
        c.main.bring_forward()
        stuck: list[bool] = []
        guard = QTimer()
        guard.setSingleShot(True)
        guard.timeout.connect(lambda: (stuck.append(True), app.exit(1)))
        guard.start(after_ms + 8_000)
        QTimer.singleShot(after_ms, quit_action().trigger)
        start = time.monotonic()
        app.exec()
        guard.stop()
        c._quitting = False
        return None if stuck else round(time.monotonic() - start - after_ms / 1000, 3)

    spin(1.0)
    c.services.unlock(PASSPHRASE)
    c._on_unlocked()
    # The user opens the chat and quits while the models are still loading.
    seen["quit_chat_soon_s"] = quit_from("Chat", 1500)
    spin(1.0)
    seen["tray_unlocked"] = tray_shown()
    c.lock()
    spin(1.0)
    seen["tray_locked"] = tray_shown()
    gate = c.gate
    assert gate is not None
    gate.passphrase.setText(PASSPHRASE)  # type: ignore[attr-defined]
    gate.button.click()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 20
    while c.main is None and time.monotonic() < deadline:
        spin(0.1)
    spin(1.0)
    seen["tray_relocked_unlocked"] = tray_shown()
    if shot:
        os.system(f"{os.environ.get('MNEMO_SCREENSHOT', 'true')} {shot}")
    assert c.main is not None
    seen["quit_s"] = {page: quit_from(page, 300) for page in [p.title for p in c.main.pages]}
    t0 = time.monotonic()
    c.tasks.wait(10_000)
    c.shutdown()
    seen["shutdown_s"] = round(time.monotonic() - t0, 3)
    print(json.dumps(seen), flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    # As main.py does after the app's shutdown: leave without Python's finalisation (native
    # libraries' static destructors then run with their threads still up, and can abort).
    sys.stdout.flush()
    os._exit(code)
