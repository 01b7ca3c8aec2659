"""Show Settings → Connected apps with three apps (one allowed that has read and written, one
waiting to be allowed, one cut off), for looking at it on a virtual display:
`python -m tests.ui.demo_connected_apps OUT.png`. Uses a throw-away data folder; not a test."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app import paths
    from app.clients_service import ClientsService
    from app.services import Services
    from app.tasks import TaskRunner
    from core import clients as cl
    from core.keys import TEST_KDF
    from core.types import SCREEN, NewMemory
    from tests.fakes import FakeEmbedder
    from ui.connected_apps import ConnectedAppsPanel
    from ui.main_window import MainWindow

    out = sys.argv[1] if len(sys.argv) > 1 else "connected_apps.png"
    app = QApplication(sys.argv[:1])
    app.setStyleSheet((paths.assets_dir() / "style.qss").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        services = Services(Path(tmp) / "data", embedder=FakeEmbedder(dim=32))
        services.create("demo passphrase for the screenshot", TEST_KDF)
        assert services.memory is not None and services.memory.wait_ready(30)
        now = services.clock.now()
        services.memory.add(
            [
                NewMemory(kind=SCREEN, text=f"Quarterly report draft {i}", time=now - i * 600,
                          app="libreoffice", title="report.odt")
                for i in range(8)
            ]
        )  # fmt: skip
        gate = ClientsService(services)
        scope = cl.Scope(
            excluded_apps=("thunderbird", "signal"),
            excluded_ranges=cl.parse_ranges("2026-11-02/2026-11-06"),
            may_write=True,
        )
        _, token = gate.allow("claude-desktop", scope)
        client = gate.connect("claude-desktop", token, "Claude Desktop")
        gate.search(client, "quarterly report")
        gate.remember(client, "The user wants the report finished by Friday.")
        _, token = gate.allow("code-agent", cl.Scope(readable=frozenset({cl.SCREENS})))
        gate.cut_off("code-agent")
        try:
            gate.connect("notes-helper", None, "Notes Helper 0.3")
        except cl.ClientRefused:
            pass  # it asked; it now waits for the user
        tasks = TaskRunner()
        window = MainWindow(services, tasks, tray_available=False)
        window.resize(1200, 860)
        window.show()
        window.show_page("Settings")
        page = window.page("Settings")
        page.show_section("connected")  # type: ignore[union-attr]

        def shoot() -> None:
            subprocess.run([sys.executable, "/work/shared/tools/screenshot", out], check=True)
            app.quit()

        panel = window.findChild(ConnectedAppsPanel)
        assert panel is not None
        if "--pick" in sys.argv:
            wanted = sys.argv[sys.argv.index("--pick") + 1]

            def pick() -> None:
                for row in range(panel.list.count()):
                    if panel.list.item(row).text().split()[1] == wanted:
                        panel.list.setCurrentRow(row)

            QTimer.singleShot(1200, pick)
        QTimer.singleShot(2500, shoot)
        app.exec()
        tasks.wait(10_000)
        services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
