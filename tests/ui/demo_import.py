"""Show the main window's Import page after importing sample exports (real store, fake
embedder), for looking at it on a virtual display:
`python -m tests.ui.demo_import OUT.png [--viewer]`. Uses a throw-away data folder; not a test."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

FIX = Path(__file__).parents[1] / "fixtures" / "imports"


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else "import_page.png"
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app import paths
    from app.services import Services
    from app.tasks import TaskRunner
    from core.keys import TEST_KDF
    from tests.fakes import FakeEmbedder
    from ui.import_page import ImportPage, accept_drops_on
    from ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    app.setStyleSheet((paths.assets_dir() / "style.qss").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        services = Services(Path(tmp) / "data", embedder=FakeEmbedder())
        services.create("demo passphrase for the screenshot", TEST_KDF)
        tasks = TaskRunner()
        window = MainWindow(services, tasks, tray_available=False)
        accept_drops_on(window)
        window.show()
        window.show_page("Import")
        page = window.page("Import")
        assert isinstance(page, ImportPage)

        def shoot() -> None:
            if "--viewer" in sys.argv:
                items = [
                    page.conversations.topLevelItem(i)
                    for i in range(page.conversations.topLevelItemCount())
                ]
                page._open_conversation(next(i for i in items if i.text(0).startswith("Trip")))
                QTimer.singleShot(1500, lambda: snap())
            else:
                snap()

        def snap() -> None:
            tool = "/work/shared/tools/screenshot"
            subprocess.run([sys.executable, tool, out], check=False)
            app.quit()

        page.finished.connect(lambda _r: QTimer.singleShot(1500, shoot))
        page.start(
            [
                FIX / "chatgpt" / "conversations.json",
                FIX / "whatsapp" / "WhatsApp Chat with Ana María.txt",
                FIX / "telegram" / "result.json",
                FIX / "notes",
                FIX / "malformed" / "truncated_chatgpt.json",
            ]
        )
        app.exec()
        tasks.wait(10_000)
        services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
