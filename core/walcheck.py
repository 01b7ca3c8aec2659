"""Reading a leftover write-ahead log before SQLite does. SQLite treats the first frame whose
checksum fails as the end of the log, which is right for a write torn by a crash (only the last
transaction can be torn) but would silently drop committed transactions if the log was damaged
in the middle. Two or more commits with the log's current salts after the first bad frame can
only mean damage, so the store is reported damaged and left untouched instead."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_MAGIC_LE = 0x377F0682
_MAGIC_BE = 0x377F0683
_HEADER = 32
_FRAME_HEADER = 24


@dataclass(frozen=True, slots=True)
class WalReport:
    valid_frames: int
    frames_after_break: int
    commits_after_break: int

    @property
    def damaged(self) -> bool:
        return self.commits_after_break >= 2


def _checksum(data: bytes, s0: int, s1: int, big_endian: bool) -> tuple[int, int]:
    words = struct.unpack((">" if big_endian else "<") + f"{len(data) // 4}I", data)
    m = 0xFFFFFFFF
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & m
        s1 = (s1 + words[i + 1] + s0) & m
    return s0, s1


def check_wal(path: Path) -> WalReport | None:
    """None when there is no log (or no header to judge by)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) < _HEADER:
        return None
    magic, _version, page_size, _seq, salt1, salt2, c0, c1 = struct.unpack(">8I", data[:_HEADER])
    if magic not in (_MAGIC_LE, _MAGIC_BE) or page_size < 512 or page_size & (page_size - 1):
        return None
    big = magic == _MAGIC_BE
    s0, s1 = _checksum(data[:24], 0, 0, big)
    if (s0, s1) != (c0, c1):
        return None  # a header that does not verify makes SQLite ignore the whole log
    frame = _FRAME_HEADER + page_size
    valid = 0
    broken_at = None
    off = _HEADER
    while off + frame <= len(data):
        head = data[off : off + _FRAME_HEADER]
        _pgno, _commit, fs1, fs2, fc0, fc1 = struct.unpack(">6I", head)
        if (fs1, fs2) != (salt1, salt2):
            break
        n0, n1 = _checksum(head[:8], s0, s1, big)
        n0, n1 = _checksum(data[off + _FRAME_HEADER : off + frame], n0, n1, big)
        if (n0, n1) != (fc0, fc1):
            broken_at = off
            break
        s0, s1 = n0, n1
        valid += 1
        off += frame
    after = commits = 0
    if broken_at is not None:
        off = broken_at
        while off + frame <= len(data):
            _pgno, commit, fs1, fs2 = struct.unpack(">4I", data[off : off + 16])
            if (fs1, fs2) == (salt1, salt2):
                after += 1
                commits += 1 if commit else 0
            off += frame
    return WalReport(valid, after, commits)
