"""The chat window with the fake assistant: streaming, Stop, citations that open the memory,
safe Markdown, past conversations, errors, and the question box while busy."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QGuiApplication

from core.errors import UserFacingError
from core.lanes import LANES, Lane
from core.types import CHAT, SCREEN
from tests.ui.fake_assistant import FakeAssistant, Scripted, Turn, citation, related
from tests.ui.fake_memory import FakeMemoryService, memory
from ui import chat_window
from ui.chat_window import AnswerBubble, ChatPanel, QuestionBubble, SafeTextBrowser, render_markdown

NOW = datetime(2026, 11, 20, 18, 0).timestamp()


class Services:
    """The slice of app.services.Services the chat uses."""

    def __init__(self, assistant: object, memory: object = None, unlocked: bool = True) -> None:
        self.assistant = assistant
        self.memory = memory
        self.media = None
        self.unlocked = unlocked


MEMORIES = [
    memory(41, "Total due: 1,240 EUR\nInvoice 118", NOW - 7200, SCREEN, app="firefox"),
    memory(42, "Lunch with Ana moved to Friday", NOW - 86400, CHAT, author="Ana"),
]
INVOICE = Scripted(
    ["The invoice ", "total was ", "**1,240 EUR** [1]", ", due Friday [2]."],
    citations=[
        citation(1, 41, "Total due: 1,240 EUR", NOW - 7200, app="firefox"),
        citation(2, 42, "Lunch with Ana moved to Friday", NOW - 86400, "chat", app=None),
    ],
)


def make_panel(qtbot, tasks, assistant, mems=MEMORIES, **kw):  # type: ignore[no-untyped-def]
    services = Services(assistant, FakeMemoryService(list(mems)), **kw)
    panel = ChatPanel(services, tasks, now=lambda: NOW)
    qtbot.addWidget(panel)
    panel.resize(900, 640)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def ask(qtbot, panel, question: str) -> None:  # type: ignore[no-untyped-def]
    panel.box.setFocus()
    qtbot.keyClicks(panel.box, question)
    qtbot.keyClick(panel.box, Qt.Key.Key_Return)


def answers(panel: ChatPanel) -> list[AnswerBubble]:
    return [b for b in panel.transcript.bubbles() if isinstance(b, AnswerBubble)]


def shown(bubble: AnswerBubble) -> str:
    return bubble.body.document().toPlainText()


def finish(qtbot, panel):  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not panel.busy, timeout=3000)


# -- streaming -------------------------------------------------------------------------------
def test_tokens_appear_progressively_and_the_box_is_disabled_while_busy(qtbot, tasks) -> None:
    step = threading.Semaphore(0)
    fake = FakeAssistant([INVOICE], step=step)
    panel = make_panel(qtbot, tasks, fake)
    ask(qtbot, panel, "how much was the invoice?")
    assert panel.busy
    assert not panel.box.isEnabled() and not panel.send_button.isVisible()
    assert panel.stop_button.isVisible()
    assert panel.box.toPlainText() == ""
    bubbles = panel.transcript.bubbles()
    assert isinstance(bubbles[0], QuestionBubble)
    assert bubbles[0].label.text() == "how much was the invoice?"
    bubble = answers(panel)[0]
    step.release()
    qtbot.waitUntil(lambda: "The invoice" in shown(bubble), timeout=2000)
    assert "total was" not in shown(bubble)
    assert panel.status.text() == "Answering…"
    step.release()
    qtbot.waitUntil(lambda: "total was" in shown(bubble), timeout=2000)
    assert "1,240" not in shown(bubble)
    assert panel.busy and not panel.box.isEnabled()
    step.release(2)
    finish(qtbot, panel)
    assert shown(bubble) == "The invoice total was 1,240 EUR [1], due Friday [2]."
    assert "<b>1,240 EUR</b>" in render_markdown(bubble.text)
    assert panel.box.isEnabled() and panel.send_button.isEnabled()
    assert not panel.stop_button.isVisible()
    assert bubble.note.text().startswith("2 sources")
    assert panel.conversation_id is not None
    assert fake.asked() == [("how much was the invoice?", None)]


def test_a_burst_of_pieces_is_drawn_in_a_few_coalesced_updates(qtbot, tasks) -> None:
    fake = FakeAssistant([Scripted([f"w{i} " for i in range(400)])])
    panel = make_panel(qtbot, tasks, fake)
    ask(qtbot, panel, "many tokens")
    finish(qtbot, panel)
    assert shown(answers(panel)[0]).startswith("w0 w1 w2") and "w399" in shown(answers(panel)[0])
    assert panel.renders < 40  # 400 pieces, a handful of redraws


def test_enter_sends_shift_enter_adds_a_line_and_empty_is_not_sent(qtbot, tasks) -> None:
    fake = FakeAssistant([Scripted(["ok"])])
    panel = make_panel(qtbot, tasks, fake)
    panel.box.setFocus()
    qtbot.keyClick(panel.box, Qt.Key.Key_Return)
    qtbot.keyClicks(panel.box, "   ")
    qtbot.keyClick(panel.box, Qt.Key.Key_Return)
    assert not panel.busy and fake.asked() == []
    panel.box.clear()
    qtbot.keyClicks(panel.box, "first line")
    qtbot.keyClick(panel.box, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(panel.box, "second")
    assert panel.box.toPlainText() == "first line\nsecond"
    assert not panel.busy
    qtbot.keyClick(panel.box, Qt.Key.Key_Enter)
    finish(qtbot, panel)
    assert fake.asked() == [("first line\nsecond", None)]


# -- stop ------------------------------------------------------------------------------------
def test_stop_cancels_shows_stopped_at_once_and_the_window_recovers(qtbot, tasks) -> None:
    fake = FakeAssistant(
        [Scripted(["and ", "on "], endless=True), Scripted(["Second answer."])],
        token_delay=0.01,
    )
    panel = make_panel(qtbot, tasks, fake)
    ask(qtbot, panel, "go on forever")
    bubble = answers(panel)[0]
    qtbot.waitUntil(lambda: "and on" in shown(bubble), timeout=2000)
    # The disabled box gave the focus to Stop, so Esc lands inside the chat.
    assert panel.focusWidget() is panel.stop_button
    qtbot.keyClick(panel.stop_button, Qt.Key.Key_Escape)
    # At once, before the worker has even noticed:
    assert bubble.state == "stopped" and bubble.note.text() == "Stopped"
    assert panel.status.text() == "Stopped."
    frozen = shown(bubble)
    finish(qtbot, panel)
    assert fake.cancel_seen
    qtbot.wait(120)  # late pieces would have been drawn by now
    assert shown(bubble) == frozen
    assert panel.box.isEnabled()
    ask(qtbot, panel, "again")
    finish(qtbot, panel)
    assert shown(answers(panel)[1]) == "Second answer."
    assert fake.asked()[1] == ("again", panel.conversation_id)


def test_the_stop_button_stops_too(qtbot, tasks) -> None:
    fake = FakeAssistant([Scripted(["x "], endless=True)], token_delay=0.01)
    panel = make_panel(qtbot, tasks, fake)
    ask(qtbot, panel, "q")
    qtbot.waitUntil(lambda: "x" in shown(answers(panel)[0]), timeout=2000)
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    assert answers(panel)[0].note.text() == "Stopped"
    finish(qtbot, panel)
    assert fake.cancel_seen and panel.send_button.isVisible()


# -- citations -------------------------------------------------------------------------------
def test_citation_chips_and_numbers_open_the_viewer_on_the_right_memory(qtbot, tasks) -> None:
    fake = FakeAssistant([INVOICE])
    panel = make_panel(qtbot, tasks, fake)
    ask(qtbot, panel, "invoice?")
    finish(qtbot, panel)
    bubble = answers(panel)[0]
    chips = bubble.chip_buttons
    assert [c.text() for c in chips] == ["[1] firefox · 2 h ago", "[2] Chat · yesterday"]
    with qtbot.waitSignal(panel.viewer_opened) as opened:
        qtbot.mouseClick(chips[1], Qt.MouseButton.LeftButton)
    viewer = opened.args[0]
    with qtbot.waitSignal(viewer.loaded, timeout=2000) as loaded:
        pass
    assert viewer.memory_id == 42 and loaded.args[0].text == "Lunch with Ana moved to Friday"
    qtbot.wait(20)  # the viewer scrolls to the memory on its next turn of the event loop
    viewer.close()
    # The [1] in the text is a link of ours to the same place.
    with qtbot.waitSignal(panel.viewer_opened) as opened:
        bubble.body.anchorClicked.emit(QUrl("cite:1"))
    assert opened.args[0].memory_id == 41
    qtbot.waitSignal(opened.args[0].loaded, timeout=2000).wait()
    qtbot.wait(20)
    opened.args[0].close()


PAINTING = Scripted(
    ["Total due: ", "1,240 EUR [1]"],
    citations=[citation(1, 41, "Total due: 1,240 EUR", NOW - 7200, app="firefox")],
    related=[related(42, "Lunch with Ana moved to Friday", NOW - 86400, "chat", app=None)],
)


def most_common_colour(bubble, chip) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """The colour most of a chip is drawn in, as it shows on its bubble."""
    from collections import Counter

    from PySide6.QtCore import QPoint, QRect

    img = bubble.grab(QRect(chip.mapTo(bubble, QPoint(0, 0)), chip.size())).toImage()
    seen = Counter(
        img.pixelColor(x, y).getRgb()[:3] for x in range(img.width()) for y in range(img.height())
    )
    return seen.most_common(1)[0][0]


def test_related_memories_are_a_quieter_row_apart_that_opens_the_memory(qtbot, tasks) -> None:
    from app import paths

    fake = FakeAssistant([PAINTING])
    panel = make_panel(qtbot, tasks, fake)
    panel.setStyleSheet((paths.assets_dir() / "style.qss").read_text(encoding="utf-8"))
    ask(qtbot, panel, "invoice?")
    finish(qtbot, panel)
    bubble = answers(panel)[0]
    # The citation is the only source; the related memory is in its own row, with no [n].
    assert [c.text() for c in bubble.chip_buttons] == ["[1] firefox · 2 h ago"]
    assert [c.text() for c in bubble.related_buttons] == ["Chat · yesterday"]
    assert bubble.related_box.isVisible() and bubble.related_label.text() == "Related"
    (chip,) = bubble.related_buttons
    assert chip.objectName() == "relatedChip" != bubble.chip_buttons[0].objectName()
    assert chip.toolTip().startswith(f"<qt>{chat_window.RELATED_TOOLTIP}<br>")
    assert "Lunch with Ana moved to Friday" in chip.toolTip()
    assert bubble.note.text().startswith("1 source ·")  # a related memory is not counted
    assert bubble.related_box.y() > bubble.chips_box.y()  # under the citation chips
    # Drawn in another style: the citation chip is white, the related one the bubble's grey.
    assert most_common_colour(bubble, bubble.chip_buttons[0]) == (255, 255, 255)
    assert most_common_colour(bubble, chip) == (0xF3, 0xF5, 0xF9)
    with qtbot.waitSignal(panel.viewer_opened) as opened:
        qtbot.mouseClick(chip, Qt.MouseButton.LeftButton)
    viewer = opened.args[0]
    with qtbot.waitSignal(viewer.loaded, timeout=2000) as loaded:
        pass
    assert viewer.memory_id == 42 and loaded.args[0].text == "Lunch with Ana moved to Friday"
    qtbot.wait(20)
    viewer.close()


def test_an_answer_without_related_memories_has_no_related_row(qtbot, tasks) -> None:
    panel = make_panel(qtbot, tasks, FakeAssistant([INVOICE]))
    ask(qtbot, panel, "invoice?")
    finish(qtbot, panel)
    bubble = answers(panel)[0]
    assert bubble.related_buttons == [] and not bubble.related_box.isVisible()


def test_a_past_conversation_shows_its_citations_and_no_related_row(qtbot, tasks) -> None:
    # Related memories are not stored with an answer: reopened, the answer has its citations.
    fake = FakeAssistant([PAINTING], now=lambda: NOW)
    panel = make_panel(qtbot, tasks, fake)
    ask(qtbot, panel, "invoice?")
    finish(qtbot, panel)
    assert answers(panel)[0].related_buttons
    cid = panel.conversation_id
    panel.new_conversation()
    with qtbot.waitSignal(panel.conversation_loaded, timeout=2000):
        panel.open_conversation(cid)
    (bubble,) = answers(panel)
    assert [c.text() for c in bubble.chip_buttons] == ["[1] firefox · 2 h ago"]
    assert bubble.related_buttons == [] and not bubble.related_box.isVisible()


def test_a_chip_names_the_window_the_user_saw_not_the_process() -> None:
    from ui.chat_window import chip_label

    shown = citation(1, 41, "Total amount: 23.80 EUR", NOW - 30, app="python", title="Mail - Inbox")
    assert chip_label(shown, NOW) == "[1] Mail - Inbox · just now"
    long = citation(
        2, 42, "x", NOW - 30, title="Your invoice #4411 from Hetzner Online - Mozilla Firefox"
    )
    label = chip_label(long, NOW)
    assert label.startswith("[2] Your invoice #4411 from") and "…" in label
    assert (
        chip_label(citation(3, 43, "x", NOW - 30, app="firefox"), NOW) == "[3] firefox · just now"
    )


def test_chip_tooltips_and_labels_keep_memory_text_plain(qtbot, tasks) -> None:
    evil = citation(1, 41, "<img src=http://x/a.png><b>bold</b>", NOW - 30, app="A&B <i>")
    fake = FakeAssistant([Scripted(["See [1]."], citations=[evil])])
    panel = make_panel(qtbot, tasks, fake)
    ask(qtbot, panel, "q")
    finish(qtbot, panel)
    chip = answers(panel)[0].chip_buttons[0]
    assert chip.text() == "[1] A&&B <i> · just now"  # && shows one '&'
    assert "&lt;img src=http://x/a.png&gt;" in chip.toolTip()
    assert "<img" not in chip.toolTip()


# -- safe markdown ---------------------------------------------------------------------------
HOSTILE = (
    "Here: <img src=http://x> and ![x](http://evil/?q=data)\n\n"
    "<script>alert(1)</script> [click](http://evil/steal) <a href='http://evil'>a</a>\n"
    '<style>body{background:url("http://evil/bg")}</style> **ok** [1]'
)


def test_hostile_markup_in_an_answer_is_shown_as_text_and_nothing_is_fetched(qtbot, tasks) -> None:
    fake = FakeAssistant([Scripted([HOSTILE], citations=[citation(1, 41, "s", NOW)])])
    panel = make_panel(qtbot, tasks, fake)
    ask(qtbot, panel, "q")
    finish(qtbot, panel)
    bubble = answers(panel)[0]
    text = shown(bubble)
    assert "<img src=http://x>" in text
    assert "![x](http://evil/?q=data)" in text
    assert "<script>alert(1)</script>" in text
    assert "click (http://evil/steal)" in text
    assert "<a href='http://evil'>a</a>" in text
    html_out = render_markdown(HOSTILE)
    assert "<img" not in html_out and "<script" not in html_out and "<style" not in html_out
    assert html_out.count("<a ") == 1 and '<a href="cite:1"' in html_out
    assert bubble.body.refused == []  # nothing was even asked for
    # And were a tag ever to get through, the browser still loads nothing and follows nothing.
    bubble.body.setHtml('<img src="http://evil/x.png"><a href="http://evil/">go</a>')
    qtbot.waitUntil(lambda: "http://evil/x.png" in bubble.body.refused, timeout=2000)
    assert not bubble.body.openLinks() and not bubble.body.openExternalLinks()
    with qtbot.assertNotEmitted(bubble.body.cite_clicked):
        bubble.body.anchorClicked.emit(QUrl("http://evil/"))
    assert bubble.body.source().isEmpty()


def test_the_renderer_handles_light_markdown() -> None:
    out = render_markdown(
        "# Plan\nFirst **bold** and *it* and _it2_ and `a<b`.\nsame para\n\n"
        "- one\n- two [3]\n\n1. first\n2. second\n\n```\nx = '<b>'\n```\nsnake_case_name"
    )
    assert out.startswith("<p><b>Plan</b></p>")
    assert "<p>First <b>bold</b> and <i>it</i> and <i>it2</i> and " in out
    assert "a&lt;b</span>.<br>same para</p>" in out
    assert '<ul><li>one</li><li>two <a href="cite:3"' in out
    assert "<ol><li>first</li><li>second</li></ol>" in out
    assert "x = &#x27;&lt;b&gt;&#x27;</pre>" in out
    assert "snake_case_name" in out
    assert "<a " not in render_markdown("see [3]", cite=False)


def test_safe_browser_refuses_every_resource(qtbot) -> None:
    b = SafeTextBrowser()
    qtbot.addWidget(b)
    b.setHtml('<img src="file:///etc/passwd"><img src="https://evil/p.png">')
    b.show()
    qtbot.waitUntil(lambda: {"file:///etc/passwd", "https://evil/p.png"} <= set(b.refused))


# -- conversations ---------------------------------------------------------------------------
def past() -> dict[int, tuple[str, list[Turn]]]:
    cites = [citation(1, 41, "Total due: 1,240 EUR", NOW - 7200)]
    return {
        1: (
            "Invoice total",
            [
                Turn("user", "What was the invoice total?", NOW - 3700, []),
                Turn("assistant", "It was **1,240 EUR** [1].", NOW - 3690, cites),
            ],
        ),
        2: ("Lunch", [Turn("user", "When is lunch?", NOW - 7300, [])]),
    }


def test_past_conversations_reload_and_continue(qtbot, tasks) -> None:
    fake = FakeAssistant([Scripted(["A follow-up."])], conversations=past(), now=lambda: NOW)
    panel = make_panel(qtbot, tasks, fake)
    qtbot.waitUntil(lambda: panel.history.count() == 2, timeout=2000)
    assert panel.history.item(0).text().startswith("Invoice total\n")
    with qtbot.waitSignal(panel.conversation_loaded, timeout=2000):
        panel.history.itemClicked.emit(panel.history.item(0))
    bubbles = panel.transcript.bubbles()
    assert [type(b).__name__ for b in bubbles] == ["QuestionBubble", "AnswerBubble"]
    assert shown(bubbles[1]) == "It was 1,240 EUR [1]."
    assert [c.text() for c in bubbles[1].chip_buttons] == ["[1] firefox · 2 h ago"]
    ask(qtbot, panel, "and the week after?")
    finish(qtbot, panel)
    assert fake.asked() == [("and the week after?", 1)]
    # The other one replaces the transcript.
    with qtbot.waitSignal(panel.conversation_loaded, timeout=2000):
        panel.history.itemClicked.emit(panel.history.item(1))
    assert [b.label.text() for b in panel.transcript.bubbles()] == ["When is lunch?"]
    # Ctrl+N starts afresh: the next question opens a new conversation.
    panel.box.setFocus()
    qtbot.keyClick(panel.box, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert panel.transcript.bubbles() == [] and panel.conversation_id is None
    ask(qtbot, panel, "new topic")
    finish(qtbot, panel)
    assert fake.asked()[-1] == ("new topic", None)
    qtbot.waitUntil(lambda: panel.history.count() == 3, timeout=2000)


def test_deleting_a_conversation(qtbot, tasks) -> None:
    fake = FakeAssistant(conversations=past(), now=lambda: NOW)
    panel = make_panel(qtbot, tasks, fake)
    qtbot.waitUntil(lambda: panel.history.count() == 2, timeout=2000)
    assert not panel.delete_button.isEnabled()
    with qtbot.waitSignal(panel.conversation_loaded, timeout=2000):
        panel.history.itemClicked.emit(panel.history.item(1))
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.history.count() == 1, timeout=2000)
    assert ("delete_conversation", (2,)) in fake.calls
    assert panel.conversation_id is None and panel.transcript.bubbles() == []


# -- errors, not found, status ---------------------------------------------------------------
def test_an_error_from_ask_is_shown_and_the_window_keeps_working(qtbot, tasks) -> None:
    fake = FakeAssistant(
        [
            Scripted(["Half "], error=UserFacingError("The model stopped; restarting…")),
            Scripted(["Back again."]),
        ]
    )
    panel = make_panel(qtbot, tasks, fake)
    ask(qtbot, panel, "first")
    finish(qtbot, panel)
    bubble = answers(panel)[0]
    assert bubble.state == "error" and bubble.note.text() == "The model stopped; restarting…"
    assert panel.status.text() == "The model stopped; restarting…"
    assert panel.box.isEnabled()
    ask(qtbot, panel, "second")
    finish(qtbot, panel)
    assert shown(answers(panel)[1]) == "Back again." and answers(panel)[1].state == "done"


def test_a_bug_in_ask_goes_to_the_crash_dialog_path(qtbot, tasks) -> None:
    fake = FakeAssistant([Scripted([], error=RuntimeError("boom"))])
    panel = make_panel(qtbot, tasks, fake)
    with qtbot.waitSignal(tasks.bug, timeout=2000) as bug:
        ask(qtbot, panel, "q")
    assert "RuntimeError: boom" in bug.args[0]
    finish(qtbot, panel)
    assert answers(panel)[0].state == "error" and panel.box.isEnabled()


def test_not_found_is_shown_distinctly(qtbot, tasks) -> None:
    fake = FakeAssistant([Scripted(["I could not find this in your memories."], not_found=True)])
    panel = make_panel(qtbot, tasks, fake)
    ask(qtbot, panel, "what is my passport number?")
    finish(qtbot, panel)
    bubble = answers(panel)[0]
    assert bubble.state == "not_found" and bubble.property("state") == "not_found"
    assert bubble.note.text() == chat_window.NOT_FOUND_NOTE
    assert bubble.chip_buttons == []


@pytest.mark.parametrize(
    ("state", "message", "expected"),
    [
        ("loading", "", "Loading the model…"),
        ("restarting", "", "The model stopped; restarting…"),
        ("ready", "", chat_window.STATUS_TEXT["ready"]),
        ("failed", "The model file is missing.", "The model file is missing. Choose another"),
    ],
)
def test_model_status_line(qtbot, tasks, state, message, expected) -> None:
    fake = FakeAssistant()
    fake.state = (state, message)
    panel = make_panel(qtbot, tasks, fake)
    qtbot.waitUntil(lambda: panel.status.text().startswith(expected), timeout=2000)


def test_an_unloaded_model_is_preloaded_when_the_chat_opens(qtbot, tasks) -> None:
    fake = FakeAssistant()
    fake.state = ("not_loaded", "")
    panel = make_panel(qtbot, tasks, fake)
    qtbot.waitUntil(lambda: fake.preloaded == 1, timeout=2000)
    fake.state = ("loading", "")
    panel.refresh_status()  # what the app's Changes(model=True) announcement does
    qtbot.waitUntil(lambda: panel.status.text() == "Loading the model…", timeout=3000)


def test_locked_or_missing_assistant_disables_the_box(qtbot, tasks) -> None:
    locked = make_panel(qtbot, tasks, FakeAssistant(), unlocked=False)
    assert locked.status.text() == chat_window.LOCKED and not locked.box.isEnabled()
    missing = make_panel(qtbot, tasks, None)
    assert missing.status.text() == chat_window.NO_ASSISTANT and not missing.box.isEnabled()
    missing.send()  # nothing to call; no crash


def test_copy_answer(qtbot, tasks) -> None:
    fake = FakeAssistant([INVOICE])
    panel = make_panel(qtbot, tasks, fake)
    ask(qtbot, panel, "q")
    finish(qtbot, panel)
    bubble = answers(panel)[0]
    assert bubble.copy_button.isVisible()
    qtbot.mouseClick(bubble.copy_button, Qt.MouseButton.LeftButton)
    assert (
        QGuiApplication.clipboard().text()
        == "The invoice total was **1,240 EUR** [1], due Friday [2]."
    )
    assert bubble.copy_button.text() == "Copied"
    qtbot.waitUntil(lambda: bubble.copy_button.text() == "Copy", timeout=5000)


# -- wiring ----------------------------------------------------------------------------------
def test_chat_is_a_main_window_page_and_the_controller_opens_it(qtbot, tmp_path) -> None:
    from PySide6.QtWidgets import QApplication

    from core.keys import TEST_KDF
    from ui.chat_window import ChatPage
    from ui.controller import Controller

    app = QApplication.instance()
    controller = Controller(app, tmp_path / "data", f"mnemo-test-{id(tmp_path)}")
    try:
        controller.services.create("correct horse battery staple 42", TEST_KDF)
        controller.services.assistant = FakeAssistant(  # type: ignore[attr-defined]
            [Scripted(["Hello."])]
        )
        controller._on_unlocked()
        main = controller.main
        assert main is not None
        page = main.page("Chat")
        assert isinstance(page, ChatPage)
        main.show_page("Search")
        controller.open_chat()  # the tray's "Ask Mnemo…" and the global shortcut
        assert main.stack.currentWidget() is page
        qtbot.waitUntil(lambda: main.focusWidget() is page.chat.box)
        # Ctrl+J / Ctrl+Shift+A from another page bring it back.
        main.activateWindow()
        qtbot.waitUntil(main.isActiveWindow)  # window shortcuts need the active window
        ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
        for key, mods in ((Qt.Key.Key_J, ctrl), (Qt.Key.Key_A, ctrl | shift), (Qt.Key.Key_K, ctrl)):
            main.show_page("Timeline")
            qtbot.keyClick(main, key, mods)
            assert main.stack.currentWidget() is (page if key != Qt.Key.Key_K else main.pages[0])
        ask(qtbot, page.chat, "hi")
        qtbot.waitUntil(lambda: not page.chat.busy, timeout=3000)
        assert shown(answers(page.chat)[0]) == "Hello."
    finally:
        controller.tasks.wait(10_000)
        # Unlocking warms the real embedder up on the load lane; on a loaded machine that
        # takes a while, and the store must not close under it.
        assert LANES.wait_idle(Lane.LOAD, 120)
        if controller.main is not None:
            controller.main.hide()
            controller.main.deleteLater()
        controller.shutdown()


def test_closing_the_chat_stops_a_running_answer(qtbot, tasks) -> None:
    fake = FakeAssistant([Scripted(["x "], endless=True)], token_delay=0.01)
    services = Services(fake, FakeMemoryService([]))
    panel = ChatPanel(services, tasks, now=lambda: NOW)  # deleted below, as on lock
    panel.show()
    ask(qtbot, panel, "q")
    qtbot.waitUntil(lambda: fake.asked() != [], timeout=2000)
    panel.deleteLater()
    qtbot.waitUntil(lambda: fake.cancel_seen, timeout=3000)


def test_an_assistant_attached_later_enables_the_box(qtbot, tasks) -> None:
    services = Services(None, FakeMemoryService([]))
    panel = ChatPanel(services, tasks, now=lambda: NOW)
    qtbot.addWidget(panel)
    panel.show()
    assert not panel.box.isEnabled()
    services.assistant = FakeAssistant()
    panel.refresh_status()  # the unlock's announcement reaches the page
    qtbot.waitUntil(panel.box.isEnabled, timeout=2000)
    assert panel.status.text() == chat_window.STATUS_TEXT["ready"]


def test_question_bubbles_are_as_wide_as_their_text_not_stretched_tall(qtbot) -> None:
    from ui.chat_window import QuestionBubble, Transcript

    t = Transcript()
    qtbot.addWidget(t)
    t.resize(900, 700)
    t.show()
    short = QuestionBubble("When is my flight to Lisbon?")
    long = QuestionBubble("Where is the spare key kept, and does Anna know about it? " * 4)
    t.add(short, True)
    t.add(long, True)
    line = short.label.fontMetrics().lineSpacing()
    qtbot.waitUntil(lambda: 0 < short.label.height() < 2 * line, timeout=2000)
    assert short.label.height() < 2 * line  # one line, not wrapped into a tall narrow box
    assert long.width() <= t._question_width()
    assert long.label.height() <= long.label.heightForWidth(long.label.width()) + 2
    assert long.label.height() < 5 * line  # wraps at the bubble's real width


def test_an_erase_refreshes_the_history_and_the_open_conversation(qtbot, tasks) -> None:
    """After an erase the chat still showed answers whose sources were gone and the erased
    question as a title; the page now reloads both when memories are removed."""
    from app.session import Changes
    from ui.chat_window import ChatPage

    fake = FakeAssistant(conversations=past(), now=lambda: NOW)
    services = Services(fake, FakeMemoryService(list(MEMORIES)))
    page = ChatPage(services, tasks)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.resize(900, 640)
    page.show()
    panel = page.chat
    qtbot.waitUntil(lambda: panel.history.count() == 2, timeout=2000)
    with qtbot.waitSignal(panel.conversation_loaded, timeout=2000):
        panel.history.itemClicked.emit(panel.history.item(0))
    assert len(panel.transcript.bubbles()) == 2
    # Elsewhere (the Storage tab, the tray), an erase takes the cited memory and its answer.
    fake.convs[1] = ("", fake.convs[1][1][:1])
    with qtbot.waitSignal(panel.conversation_loaded, timeout=2000):
        page.refresh(Changes(memories_removed=2))
    assert [type(b).__name__ for b in panel.transcript.bubbles()] == ["QuestionBubble"]
    qtbot.waitUntil(lambda: panel.history.item(0).text().startswith("Untitled\n"), timeout=2000)


def test_not_found_after_a_new_conversation_has_no_empty_gap(qtbot, tasks) -> None:
    # Ctrl+N cleared the transcript down to its first item and took the stretch that keeps
    # rows at their own height with it: the next bubble was stretched over the whole page.
    nothing = Scripted(["I could not find this in your memories."], not_found=True)
    fake = FakeAssistant([INVOICE, nothing])
    panel = make_panel(qtbot, tasks, fake)
    ask(qtbot, panel, "what was the invoice total?")
    finish(qtbot, panel)
    qtbot.keyClick(panel.box, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    ask(qtbot, panel, "what is my passport number?")
    finish(qtbot, panel)
    [bubble] = answers(panel)
    assert bubble.state == "not_found"
    qtbot.wait(50)
    needed = bubble.layout().sizeHint().height()
    assert bubble.height() <= needed + 4, (bubble.height(), needed)
    assert bubble.height() < panel.transcript.viewport().height() // 3
