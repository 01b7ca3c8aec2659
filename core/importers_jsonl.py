"""The generic jsonl chat format of DESIGN.md: one message per line,
{"id", "time" (ISO-8601), "speaker", "text", "conversation"}. Streaming; a bad line raises
BadInput naming the file and the line. (Replaceable by core.importers when it lands.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from core.errors import BadInput
from core.types import ImportedMessage

MAX_LINE = 1_000_000


def _time(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise ValueError("'time' must be an ISO-8601 date-time")
    dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # a time without a zone in an export is taken as UTC
    return dt.timestamp()


def parse_jsonl(path: Path) -> Iterator[ImportedMessage]:
    path = Path(path)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with below, errors told apart
    except OSError as e:
        raise BadInput(f"Cannot read {path}: {e.strerror}.") from None
    with fh:
        for n, raw in enumerate(fh, 1):
            if len(raw) > MAX_LINE:
                raise BadInput(f"{path}, line {n}: the line is too long. Nothing was imported.")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise BadInput(
                    f"{path}, line {n}: not UTF-8 text. Nothing from this file was imported."
                ) from None
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                if not isinstance(doc, dict):
                    raise ValueError("expected a JSON object")
                mid, text = doc.get("id"), doc.get("text")
                if not isinstance(mid, str | int) or isinstance(mid, bool) or str(mid) == "":
                    raise ValueError("'id' is missing")
                if not isinstance(text, str):
                    raise ValueError("'text' is missing or not text")
                if "time" not in doc:
                    raise ValueError("'time' is missing")
                t = _time(doc["time"])
                speaker, conv = doc.get("speaker"), doc.get("conversation")
                if speaker is not None and not isinstance(speaker, str):
                    raise ValueError("'speaker' must be text")
                if conv is not None and not isinstance(conv, str | int):
                    raise ValueError("'conversation' must be text")
            except ValueError as e:  # json.JSONDecodeError is a ValueError
                reason = "not valid JSON" if isinstance(e, json.JSONDecodeError) else str(e)
                raise BadInput(
                    f"{path}, line {n}: {reason}. Nothing from this file was imported; fix the "
                    "line and import the file again."
                ) from None
            yield ImportedMessage(
                external_id=str(mid),
                time=t,
                author=speaker,
                text=text,
                conversation=None if conv is None else str(conv),
            )
