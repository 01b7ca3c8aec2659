"""`main.py import` as a real process (real KDF, real MiniLM embedder): every sample format in
one command, each found by `search` with its author, time and conversation; a second import
adds nothing; a bad file names itself, stores nothing, and makes the exit code non-zero."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.clock import utc_iso
from core.importers import parse
from tests.storehelp import PASSPHRASE, ROOT, cli_env

FIX = Path(__file__).parents[1] / "fixtures" / "imports"
SAMPLES = {
    "chatgpt/conversations.json": 9,
    "claude/conversations.json": 4,
    "whatsapp/WhatsApp Chat with Ana María.txt": 6,
    "telegram/result.json": 5,
    "jsonl/chat.jsonl": 4,
    "notes": 7,
}
# A query and the external id it must find first (the truth comes from the parser). Each search
# loads the real model in a new process (~10 s here), so one per format is left to
# test_import_service.py, which runs the same path in-process.
QUERIES = [("telegram/result.json", "Breaking cats", "4242:5")]


def mnemo(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--data-dir", str(tmp / "data"), *args],
        env=cli_env(tmp, PASSPHRASE),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_import_every_format_search_reimport_and_a_bad_file(tmp_path: Path) -> None:
    assert mnemo(tmp_path, "init", "--json").returncode == 0
    paths = [str(FIX / rel) for rel in SAMPLES]
    r = mnemo(tmp_path, "import", *paths, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [f["imported"] for f in doc["files"]] == list(SAMPLES.values())
    assert all(f["ok"] and f["duplicates"] == 0 for f in doc["files"])
    assert doc["totals"]["imported"] == sum(SAMPLES.values())
    chatgpt = doc["files"][0]
    assert chatgpt["format"] == "chatgpt" and chatgpt["rejected"] == 2
    assert {"where": "item 4", "reason": "not a ChatGPT conversation (no message tree)"} in (
        chatgpt["rejections"]
    )

    for rel, query, ext in QUERIES:
        with parse(FIX / rel) as p:
            truth = next(m for m in p.messages if m.external_id == ext)
        r = mnemo(tmp_path, "search", query, "--json", "--k", "3")
        assert r.returncode == 0, r.stderr
        hit = json.loads(r.stdout)["hits"][0]
        assert hit["external_id"] == ext, (query, hit)
        assert hit["author"] == truth.author
        assert hit["conversation"] == truth.conversation
        assert hit["time"] == utc_iso(truth.time)
        assert hit["source"] == f"import:{p.format}"

    # Again, plus a file that breaks part-way: nothing twice, nothing from the bad one.
    bad = FIX / "malformed" / "truncated_chatgpt.json"
    r = mnemo(tmp_path, "import", *paths, str(bad), "--json")
    assert r.returncode != 0
    doc = json.loads(r.stdout)
    assert [f["duplicates"] for f in doc["files"][:-1]] == list(SAMPLES.values())
    assert doc["totals"]["imported"] == 0
    assert doc["files"][-1]["ok"] is False and bad.name in doc["files"][-1]["error"]
    assert doc["error"]["code"] == "partial" and r.returncode == 14  # the others imported
    assert "1 of 7 files could not be imported (truncated_chatgpt.json)" in doc["error"]["message"]
    assert "Traceback" not in r.stderr

    r = mnemo(tmp_path, "status", "--json")
    assert json.loads(r.stdout)["memories"]["total"] == sum(SAMPLES.values())


def test_import_human_output_and_unknown_format(tmp_path: Path) -> None:
    assert mnemo(tmp_path, "init", "--json").returncode == 0
    r = mnemo(tmp_path, "import", str(FIX / "jsonl" / "bad_line.jsonl"))
    assert r.returncode == 2  # bad_input
    assert "bad_line.jsonl" in r.stdout and "line 3" in r.stdout
    assert "bad_line.jsonl" in r.stderr
    r = mnemo(tmp_path, "import", str(FIX / "jsonl"), "--format", "fax")
    assert r.returncode == 2 and "invalid choice" in r.stderr
