"""Fuzz: random bytes, mutated fixtures and random JSON in each export's shape never raise
anything but ImportFileError (or parse cleanly), and never hang."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.importers import FORMATS, ImportFileError, parse
from tests.core.importers.helpers import FIXTURES

# MNEMO_FUZZ_EXAMPLES=2000 runs a long, randomised session; the default is quick and fixed.
EXAMPLES = int(os.environ.get("MNEMO_FUZZ_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=2000 if EXAMPLES <= 60 else None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=EXAMPLES <= 60,
    database=None,
)
SEEDS = [
    "chatgpt/conversations.json",
    "claude/conversations.json",
    "whatsapp/WhatsApp Chat with Ana María.txt",
    "whatsapp/_chat.txt",
    "telegram/result.json",
    "telegram/full_export.json",
    "jsonl/chat.jsonl",
    "notes/projects/mnemo.md",
]
FMTS = ["auto", *sorted(FORMATS)]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def consume(path: Path, fmt: str) -> None:
    try:
        parsed = parse(path, fmt, tz="UTC")
        for msg in parsed.messages:
            assert isinstance(msg.text, str) and msg.text
            assert isinstance(msg.external_id, str) and msg.external_id
            assert isinstance(msg.time, float)
    except ImportFileError as exc:
        assert str(exc).startswith(path.name)


def check(data: bytes, name: str, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        consume(path, fmt)


@pytest.mark.timeout(120)
@SETTINGS
@given(
    data=st.binary(max_size=600),
    name=st.sampled_from(["x.json", "x.txt", "x.jsonl", "x.zip", "x.md", "x"]),
    fmt=st.sampled_from(FMTS),
)
def test_random_bytes(data: bytes, name: str, fmt: str) -> None:
    check(data, name, fmt)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, str]:
    seed = draw(st.sampled_from(SEEDS))
    data = bytearray((FIXTURES / seed).read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "truncate", "dup"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "truncate":
            del data[pos:]
        else:
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 200))]
    return bytes(data), Path(seed).name


@pytest.mark.timeout(120)
@SETTINGS
@given(sample=mutated(), fmt=st.sampled_from(FMTS))
def test_mutated_fixtures(sample: tuple[bytes, str], fmt: str) -> None:
    data, name = sample
    check(data, name, fmt)


def _chatgpt(v: Any, mapping: Any, current: Any) -> Any:
    return [{"title": v, "mapping": mapping, "current_node": current, "create_time": v}]


@pytest.mark.timeout(120)
@SETTINGS
@given(
    shape=st.sampled_from(["chatgpt", "claude", "telegram", "telegram_full", "jsonl"]),
    v=json_values,
    items=st.lists(json_values, max_size=5),
    keys=st.lists(st.sampled_from(["a", "b", "c", "root"]), max_size=5),
)
def test_random_json_in_each_export_shape(
    shape: str, v: Any, items: list[Any], keys: list[str]
) -> None:
    if shape == "chatgpt":
        mapping = {
            k: {"message": item, "parent": keys[(i + 1) % len(keys)], "children": keys}
            for i, (k, item) in enumerate(zip(keys, items))
        }
        doc: Any = _chatgpt(v, mapping, keys[0] if keys else v)
        data = json.dumps(doc).encode()
    elif shape == "claude":
        data = json.dumps(
            [{"uuid": "u", "name": v, "created_at": v, "chat_messages": items}]
        ).encode()
    elif shape == "telegram":
        data = json.dumps({"name": v, "type": "personal_chat", "id": v, "messages": items}).encode()
    elif shape == "telegram_full":
        data = json.dumps({"chats": {"list": [{"name": v, "messages": items}, v]}}).encode()
    else:
        data = "\n".join(
            json.dumps({"text": item, "time": v, "speaker": item}) for item in items
        ).encode()
    check(data, "conversations.json", "auto")
    check(data, "conversations.json", "jsonl" if shape == "jsonl" else shape.split("_")[0])


def test_deeply_nested_json_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "conversations.json"
    path.write_bytes(b'[{"mapping": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]")
    consume(path, "auto")
    consume(path, "chatgpt")
    tg = tmp_path / "result.json"
    tg.write_bytes(b'{"messages": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}")
    consume(tg, "telegram")
