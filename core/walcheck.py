"""Reading a leftover write-ahead log before SQLite does. SQLite treats the first frame whose
checksum fails as the end of the log, and a log whose header fails its checksum as empty. That is
right for a write torn by a crash (only the last transaction can be torn, and a header is only
rewritten when the log restarts, after everything in it was checkpointed), but it would silently
drop committed transactions if the log was damaged. So: two or more commits with the log's salts
after the first bad frame, or a damaged header in front of frames that verify, can only mean
damage; the store is then reported damaged and left untouched instead."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_MAGIC_LE = 0x377F0682
_MAGIC_BE = 0x377F0683
_HEADER = 32
_FRAME_HEADER = 24
_PAGE_SIZES = (4096, 1024, 8192, 16384, 32768, 65536, 512, 2048)


@dataclass(frozen=True, slots=True)
class WalReport:
    valid_frames: int
    frames_after_break: int
    commits_after_break: int
    header_damaged: bool = False
    # Frames the log's index (-shm) says were committed, when it describes this log and holds
    # more than the file now does: the log was cut short.
    expected_frames: int | None = None

    @property
    def damaged(self) -> bool:
        return (
            self.header_damaged or self.commits_after_break >= 2 or self.expected_frames is not None
        )

    def describe(self) -> str:
        if self.expected_frames is not None:
            return (
                f"it is cut short: its index says {self.expected_frames} frames were saved, "
                f"the file holds {self.valid_frames}"
            )
        if self.header_damaged:
            return "its header fails its checksum, in front of saved changes"
        return (
            f"{self.commits_after_break} saved changes after frame {self.valid_frames} "
            "fail their checksum"
        )


def _shm_frames(shm: Path, wal_header: bytes) -> int | None:
    """mxFrame from the log's index (the -shm file) when its header is intact and describes
    this log (same salts); None otherwise. Frames up to mxFrame were committed: with
    synchronous=FULL the log is synced before the index says so, so a log holding fewer
    frames than that was cut short, not torn by a crash."""
    try:
        with open(shm, "rb") as fh:
            head = fh.read(96)
    except OSError:
        return None
    if len(head) < 96 or head[:48] != head[48:96]:
        return None
    version, _u, _change, is_init, big, _size, mx_frame = struct.unpack("=IIIBBHI", head[:20])
    if version != 3007000 or is_init != 1:
        return None
    if head[32:40] != wal_header[16:24]:  # the salts, copied as they are in the log
        return None
    if _checksum(head[:40], 0, 0, bool(big)) != struct.unpack("=2I", head[40:48]):
        return None
    return int(mx_frame)


def _checksum(data: bytes, s0: int, s1: int, big_endian: bool) -> tuple[int, int]:
    words = struct.unpack((">" if big_endian else "<") + f"{len(data) // 4}I", data)
    m = 0xFFFFFFFF
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & m
        s1 = (s1 + words[i + 1] + s0) & m
    return s0, s1


@dataclass(frozen=True, slots=True)
class _Walk:
    valid: int
    commits: int
    broken_at: int | None


def _walk(
    data: bytes, big: bool, page_size: int, salts: tuple[int, int], seed: tuple[int, int]
) -> _Walk:
    frame = _FRAME_HEADER + page_size
    s0, s1 = seed
    valid = commits = 0
    off = _HEADER
    while off + frame <= len(data):
        head = data[off : off + _FRAME_HEADER]
        _pgno, commit, fs1, fs2, fc0, fc1 = struct.unpack(">6I", head)
        if (fs1, fs2) != salts:
            return _Walk(valid, commits, None)
        n0, n1 = _checksum(head[:8], s0, s1, big)
        n0, n1 = _checksum(data[off + _FRAME_HEADER : off + frame], n0, n1, big)
        if (n0, n1) != (fc0, fc1):
            return _Walk(valid, commits, off)
        s0, s1 = n0, n1
        valid += 1
        commits += 1 if commit else 0
        off += frame
    return _Walk(valid, commits, None)


def _header_damaged(data: bytes) -> bool:
    """The header does not verify: are there committed frames behind it anyway?"""
    _m, _v, page_size, _seq, salt1, salt2, c0, c1 = struct.unpack(">8I", data[:_HEADER])
    sizes = dict.fromkeys((page_size, *_PAGE_SIZES))
    for size in sizes:
        if size < 512 or size & (size - 1) or len(data) < _HEADER + _FRAME_HEADER + size:
            continue
        first_salts = struct.unpack(">2I", data[_HEADER + 8 : _HEADER + 16])
        for big in (False, True):
            computed = _checksum(data[:24], 0, 0, big)
            for salts in dict.fromkeys(((salt1, salt2), first_salts)):
                for seed in dict.fromkeys(((c0, c1), computed)):
                    if _walk(data, big, size, salts, seed).commits >= 1:
                        return True
    return False


def _torn(data: bytes, page_size: int) -> bool:
    return (len(data) - _HEADER) % (_FRAME_HEADER + page_size) != 0


def check_wal(path: Path) -> WalReport | None:
    """None when there is no log (or nothing in it to judge by)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) < _HEADER:
        return None
    magic, _version, page_size, _seq, salt1, salt2, c0, c1 = struct.unpack(">8I", data[:_HEADER])
    big = magic == _MAGIC_BE
    header_ok = (
        magic in (_MAGIC_LE, _MAGIC_BE)
        and page_size >= 512
        and not page_size & (page_size - 1)
        and _checksum(data[:24], 0, 0, big) == (c0, c1)
    )
    if not header_ok:
        if _header_damaged(data):
            return WalReport(0, 0, 0, header_damaged=True)
        return None  # SQLite ignores this log, and nothing committed is in it
    walk = _walk(data, big, page_size, (salt1, salt2), (c0, c1))
    if walk.broken_at is None:
        expected = _shm_frames(path.with_name(path.name[: -len("-wal")] + "-shm"), data[:32])
        # A last frame cut part-way is a write torn by the crash itself; whole frames the
        # index counted as saved and the file no longer holds are damage.
        if expected is not None and expected > walk.valid + (1 if _torn(data, page_size) else 0):
            return WalReport(walk.valid, 0, 0, expected_frames=expected)
    after = commits = 0
    if walk.broken_at is not None:
        frame = _FRAME_HEADER + page_size
        off = walk.broken_at
        while off + frame <= len(data):
            _pgno, commit, fs1, fs2 = struct.unpack(">4I", data[off : off + 16])
            if (fs1, fs2) == (salt1, salt2):
                after += 1
                commits += 1 if commit else 0
            off += frame
    return WalReport(walk.valid, after, commits)
