"""Run the main window with the fake engine and a few thousand memories, for looking at the
search window on a virtual display: `python -m tests.ui.demo_app [--memories N]`. Uses a
throw-away data folder; not a test."""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--memories", type=int, default=3000)
    p.add_argument("--page", default="Search")
    args = p.parse_args()

    from PySide6.QtWidgets import QApplication

    from app import paths
    from app.services import Services
    from app.tasks import TaskRunner
    from core.keys import TEST_KDF
    from core.types import SearchFilters
    from tests.ui.fake_memory import (
        FakeMedia,
        FakeMemoryService,
        demo_memories,
        install_fake_memory,
    )
    from ui.main_window import MainWindow
    from ui.result_list import day_bounds

    app = QApplication(sys.argv[:1])
    app.setStyleSheet((paths.assets_dir() / "style.qss").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        services = Services(Path(tmp) / "data")
        services.create("demo passphrase for the screenshot", TEST_KDF)
        fake = FakeMemoryService(demo_memories(args.memories))
        # The real engine reads time words from the query; the fake knows a few.
        today = date.today()
        for word, first, last in (
            ("today", today, today),
            ("yesterday", today - timedelta(days=1), today - timedelta(days=1)),
            ("week", today - timedelta(days=7), today),
        ):
            fake.time_words[word] = SearchFilters(
                since=day_bounds(first)[0], until=day_bounds(last)[1]
            )
        install_fake_memory(services, fake)
        services.media = FakeMedia()  # type: ignore[attr-defined]
        tasks = TaskRunner()
        window = MainWindow(services, tasks, tray_available=False)
        window.quit_requested.connect(app.quit)
        window.show_page(args.page)
        window.show()
        window.move(40, 40)
        code = app.exec()
        tasks.wait()
        services.close()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
