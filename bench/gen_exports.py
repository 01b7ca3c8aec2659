"""Writes large synthetic exports (ChatGPT, Claude, Telegram JSON; WhatsApp txt; JSONL) for the
import benchmarks, streaming to disk. Output goes to a temp dir; never commit these files.

    python bench/gen_exports.py [OUTDIR] [--chatgpt-mb 100] [--jsonl 100000] [--whatsapp 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

WORDS = [
    "memory",
    "search",
    "local",
    "encrypted",
    "chat",
    "note",
    "screen",
    "window",
    "project",
    "meeting",
    "Lisbon",
    "café",
    "résumé",
    "naïve",
    "東京",
    "שלום",
    "مرحبا",
    "Привет",
    "🎉",
    "deadline",
    "release",
    "bug",
    "fix",
    "answer",
    "question",
    "weekend",
    "dinner",
    "train",
    "ticket",
    "invoice",
    "password",
    "reminder",
    "photo",
    "family",
    "doctor",
    "appointment",
    "budget",
    "plan",
]


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def paragraph(rng: random.Random, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        s = sentence(rng, rng.randint(5, 18))
        out.append(s)
        size += len(s) + 1
    return " ".join(out)


def _chatgpt_conversation(rng: random.Random, i: int, messages: int) -> dict[str, Any]:
    t0 = 1_600_000_000 + i * 3600.0
    root = str(uuid.UUID(int=rng.getrandbits(128)))
    mapping: dict[str, Any] = {root: {"id": root, "message": None, "parent": None, "children": []}}
    parent = root
    for j in range(messages):
        node = str(uuid.UUID(int=rng.getrandbits(128)))
        role = "user" if j % 2 == 0 else "assistant"
        text = paragraph(rng, rng.randint(80, 300) if role == "user" else rng.randint(400, 1800))
        mapping[node] = {
            "id": node,
            "message": {
                "id": node,
                "author": {"role": role, "name": None, "metadata": {}},
                "create_time": t0 + j * 20,
                "update_time": None,
                "content": {"content_type": "text", "parts": [text]},
                "status": "finished_successfully",
                "end_turn": True,
                "weight": 1.0,
                "metadata": {"model_slug": "gpt-4o"} if role == "assistant" else {},
                "recipient": "all",
            },
            "parent": parent,
            "children": [],
        }
        mapping[parent]["children"].append(node)
        parent = node
    return {
        "title": sentence(rng, 4),
        "create_time": t0,
        "update_time": t0 + messages * 20,
        "mapping": mapping,
        "current_node": parent,
        "conversation_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "id": str(uuid.UUID(int=rng.getrandbits(128))),
    }


def write_chatgpt(path: Path, target_mb: float, seed: int = 1) -> dict[str, Any]:
    """A conversations.json of about `target_mb` MB, one conversation written at a time."""
    rng = random.Random(seed)
    target = int(target_mb * 1024 * 1024)
    convs = msgs = 0
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[")
        while fh.tell() < target:
            n = rng.randint(4, 30)
            if convs:
                fh.write(",\n")
            json.dump(_chatgpt_conversation(rng, convs, n), fh, ensure_ascii=False)
            convs += 1
            msgs += n
        fh.write("]\n")
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "conversations": convs,
        "messages": msgs,
    }


def write_claude(path: Path, conversations: int, seed: int = 2) -> dict[str, Any]:
    rng = random.Random(seed)
    msgs = 0
    start = datetime(2024, 1, 1)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[")
        for i in range(conversations):
            chat = []
            for j in range(rng.randint(2, 20)):
                when = (start + timedelta(hours=i, seconds=j * 30)).isoformat() + "Z"
                text = paragraph(rng, rng.randint(80, 1200))
                chat.append(
                    {
                        "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
                        "text": text,
                        "content": [{"type": "text", "text": text}],
                        "sender": "human" if j % 2 == 0 else "assistant",
                        "created_at": when,
                        "attachments": [],
                        "files": [],
                    }
                )
            msgs += len(chat)
            conv = {
                "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
                "name": sentence(rng, 3),
                "created_at": start.isoformat() + "Z",
                "chat_messages": chat,
            }
            fh.write((",\n" if i else "") + json.dumps(conv, ensure_ascii=False))
        fh.write("]\n")
    return {"path": str(path), "bytes": path.stat().st_size, "messages": msgs}


def write_telegram(path: Path, messages: int, seed: int = 3) -> dict[str, Any]:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(
            '{\n "name": "Bench chat",\n "type": "private_group",\n "id": 777,\n "messages": ['
        )
        for i in range(messages):
            t = 1_650_000_000 + i * 40
            text: Any = sentence(rng, rng.randint(3, 30))
            if i % 5 == 0:
                text = [text, {"type": "bold", "text": rng.choice(WORDS)}]
            msg = {
                "id": i + 1,
                "type": "message",
                "date": datetime.fromtimestamp(t, UTC).replace(tzinfo=None).isoformat(),
                "date_unixtime": str(t),
                "from": rng.choice(["Ann", "Bo", "Ирина", "יוסי"]),
                "from_id": "user1",
                "text": text,
            }
            fh.write(("," if i else "") + "\n  " + json.dumps(msg, ensure_ascii=False))
        fh.write("\n ]\n}\n")
    return {"path": str(path), "bytes": path.stat().st_size, "messages": messages}


def write_whatsapp(path: Path, messages: int, seed: int = 4) -> dict[str, Any]:
    rng = random.Random(seed)
    t = datetime(2022, 1, 1, 8, 0)
    with open(path, "w", encoding="utf-8") as fh:
        for _ in range(messages):
            t += timedelta(seconds=rng.randint(5, 600))
            stamp = f"{t.day:02d}/{t.month:02d}/{t.year}, {t.hour:02d}:{t.minute:02d}"
            who = rng.choice(["Ana María", "Ben", "أحمد", "Zoë"])
            body = sentence(rng, rng.randint(2, 25))
            if rng.random() < 0.1:
                body += "\n" + sentence(rng, rng.randint(2, 10))
            fh.write(f"{stamp} - {who}: {body}\n")
    return {"path": str(path), "bytes": path.stat().st_size, "messages": messages}


def write_jsonl(path: Path, messages: int, seed: int = 5) -> dict[str, Any]:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(messages):
            when = datetime(2023, 1, 1) + timedelta(seconds=i * 37)
            line = {
                "id": f"m{i}",
                "time": when.isoformat() + "Z",
                "speaker": rng.choice(["Dana", "Eli", "Noa"]),
                "text": sentence(rng, rng.randint(3, 40)),
                "conversation": f"thread {i // 500}",
            }
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return {"path": str(path), "bytes": path.stat().st_size, "messages": messages}


def generate(
    out: Path, chatgpt_mb: float, jsonl: int, whatsapp: int, telegram: int, claude: int
) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    made: dict[str, Any] = {}
    if chatgpt_mb > 0:
        made["chatgpt"] = write_chatgpt(out / "conversations.json", chatgpt_mb)
    if claude > 0:
        made["claude"] = write_claude(out / "claude_conversations.json", claude)
    if telegram > 0:
        made["telegram"] = write_telegram(out / "result.json", telegram)
    if whatsapp > 0:
        made["whatsapp"] = write_whatsapp(out / "WhatsApp Chat with Bench.txt", whatsapp)
    if jsonl > 0:
        made["jsonl"] = write_jsonl(out / "messages.jsonl", jsonl)
    return made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", nargs="?", help="output folder (default: a new temp dir)")
    ap.add_argument("--chatgpt-mb", type=float, default=100)
    ap.add_argument("--claude", type=int, default=2000, help="conversations")
    ap.add_argument("--telegram", type=int, default=100_000, help="messages")
    ap.add_argument("--whatsapp", type=int, default=200_000, help="messages")
    ap.add_argument("--jsonl", type=int, default=100_000, help="messages")
    args = ap.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="mnemo-exports-"))
    made = generate(out, args.chatgpt_mb, args.jsonl, args.whatsapp, args.telegram, args.claude)
    print(json.dumps({"out": str(out), "files": made, "cores": os.cpu_count()}, indent=2))


if __name__ == "__main__":
    main()
