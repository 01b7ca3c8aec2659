"""The importer interface: errors, per-item rejections, the parse context every format reader
writes to, the file/zip-member source it reads from, and the helpers they share (ids, times)."""

from __future__ import annotations

import hashlib
import io
import math
import zipfile
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import BadInput
from core.types import ImportedMessage

# How many rejections are kept with their reason; the rest are only counted (bounded memory
# on a file where every line is bad and strict mode is off).
MAX_REJECTED_KEPT = 1000
HEAD_BYTES = 64 * 1024
# Longer "lines" in a text export are damage (or not text); they are skipped in pieces.
MAX_LINE_BYTES = 1024 * 1024
# The most one export (a file, or a member of a zip once unzipped) may hold.
MAX_UNZIPPED_BYTES = 4 * 1024 * 1024 * 1024
# Plausible message times: after 1990, before 2100. Anything else is a damaged field.
MIN_TIME = 631152000.0
MAX_TIME = 4102444800.0


class ImportFileError(BadInput):
    """The file as a whole cannot be imported. The message names the file and the problem."""

    def __init__(self, label: str, problem: str, hint: str = "", code: str = "bad_input") -> None:
        self.label = label
        self.problem = problem
        self.code = code
        text = f"{label} {problem}."
        if hint:
            text += " " + hint
        super().__init__(text)


@dataclass(frozen=True, slots=True)
class Rejected:
    """One item that could not be imported; the rest of the file still is."""

    where: str  # "line 12", "item 3", 'conversation "Trip" (message 4)', "notes/a.md"
    reason: str


@dataclass(slots=True)
class Options:
    """Reader options. `tz` applies to times the export writes without a zone (WhatsApp,
    Telegram's `date` fallback, naive ISO in JSONL): None means this machine's local zone."""

    tz: tzinfo | None = None
    dayfirst: bool | None = None  # WhatsApp: None = decide from the file
    strict: bool = False  # a bad item refuses the whole file
    conversation: str | None = None  # override the conversation name (WhatsApp, notes)


def resolve_tz(tz: str | tzinfo | None) -> tzinfo | None:
    if tz is None or isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadInput(
            f"Unknown time zone {tz!r}. Use a name like 'Europe/Paris' or 'UTC'."
        ) from exc


class Source:
    """Where a reader reads from: a file, or one member of a zip archive. Can be opened more
    than once (WhatsApp scans the dates before parsing)."""

    def __init__(self, path: Path, member: str | None = None) -> None:
        self.path = path
        self.member = member

    @property
    def label(self) -> str:
        return f"{self.path.name} ({self.member})" if self.member else self.path.name

    @contextmanager
    def open(self) -> Iterator[GuardedStream]:
        try:
            if self.member is None:
                with open(self.path, "rb") as fh:
                    yield GuardedStream(fh, self.label)
            else:
                with zipfile.ZipFile(self.path) as zf, zf.open(self.member) as fh:
                    yield GuardedStream(fh, self.label)  # type: ignore[arg-type]
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
            raise ImportFileError(
                self.label, "is inside a damaged zip archive", "Export it again."
            ) from exc
        except NotImplementedError as exc:  # unsupported compression method
            raise ImportFileError(self.label, "uses a zip compression Mnemo cannot read") from exc
        except RuntimeError as exc:  # zipfile: "File ... is encrypted, password required"
            if "encrypted" in str(exc):
                raise ImportFileError(
                    self.label, "is in a password-protected zip", "Unzip it first."
                ) from exc
            raise
        except PermissionError as exc:
            raise ImportFileError(self.label, "cannot be read (permission denied)") from exc
        except OSError as exc:
            raise ImportFileError(self.label, f"cannot be read ({exc.strerror or exc})") from exc

    def head(self, size: int = HEAD_BYTES) -> bytes:
        with self.open() as fh:
            return fh.read(size)


class GuardedStream(io.RawIOBase):
    """A read-only stream that counts bytes (for error positions) and turns zip CRC/OS errors
    raised mid-read into ImportFileError."""

    def __init__(self, inner: BinaryIO, label: str) -> None:
        super().__init__()
        self._inner = inner
        self._label = label
        self._pushback = b""
        self.consumed = 0

    def unread(self, data: bytes) -> None:
        """Puts bytes back in front of the stream (after sniffing a BOM)."""
        self._pushback = data + self._pushback

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self._pushback:
            cut = len(self._pushback) if size is None or size < 0 else size
            data, self._pushback = self._pushback[:cut], self._pushback[cut:]
            return data
        try:
            data = self._inner.read(-1 if size is None else size)
        except zipfile.BadZipFile as exc:
            raise ImportFileError(
                self._label, "is inside a damaged zip archive (bad checksum)", "Export it again."
            ) from exc
        except OSError as exc:
            raise ImportFileError(self._label, f"cannot be read ({exc})") from exc
        self.consumed += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        head = b""
        if self._pushback:
            end = self._pushback.find(b"\n") + 1 or len(self._pushback)
            if 0 <= limit < end:
                end = limit
            head, self._pushback = self._pushback[:end], self._pushback[end:]
            if head.endswith(b"\n") or len(head) == limit:
                return head
            limit = -1 if limit < 0 else limit - len(head)
        try:
            line = head + self._inner.readline(limit)
        except zipfile.BadZipFile as exc:
            raise ImportFileError(
                self._label, "is inside a damaged zip archive (bad checksum)", "Export it again."
            ) from exc
        except OSError as exc:
            raise ImportFileError(self._label, f"cannot be read ({exc})") from exc
        self.consumed += len(line) - len(head)
        return line

    def lines(self) -> Iterator[bytes | None]:
        """Lines up to MAX_LINE_BYTES; a longer one is read through and given as None."""
        while True:
            line = self.readline(MAX_LINE_BYTES)
            if not line:
                return
            if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
                while True:
                    more = self.readline(MAX_LINE_BYTES)
                    if not more or more.endswith(b"\n"):
                        break
                yield None
                continue
            yield line


