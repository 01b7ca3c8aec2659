"""Show Settings → Storage & erasure with a month of synthetic memories, for looking at it on a
virtual display: `python -m tests.ui.demo_storage OUT.png [--preview]`. Uses a throw-away data
folder; not a test."""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app import paths
    from app.services import Services
    from app.tasks import TaskRunner
    from core.keys import TEST_KDF
    from core.types import SCREEN, NewMemory
    from tests.fakes import FakeEmbedder
    from ui.erase_ui import StoragePanel
    from ui.main_window import MainWindow

    out = sys.argv[1] if len(sys.argv) > 1 else "storage.png"
    app = QApplication(sys.argv[:1])
    app.setStyleSheet((paths.assets_dir() / "style.qss").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        services = Services(Path(tmp) / "data", embedder=FakeEmbedder(dim=32))
        services.create("demo passphrase for the screenshot", TEST_KDF)
        assert services.memory is not None and services.memory.wait_ready(30)
        services.settings.set("storage.max_gb", 5.0)
        services.settings.set("storage.max_age_days", 365)
        rng = random.Random(3)
        apps = ["Firefox", "Slack", "Code", "Terminal", "Thunderbird", "Signal", "Zoom",
                "LibreOffice", "Spotify", "Files", "Calendar", "Notes"]  # fmt: skip
        now = services.clock.now()
        batch = []
        for day in range(30):
            for i in range(rng.randint(20, 160) if day % 7 not in (5, 6) else rng.randint(0, 30)):
                app_name = apps[min(int(rng.expovariate(0.35)), len(apps) - 1)]
                t = now - day * 86400 - rng.random() * 36000
                text = f"{app_name} screen {day} {i} w{rng.random()}"
                batch.append(NewMemory(kind=SCREEN, text=text, time=t, app=app_name))
        batch += [NewMemory(kind="chat", text=f"chat {i}", time=now - i * 3000) for i in range(120)]
        services.memory.add(batch)
        tasks = TaskRunner()
        window = MainWindow(services, tasks, tray_available=False)
        window.resize(1100, 900)
        window.show()
        window.show_page("Settings")
        page = window.page("Settings")
        page.show_section("storage")  # type: ignore[union-attr]
        panel = window.findChild(StoragePanel)

        def shoot() -> None:
            if "--preview" in sys.argv and panel.flow.box is None:
                panel.kind.setCurrentIndex(1)
                panel.app_box.setCurrentIndex(panel.app_box.findData("Slack"))
                panel.preview_button.click()
                QTimer.singleShot(1500, shoot2)
                return
            shoot2()

        def shoot2() -> None:
            subprocess.run([sys.executable, "/work/shared/tools/screenshot", out], check=True)
            app.quit()

        QTimer.singleShot(2500, shoot)
        app.exec()
        tasks.wait(10_000)
        services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
