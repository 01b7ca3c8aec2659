"""Streaming JSON for big exports (ijson): one conversation or message at a time, with ijson's
errors turned into ImportFileError naming the file and where it broke."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import ijson
import numpy as np

from core.importers.base import Context, Head

_WS = b" \t\r\n"
# Real exports nest a dozen levels; ijson's prefixes grow with depth (a few MB of "[[[["
# would need GBs), so deeper input is refused before ijson sees it.
MAX_DEPTH = 200
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = np.zeros(256, dtype=np.int8)
_STEP[list(b"[{")] = 1
_STEP[list(b"]}")] = -1
_STRING_REST = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_TRAILING_BACKSLASHES = re.compile(rb"\\+$")


class TooDeep(Exception):
    pass


class DepthGuard(io.RawIOBase):
    """Passes bytes through, tracking the JSON nesting depth outside strings; raises the
    error `too_deep()` gives past MAX_DEPTH. Vectorised (regex + numpy), not per byte."""

    def __init__(self, inner: Any, too_deep: Callable[[], Exception]) -> None:
        super().__init__()
        self._inner = inner
        self._too_deep = too_deep
        self.depth = 0
        self._in_string = False
        self._escape = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = bytes(self._inner.read(-1 if size is None else size))
        self._scan(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _scan(self, data: bytes) -> None:
        pos = 0
        if self._in_string:
            pos = self._string_end(data, 1 if self._escape else 0)
            if pos < 0:
                return
        body = data[pos:]
        # Whole strings go in one C-speed pass; what is left of a quote starts a string that
        # goes on in the next chunk (a complete one would have been removed).
        outside = _STRING.sub(b"", body)
        quote = outside.find(b'"')
        if quote >= 0:
            tail = len(outside) - quote
            self._string_end(body, len(body) - tail + 1)
            outside = outside[:quote]
        brackets = outside.translate(None, _NOT_BRACKETS)
        if not brackets:
            return
        steps = _STEP[np.frombuffer(brackets, dtype=np.uint8)]
        depths = np.cumsum(steps, dtype=np.int64) + self.depth
        if int(depths.max()) > MAX_DEPTH:
            raise self._too_deep()
        self.depth = int(depths[-1])

    def _string_end(self, data: bytes, start: int) -> int:
        """End of the string that is open at `start`, or -1 if it goes on past this chunk."""
        self._escape = False
        if start > len(data):  # the escaped character is in the next chunk
            self._in_string, self._escape = True, True
            return -1
        m = _STRING_REST.match(data, start)
        if m:
            self._in_string = False
            return m.end()
        self._in_string = True
        tail = _TRAILING_BACKSLASHES.search(data, start)
        self._escape = bool(tail) and len(tail.group()) % 2 == 1  # type: ignore[union-attr]
        return -1


class PeekStream(io.RawIOBase):
    """Wraps a binary stream: skips a UTF-8 BOM and leading whitespace, exposes the first
    significant byte, then reads on, refusing absurd nesting (ijson reads from it)."""

    def __init__(self, inner: Any, ctx: Context) -> None:
        super().__init__()
        self._raw = inner
        inner = DepthGuard(
            inner, lambda: ctx.error("is nested too deeply to be a chat export (damaged?)")
        )
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
        return int(getattr(self._raw, "consumed", 0))


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
    guarded = DepthGuard(io.BytesIO(data), TooDeep)
    try:
        for prefix, event, value in ijson.parse(guarded, use_float=True):
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
    except (ijson.JSONError, UnicodeDecodeError, TooDeep):
        pass  # the head is cut mid-document (or absurd); what was seen is enough
    return top, keys, scalars
