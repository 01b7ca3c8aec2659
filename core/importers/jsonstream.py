"""Streaming JSON for big exports (ijson): one conversation or message at a time, with ijson's
errors turned into ImportFileError naming the file and where it broke."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import ijson

from core.importers.base import Context, Head

_WS = b" \t\r\n"


class PeekStream(io.RawIOBase):
    """Wraps a binary stream: skips a UTF-8 BOM and leading whitespace, exposes the first
    significant byte, then reads on unchanged (ijson reads from it)."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self._inner = inner
        self._buf = b""
        first = inner.read(4096)
        if first.startswith(b"\xef\xbb\xbf"):
            first = first[3:]
        while first and first.lstrip(_WS) == b"":
            more = inner.read(4096)
            if not more:
                first = b""
                break
            first = more
        self._buf = first.lstrip(_WS)
        self.first = self._buf[:1]

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self._buf:
            if size is None or size < 0:
                data = self._buf + self._inner.read()
                self._buf = b""
                return bytes(data)
            data, self._buf = self._buf[:size], self._buf[size:]
            return bytes(data)
        return bytes(self._inner.read(-1 if size is None else size))

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    @property
    def consumed(self) -> int:
        return int(getattr(self._inner, "consumed", 0))


def json_error(ctx: Context, exc: Exception, stream: PeekStream) -> Exception:
    text = str(exc)
    if "premature EOF" in text or "Incomplete JSON" in text:
        return ctx.error(
            "ends in the middle of the data (the file is cut off)",
            "Export it again or copy the whole file.",
        )
    if "UTF8" in text or "utf-8" in text.lower() or isinstance(exc, UnicodeDecodeError):
        return ctx.error(f"is not UTF-8 text (bad bytes near byte {stream.consumed})")
    return ctx.error(
        f"is not valid JSON (damaged near byte {stream.consumed})",
        "The file may be truncated or edited; export it again.",
    )


def iter_array_items(stream: PeekStream, ctx: Context) -> Iterator[Any]:
    """Items of a top-level JSON array, built one at a time."""
    try:
        yield from ijson.items(stream, "item", use_float=True)
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise json_error(ctx, exc, stream) from exc


def build_value(events: Iterator[tuple[str, str, Any]], event: str, value: Any) -> Any:
    """Builds the value that starts with (event, value) from the following parse events."""
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    if event not in ("start_map", "start_array"):
        return builder.value
    depth = 1
    for _prefix, ev, val in events:
        builder.event(ev, val)
        if ev in ("start_map", "start_array"):
            depth += 1
        elif ev in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                break
    return builder.value


def outline(head: Head) -> tuple[str | None, set[str], dict[str, Any]]:
    """The shape of a JSON document from its first bytes: top type ("list"/"dict"), the keys
    of the first list item (or of the top object), and the top object's scalar values."""
    if head.text is None:
        return None, set(), {}
    stripped = head.text.lstrip()
    if not stripped or stripped[0] not in "[{":
        return None, set(), {}
    top: str | None = None
    keys: set[str] = set()
    scalars: dict[str, Any] = {}
    data = stripped.encode("utf-8")
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(data), use_float=True):
            if top is None:
                top = "list" if event == "start_array" else "dict" if event == "start_map" else None
                if top is None:
                    break
                continue
            if top == "list" and prefix == "item" and event == "map_key":
                keys.add(value)
            elif top == "list" and prefix == "" and event in ("end_map", "end_array"):
                break
            elif top == "dict" and prefix == "" and event == "map_key":
                keys.add(value)
            elif top == "dict" and prefix in ("name", "type", "id") and event != "map_key":
                scalars[prefix] = value
    except (ijson.JSONError, UnicodeDecodeError):
        pass  # the head is cut mid-document; what was seen is enough
    return top, keys, scalars
