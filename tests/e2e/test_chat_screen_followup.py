"""The real app on a fresh virtual display answers about a captured screen: an invoice mail shown
full-screen is captured with `capture --once` (real grab, real OCR), then on the Chat page a
question about it, a follow-up ("What is the amount on that invoice?") and a question with no
evidence. The answers come from the screen's own text, each citing the captured screen; the last
one says so and names the nearest memory. Screenshots go to $MNEMO_E2E_SHOTS (or tmp_path)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.services import Services
from core.db import connect
from core.keys import TEST_KDF, unlock_key
from tests.e2e.test_chat_answer import exit_report, start_app, unlock_and_open_chat
from tests.e2e.test_first_run import display, screenshot, wait_window, xdo
from tests.storehelp import PASSPHRASE, ROOT, cli_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1500)]

__all__ = ["display"]

MAIL = r"""
import tkinter as tk
root = tk.Tk()
root.title("Mail - Inbox")
root.geometry(f"{root.winfo_screenwidth()}x{root.winfo_screenheight()}+0+0")  # no WM here
root.configure(bg="white")
lines = [
    ("Inbox - billing@hetzner.com", 20, "bold"),
    ("Subject: Your invoice #4411 from Hetzner Online", 22, "bold"),
    ("Dear customer, thank you for your order.", 20, ""),
    ("Invoice number: 4411", 20, ""),
    ("Total amount: 23.80 EUR", 20, ""),
    ("Payment due: 30 November 2026", 20, ""),
    ("Kind regards, Hetzner Online billing", 20, ""),
]
for text, size, weight in lines:
    tk.Label(root, text=text, font=("DejaVu Sans", size, weight), bg="white", fg="#111",
             anchor="w").pack(fill="x", padx=60, pady=14)
root.mainloop()
"""

QUESTIONS = [
    ("When is the Hetzner invoice due?", "30 November 2026"),
    ("What is the amount on that invoice?", "23.80 EUR"),
    ("When did I sign up for a pottery class?", None),
]


def shots_dir(tmp_path: Path) -> Path:
    d = Path(os.environ.get("MNEMO_E2E_SHOTS") or tmp_path)
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_chat_answers_a_captured_screen_and_a_follow_up(
    display: dict[str, str], tmp_path: Path
) -> None:
    env = display
    out = shots_dir(tmp_path)
    data = tmp_path / "data"
    store = Services(data)
    store.create(PASSPHRASE, kdf=TEST_KDF)
    store.close()

    mail = subprocess.Popen([sys.executable, "-c", MAIL], env=env)
    try:
        wait_window(env, "Mail - Inbox", timeout=20)
        time.sleep(1.5)
        screenshot(env, out / "screen-mail.png")
        cenv = cli_env(tmp_path)
        cenv.update(DISPLAY=env["DISPLAY"], QT_QPA_PLATFORM="xcb")
        r = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "--data-dir", str(data), "capture", "--once"],
            env=cenv,
            capture_output=True,
            text=True,
            timeout=900,  # OCR of a full screen on two busy cores
            cwd=ROOT,
        )
        assert r.returncode == 0, r.stderr
    finally:
        mail.terminate()
        mail.wait(10)

    key = unlock_key(data, PASSPHRASE)
    conn = connect(data / "mnemo.db", key)
    screens = [r[0] for r in conn.execute("SELECT id FROM memories WHERE kind = 'screen'")]
    assert screens, "the capture stored no screen"

    app = start_app(env, data)
    try:
        unlock_and_open_chat(env)
        answers: list[tuple[int, str]] = []
        for i, (question, expected) in enumerate(QUESTIONS, 1):
            if i == 3:
                xdo(env, "key", "ctrl+n")  # a new conversation for an unrelated question
                time.sleep(0.8)
            xdo(env, "type", "--delay", "5", question)
            xdo(env, "key", "Return")
            deadline = time.monotonic() + 180
            while len(answers) < i:
                if time.monotonic() > deadline:
                    screenshot(env, out / f"no-answer-{i}.png")
                    raise AssertionError(f"no answer {i}; see {out}")
                assert app.poll() is None, exit_report(app, data)
                time.sleep(0.5)
                answers = conn.execute(
                    "SELECT id, text FROM memories WHERE kind = 'chat' AND author = 'Mnemo' "
                    "ORDER BY id"
                ).fetchall()
            answer_id, text = answers[i - 1]
            cited = [
                r[0]
                for r in conn.execute(
                    "SELECT memory_id FROM citations WHERE answer_id = ?", (answer_id,)
                )
            ]
            time.sleep(1.0)  # the finished answer and its chips are drawn
            screenshot(env, out / f"chat-{i}.png")
            assert cited and set(cited) <= set(screens), (question, text)
            if expected is not None:
                assert text.startswith(expected), (question, text)
            else:
                assert text.startswith("Nothing in your memories answers"), text
                assert "the closest is [1]" in text
        assert app.poll() is None
    finally:
        conn.close()
        key.wipe()
        app.terminate()
        try:
            log, _ = app.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            app.kill()
            log, _ = app.communicate()
    assert "Traceback" not in (log or ""), log
