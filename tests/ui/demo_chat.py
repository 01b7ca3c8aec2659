"""Run the main window on its Chat page with the fake assistant (answers streamed with a small
delay, citing memories of the fake engine) and, optionally, ask a question by itself, for
looking at the chat on a virtual display: `python -m tests.ui.demo_chat [--ask TEXT]
[--open-citation]`. Uses a throw-away data folder; not a test."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--ask", default="")
    p.add_argument("--delay", type=float, default=0.06, help="seconds between streamed pieces")
    p.add_argument("--not-found", action="store_true", help="answer the question 'not found'")
    p.add_argument("--open-citation", action="store_true", help="then open the first source")
    p.add_argument("--then", default="", help="a follow-up question asked after the answer")
    p.add_argument(
        "--new",
        action="store_true",
        help="start a new conversation (Ctrl+N) before --then, which is answered 'not found'",
    )
    args = p.parse_args()

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app import paths
    from app.services import Services
    from app.tasks import TaskRunner
    from core.keys import TEST_KDF
    from core.types import CHAT, NOTE, SCREEN
    from tests.ui.fake_assistant import FakeAssistant, Scripted, Turn, citation, related
    from tests.ui.fake_memory import (
        FakeMedia,
        FakeMemoryService,
        demo_memories,
        install_fake_memory,
        memory,
    )
    from ui.chat_window import ChatPage
    from ui.main_window import MainWindow

    now = time.time()
    invoice = memory(
        90001,
        "Invoice 118 — ACME Hosting\nTotal due: 1,240.00 EUR\nDue date: Friday 27 November",
        now - 3 * 86400,
        SCREEN,
        app="thunderbird",
        title="Invoice 118 — ACME Hosting",
        media_id=77,
    )
    note = memory(90002, "Pay ACME before the 27th, from the business account", now - 2 * 86400)
    note.kind = NOTE
    renewal = memory(
        90003,
        "ACME Hosting — your plan renews on 1 December; invoices are sent 10 days before",
        now - 5 * 86400,
        SCREEN,
        app="thunderbird",
        title="ACME Hosting — plan renewal",
    )
    reminder = memory(90004, "Did the hosting invoice come yet?", now - 4 * 86400, CHAT)
    mems = [*demo_memories(300), invoice, note, renewal, reminder]
    cites = [
        citation(1, invoice.id, "Total due: 1,240.00 EUR", invoice.time, "screen", "thunderbird"),
        citation(2, note.id, note.text, note.time, "note", None),
    ]
    # Found with the sources, matching the question without holding the answer.
    near = [
        related(renewal.id, renewal.text, renewal.time, "screen", "thunderbird", renewal.title),
        related(reminder.id, reminder.text, reminder.time, "chat", None, None),
    ]
    answer = (
        "The ACME Hosting invoice (no. 118) came to **1,240.00 EUR** [1].\n\n"
        "- It is due on *Friday 27 November* [1].\n"
        "- Your note says to pay it from the `business` account [2]."
    )
    pieces = [w + " " for w in answer.split(" ")]
    script = (
        [Scripted(["I could not find that in your memories."], not_found=True)]
        if args.not_found
        else [Scripted(pieces, citations=cites, related=near)]
    )
    if args.new:
        script.append(Scripted(["I could not find that in your memories."], not_found=True))
    past = {
        1: (
            "Train to Lyon",
            [Turn("user", "When does my train to Lyon leave?", now - 86400 * 2, [])],
        ),
        2: ("Wi-Fi password at the office", [Turn("user", "office wifi?", now - 86400 * 5, [])]),
        3: ("What did Ana say about lunch", [Turn("user", "lunch?", now - 86400 * 9, [])]),
    }
    assistant = FakeAssistant(script, conversations=past, token_delay=args.delay)

    app = QApplication(sys.argv[:1])
    app.setStyleSheet((paths.assets_dir() / "style.qss").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        services = Services(Path(tmp) / "data")
        services.create("demo passphrase for the screenshot", TEST_KDF)
        install_fake_memory(services, FakeMemoryService(mems))
        services.media = FakeMedia()  # type: ignore[attr-defined]
        services.assistant = assistant  # type: ignore[attr-defined]
        tasks = TaskRunner()
        window = MainWindow(services, tasks, tray_available=False)
        window.quit_requested.connect(app.quit)
        window.show_page("Chat")
        window.show()
        window.move(40, 40)
        page = window.page("Chat")
        assert isinstance(page, ChatPage)
        if args.then:

            def follow_up(_: object) -> None:
                if page.chat.box.isEnabled() and not getattr(follow_up, "done", False):
                    follow_up.done = True  # type: ignore[attr-defined]
                    if args.new:
                        page.chat.new_conversation()
                    page.chat.box.setPlainText(args.then)
                    QTimer.singleShot(300, page.chat.send)

            page.chat.answered.connect(follow_up)
        if args.ask:

            def ask() -> None:
                page.chat.box.setPlainText(args.ask)
                page.chat.send()

            QTimer.singleShot(600, ask)
            if args.open_citation:

                def open_first(_: object) -> None:
                    bubble = page.chat.transcript.bubbles()[-1]
                    chips = getattr(bubble, "chip_buttons", [])
                    if chips:
                        QTimer.singleShot(400, chips[0].click)

                page.chat.answered.connect(open_first)
        code = app.exec()
        tasks.wait()
        services.close()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
