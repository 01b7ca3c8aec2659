"""The note / search / import commands, run as the user runs them (a subprocess, the real
embedder), and the jsonl parser's error reporting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse battery staple"


def run(data: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MNEMO_PASSPHRASE=PASSPHRASE)
    proc = subprocess.run(
        [sys.executable, "main.py", "--data-dir", str(data), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def write_jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
        encoding="utf-8",
    )
    return path


def message(i: int, text: str, day: int = 1, conv: str = "family") -> dict[str, object]:
    return {
        "id": f"msg-{i}",
        "time": f"2026-03-{day:02d}T10:{i % 60:02d}:00Z",
        "speaker": "ana",
        "text": text,
        "conversation": conv,
    }


@pytest.mark.slow
def test_import_search_note_and_status(tmp_path: Path) -> None:
    data = tmp_path / "store"
    run(data, "init", "--json")
    msgs = [
        message(1, "The dentist moved my appointment to Thursday", day=3),
        message(2, "Booked the flights to Lisbon for May", day=5, conv="travel"),
        message(3, "Lentil soup recipe with cumin", day=9),
    ]
    f = write_jsonl(tmp_path / "chat.jsonl", msgs)
    report = json.loads(run(data, "import", "--format", "jsonl", str(f), "--json").stdout)
    (entry,) = report["files"]
    assert (entry["imported"], entry["duplicates"]) == (3, 0)
    again = json.loads(run(data, "import", "--format", "jsonl", str(f), "--json").stdout)
    assert (again["files"][0]["imported"], again["files"][0]["duplicates"]) == (0, 3)

    # A bad line anywhere: the file is refused whole, nothing from it stored.
    bad = write_jsonl(
        tmp_path / "bad.jsonl", [message(10, "canary-otter-fjord first line"), "{oops"]
    )
    proc = run(data, "import", "--format", "jsonl", str(bad), "--json", ok=False)
    err = json.loads(proc.stdout)["error"]  # with --json the error is the document on stdout
    assert proc.returncode == 2 and err["code"] == "bad_input"
    assert "bad.jsonl has a bad line 2" in err["message"]

    out = json.loads(
        run(data, "search", "dentist", "appointment", "--since", "2026-03-01", "--json").stdout
    )
    assert out["hits"][0]["external_id"] == "msg-1"  # the file's own id, without its scope
    assert "\u0002dentist\u0003" in out["hits"][0]["snippet"]
    assert set(out) == {"query", "filters", "hits", "exact", "time_hint", "fallback", "took_ms"}
    hit = out["hits"][0]
    assert out["exact"] is True and hit["match"] == "words" and out["fallback"] is None
    assert {
        "id",
        "external_id",
        "time",
        "source",
        "app",
        "title",
        "snippet",
        "score",
        "trust",
    } <= set(hit)
    assert hit["source"] == "import:jsonl"
    note = json.loads(run(data, "note", "parking", "level", "minus", "two", "--json").stdout)
    human = run(data, "search", "parking level", "--source", "note").stdout
    assert f"#{note['id']}" in human and "[parking]" in human and "[level]" in human

    # 3 imported + 1 note: nothing from bad.jsonl was stored.
    status = json.loads(run(data, "status", "--json").stdout)
    assert status["index"]["count"] == 4 and status["index"]["snapshot"] == "ok"
    assert status["memories"]["total"] == 4