class StableIds:
    """Stable external ids for messages the export gives no id: sha256 of
    conversation|time|author|text|occurrence, so identical repeated messages stay distinct.
    `time` is best given as the export writes it (WhatsApp's local "31/12/23 21:41"), so the id
    survives a different time zone or date-order choice on re-import. Occurrences are counted
    per time over a sliding window of recent times: bounded memory on chronological exports."""

    def __init__(self, window: int = 512) -> None:
        self._window = window
        self._by_time: OrderedDict[str, Counter[bytes]] = OrderedDict()

    def make(
        self, conversation: str | None, time: float | str, author: str | None, text: str
    ) -> str:
        when = f"{time:.3f}" if isinstance(time, float | int) else time
        base = "\x1f".join((conversation or "", when, author or "", text)).encode(
            "utf-8", "surrogatepass"
        )
        counter = self._by_time.get(when)
        if counter is None:
            counter = self._by_time[when] = Counter()
            if len(self._by_time) > self._window:
                self._by_time.popitem(last=False)
        else:
            self._by_time.move_to_end(when)
        n = counter[base]
        counter[base] = n + 1
        return hashlib.sha256(base + b"\x1f" + str(n).encode()).hexdigest()


@dataclass
class Context:
    """What a reader writes to while it streams: rejections, skip counts, stable ids."""

    label: str
    options: Options = field(default_factory=Options)
    rejected: list[Rejected] = field(default_factory=list)
    rejected_total: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    ids: StableIds = field(default_factory=StableIds)

    def reject(self, where: str, reason: str) -> None:
        if self.options.strict:
            raise self.error(
                f"has an item that cannot be imported ({where}: {reason})",
                "Nothing from this file was imported.",
            )
        self.rejected_total += 1
        if len(self.rejected) < MAX_REJECTED_KEPT:
            self.rejected.append(Rejected(where, reason))

    def skip(self, reason: str) -> None:
        """An item left out on purpose (system notice, media without text): counted only."""
        self.skipped[reason] += 1

    def error(self, problem: str, hint: str = "") -> ImportFileError:
        return ImportFileError(self.label, problem, hint)


@dataclass(frozen=True)
class Format:
    name: str  # "chatgpt"; the memory kind is "import:" + name
    description: str  # for the "supported formats" list in errors
    read: Callable[[Source, Context], Iterator[ImportedMessage]]
    looks_like: Callable[[Head], bool]
    # Picks the member to read inside a zip export (None: this format has none there).
    zip_member: Callable[[zipfile.ZipFile], str | None] | None = None
    strict_default: bool = False


@dataclass
class Head:
    """The first bytes of a file, decoded if they are text."""

    name: str
    raw: bytes
    text: str | None  # None when not UTF-8 text or binary
    bad_offset: int | None = None  # first invalid UTF-8 byte, when text is None
    long_line: bool = False  # the first line is longer than MAX_LINE_BYTES

    @classmethod
    def of(cls, name: str, raw: bytes, complete: bool = False) -> Head:
        body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
        if b"\x00" in body:
            return cls(name, raw, None)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut by the end of the head is not an error.
            if (
                not complete
                and exc.start >= len(body) - 3
                and exc.reason == "unexpected end of data"
            ):
                text = body[: exc.start].decode("utf-8", "replace")
            else:
                return cls(name, raw, None, exc.start)
        return cls(name, raw, text)

    def first_lines(self, n: int) -> list[str]:
        if self.text is None:
            return []
        out = []
        for line in self.text.splitlines():
            if line.strip():
                out.append(line)
                if len(out) >= n:
                    break
        return out


# --- times -----------------------------------------------------------------------------------


def valid_epoch(value: object) -> float | None:
    """A number (or numeric string) of seconds since the epoch, if it is a plausible time."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    t = float(value)
    if not math.isfinite(t):
        return None
    if t > MAX_TIME * 100:  # milliseconds
        t /= 1000.0
    return t if MIN_TIME <= t <= MAX_TIME else None


def local_to_utc(naive: datetime, tz: tzinfo | None) -> float:
    """Seconds since the epoch for a wall-clock time written without a zone."""
    if tz is None:
        return naive.timestamp()  # the machine's local zone, DST included
    return naive.replace(tzinfo=tz).timestamp()


def iso_to_epoch(value: object, tz: tzinfo | None) -> float | None:
    """An ISO-8601 string to UTC seconds; a time without zone is in `tz` (None: local)."""
    if not isinstance(value, str):
        return valid_epoch(value)
    s = value.strip()
    if not s:
        return None
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return valid_epoch(s)
    try:
        t = dt.timestamp() if dt.tzinfo is not None else local_to_utc(dt, tz)
    except (OverflowError, OSError, ValueError):
        return None
    return valid_epoch(t)


def clean_text(text: str) -> str:
    """Trim, and drop NUL characters (they end strings in some tools)."""
    return text.replace("\x00", "").strip()


def sniffed_member(
    zf: zipfile.ZipFile, names: list[str], looks_like: Callable[[Head], bool]
) -> str | None:
    """The first of `names` (members of `zf`) whose first 64 KB look like the format."""
    for name in names:
        with zf.open(name) as fh:
            if looks_like(Head.of(name, fh.read(64 * 1024))):
                return name
    return None
