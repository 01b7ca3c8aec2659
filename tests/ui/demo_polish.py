"""Screenshots of the desktop polish on a virtual display (not a test):

    /work/shared/tools/with-display -s 1920x1080 .venv/bin/python -m tests.ui.demo_polish OUT

A throw-away store with a few notes and an import; the wrong-passphrase dialog, Home, Import,
the Privacy app picker, the erase range with times, chat bubbles and Help are each shown and
saved as a PNG."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHOT = "/work/shared/tools/screenshot"
PASSPHRASE = "correct horse battery staple 42"


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    from PySide6.QtWidgets import QApplication

    from app import paths
    from app.services import Services
    from app.tasks import TaskRunner
    from core.keys import TEST_KDF
    from core.types import NewMemory
    from tests.fakes import FakeEmbedder
    from ui.about import AboutWindow
    from ui.chat_window import AnswerBubble, QuestionBubble
    from ui.main_window import MainWindow
    from ui.unlock import UnlockWindow, centre

    app = QApplication(sys.argv[:1])
    app.setStyleSheet((paths.assets_dir() / "style.qss").read_text(encoding="utf-8"))
    tmp = tempfile.TemporaryDirectory()
    services = Services(Path(tmp.name) / "data", embedder=FakeEmbedder())
    services.create(PASSPHRASE, TEST_KDF)
    services.lock()
    tasks = TaskRunner()
    holder: dict[str, object] = {}

    def shot(name: str) -> None:
        app.processEvents()
        time.sleep(0.3)
        app.processEvents()
        subprocess.run([SHOT, str(out / name)], check=False)
        print("saved", name, file=sys.stderr)

    def wrong() -> None:
        w = UnlockWindow(services, tasks)
        holder["unlock"] = w
        w.show()
        centre(w)
        w.passphrase.setText("not my passphrase")
        w.button.click()

    def unlocked() -> None:
        w = holder.pop("unlock")
        w.close()  # type: ignore[attr-defined]
        services.unlock(PASSPHRASE)
        assert services.memory is not None
        now = time.time()
        services.memory.add(
            [
                NewMemory(kind="note", text="The spare key is in the blue box", time=now - 600),
                NewMemory(kind="note", text="Dentist on Tuesday 10:30", time=now - 300),
            ]
            + [
                NewMemory(
                    kind="import:jsonl",
                    text=f"message {i} about the harbour cranes",
                    time=now - 3600 + i,
                    conversation="Harbour team",
                    external_id=f"m{i}",
                )
                for i in range(4)
            ]
        )
        win = MainWindow(services, tasks, tray_available=False)
        holder["win"] = win
        win.show()
        win.move(0, 0)
        win.show_page("Home")

    def page(name: str) -> None:
        win = holder["win"]
        win.show_page(name)  # type: ignore[attr-defined]

    def settings_tab(title: str) -> None:
        win = holder["win"]
        win.show_page("Settings")  # type: ignore[attr-defined]
        sp = win.page("Settings")  # type: ignore[attr-defined]
        for i in range(sp.tabs.count()):
            if sp.tabs.tabText(i).replace("&&", "&").startswith(title):
                sp.tabs.setCurrentIndex(i)

    def chat() -> None:
        win = holder["win"]
        win.show_page("Chat")  # type: ignore[attr-defined]
        chat_page = win.page("Chat")  # type: ignore[attr-defined]
        transcript = next(
            (w for w in chat_page.findChildren(object) if type(w).__name__ == "Transcript"), None
        )
        if transcript is None:
            return
        transcript.add(QuestionBubble("Where is the spare key?"), True)
        a = AnswerBubble(time.time)
        a.body.setPlainText("In the blue box in the hall [1].")
        transcript.add(a, False)
        transcript.add(
            QuestionBubble(
                "And when is the dentist appointment, and do I need to bring anything with me "
                "this time, like the insurance card?"
            ),
            True,
        )

    def about() -> None:
        w = AboutWindow(services, tasks, holder["win"])  # type: ignore[arg-type]
        holder["about"] = w
        w.show()

    steps = [
        (1.0, wrong),
        (6.0, lambda: shot("10-wrong-passphrase.png")),
        (6.5, unlocked),
        (9.0, lambda: shot("11-home.png")),
        (9.5, lambda: page("Import")),
        (11.0, lambda: shot("12-import.png")),
        (11.5, lambda: settings_tab("Privacy")),
        (13.0, lambda: shot("13-privacy.png")),
        (13.5, lambda: settings_tab("Storage")),
        (15.0, lambda: shot("14-storage-erase-range.png")),
        (15.5, chat),
        (17.5, lambda: shot("15-chat-bubbles.png")),
        (18.0, about),
        (20.0, lambda: shot("16-help-shortcuts.png")),
        (20.5, app.quit),
    ]

    from tests.ui.demo_timeline import run_steps

    run_steps(steps)
    code = app.exec()
    tasks.wait()
    services.close()
    tmp.cleanup()
    return code


if __name__ == "__main__":
    sys.exit(main())
