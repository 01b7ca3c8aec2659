"""The real app on a fresh virtual display answers from an imported chat: a JSONL chat imported
with the CLI, the store unlocked by typing, a question asked on the Chat page (Ctrl+J), the
answer streamed by the real model; its citation chip opens the memory viewer. The store then
holds the question and the answer as derived chat memories (not evidence, not in search), the
answer citing the imported message."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.services import Services
from core.db import connect
from core.keys import TEST_KDF, unlock_key
from tests.e2e.test_first_run import display, screenshot, wait_window, xdo
from tests.storehelp import PASSPHRASE, ROOT, cli_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

__all__ = ["display"]  # the fixture, shared with the first-run test

QUESTION = "Where did I put my passport?"
CHAT = [
    (
        "m1",
        "2026-11-10T09:00:00Z",
        "me",
        "I just moved my passport. My passport is in the blue folder in the desk drawer.",
    ),
    (
        "m2",
        "2026-11-10T09:01:00Z",
        "friend",
        "Good idea, then you will not lose it before the trip to Lisbon.",
    ),
    ("m3", "2026-11-12T18:30:00Z", "me", "Remember to buy oat milk and coffee beans on Friday."),
    ("m4", "2026-11-13T20:00:00Z", "friend", "The dentist appointment moved to Tuesday at 3 pm."),
]
CHIP_BORDER = (0xC9, 0xD6, 0xF3)  # QPushButton#citeChip's border in assets/style.qss


def chip_centre(png: Path) -> tuple[int, int] | None:
    """Centre of the first citation chip on screen, found by its border colour."""
    from PIL import Image

    im = Image.open(png).convert("RGB")
    w, h = im.size
    px = im.load()
    pts = [(x, y) for y in range(h) for x in range(0, w) if px[x, y] == CHIP_BORDER]
    if len(pts) < 40:
        return None
    ys = [p[1] for p in pts]
    top = min(ys)
    row = [p for p in pts if p[1] <= top + 30]  # the first chip only
    xs = [p[0] for p in row]
    return (min(xs) + max(xs)) // 2, (top + max(p[1] for p in row)) // 2


def start_app(env: dict[str, str], data: Path) -> subprocess.Popen[str]:
    """The real app on the test display, its output kept for the Traceback check."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "--data-dir", str(data)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def exit_report(app: subprocess.Popen[str], data: Path) -> str:
    """What a dead app left: its output and the stacks of a hard crash (logs/crash.log)."""
    out = app.stdout.read() if app.stdout else ""
    crash = data / "logs" / "crash.log"
    stacks = crash.read_text(encoding="utf-8", errors="replace") if crash.exists() else ""
    return f"exit {app.returncode}\n{out}\n--- crash.log ---\n{stacks}"


def unlock_and_open_chat(env: dict[str, str], timeout: float = 60) -> None:
    """Type the passphrase into the unlock window, then open the Chat page (Ctrl+J)."""
    gate = wait_window(env, "Unlock Mnemo", timeout=timeout)
    xdo(env, "windowfocus", "--sync", gate)
    xdo(env, "type", "--delay", "5", PASSPHRASE)
    xdo(env, "key", "Return")
    main = wait_window(env, "^Mnemo$", timeout=timeout)
    time.sleep(1.0)
    xdo(env, "windowfocus", "--sync", main)
    xdo(env, "key", "ctrl+j")
    time.sleep(1.0)


def test_chat_answer_cites_the_imported_message(display: dict[str, str], tmp_path: Path) -> None:
    env = display
    data = tmp_path / "data"
    store = Services(data)
    store.create(PASSPHRASE, kdf=TEST_KDF)
    store.close()
    export = tmp_path / "chat.jsonl"
    export.write_text(
        "".join(
            json.dumps({"id": i, "time": t, "speaker": s, "text": x, "conversation": "home"}) + "\n"
            for i, t, s, x in CHAT
        )
    )
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "--data-dir",
            str(data),
            "import",
            "--format",
            "jsonl",
            str(export),
        ],
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr

    key = unlock_key(data, PASSPHRASE)
    conn = connect(data / "mnemo.db", key)
    (passport,) = conn.execute("SELECT id FROM memories WHERE external_id LIKE 'm1#%'").fetchone()

    app = start_app(env, data)
    try:
        unlock_and_open_chat(env)
        xdo(env, "type", "--delay", "5", QUESTION)
        xdo(env, "key", "Return")

        # The answer (a derived chat memory) appears in the store when the model is done.
        deadline = time.monotonic() + 150
        answer = None
        while answer is None:
            if time.monotonic() > deadline:
                screenshot(env, tmp_path / "no-answer.png")
                raise AssertionError(f"no answer stored; see {tmp_path / 'no-answer.png'}")
            assert app.poll() is None, exit_report(app, data)
            time.sleep(0.5)
            answer = conn.execute(
                "SELECT id, text, conversation FROM memories WHERE kind = 'chat' "
                "AND author = 'Mnemo'"
            ).fetchone()
        answer_id, answer_text, conversation = answer
        question = conn.execute(
            "SELECT text, author, conversation, derived FROM memories WHERE kind = 'chat' "
            "AND author = 'me'"
        ).fetchall()
        # The chat's own turns are kept for the conversation, but are not memories (derived).
        assert question == [(QUESTION, "me", conversation, 1)]
        cited = [
            r[0]
            for r in conn.execute(
                "SELECT memory_id FROM citations WHERE answer_id = ?", (answer_id,)
            )
        ]
        assert cited == [passport], answer_text
        assert "blue folder" in answer_text

        time.sleep(1.0)  # the finished answer and its chips are drawn
        shot = tmp_path / "answer.png"
        screenshot(env, shot)
        centre = chip_centre(shot)
        assert centre is not None, f"no citation chip on screen; see {shot}"
        xdo(env, "mousemove", str(centre[0]), str(centre[1]), "click", "1")
        viewer = wait_window(env, "^Memory", timeout=15)
        assert xdo(env, "getwindowname", viewer) == "Memory — home"  # the cited chat
        time.sleep(0.5)
        screenshot(env, tmp_path / "viewer.png")
        assert app.poll() is None
    finally:
        conn.close()
        key.wipe()
        app.terminate()
        try:
            out, _ = app.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            app.kill()
            out, _ = app.communicate()
    assert "Traceback" not in (out or ""), out
