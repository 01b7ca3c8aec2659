"""The durable capture backlog: screen frames waiting for OCR, oldest first. Each frame (its
pixels with excluded windows already black, what changed on it, and the exclusion decision) is
one file sealed with AES-GCM under its own random key, which lives only in the encrypted
database (capture_backlog.item_key), like media: no frame is ever plaintext on disk, and
dropping a frame destroys its key first, then removes its file. Survives quit, crash and lock;
a file whose row never committed (crash in between) has no key and is swept as noise."""

from __future__ import annotations

import json
import logging
import os
import secrets
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.capture.change import FrameChange, TileSignature
from core.capture.exclusions import CaptureDecision, ExcludedBecause
from core.capture.geometry import Rect
from core.db import Connection
from core.fsutil import atomic_write, ensure_private_dir
from core.interfaces import WindowInfo
from core.store import Store

log = logging.getLogger(__name__)

MAGIC = b"MNB1"
BACKLOG_DIR = "backlog"
# zlib level 1: screen content compresses ~10-30x at ~30 ms per 1080p frame on one core.
_LEVEL = 1


@dataclass(slots=True)
class QueuedFrame:
    """One monitor's frame as it waits for OCR. `pixels` are BGRA with the excluded windows
    blacked out (they are never written, not even encrypted)."""

    time: float
    monitor_key: str
    monitor_index: int
    pixels: np.ndarray
    change: FrameChange
    decision: CaptureDecision
    forced: bool = False
    id: int | None = None


@dataclass(frozen=True, slots=True)
class BacklogEntry:
    id: int
    time: float
    monitor: str
    bytes: int


@dataclass(frozen=True, slots=True)
class BacklogSummary:
    count: int
    bytes: int
    oldest: float | None


def _window_json(w: WindowInfo) -> list[Any]:
    return [w.app, w.title, w.x, w.y, w.w, w.h, w.domain, w.active]


def _window(v: list[Any]) -> WindowInfo:
    return WindowInfo(str(v[0]), str(v[1]), int(v[2]), int(v[3]), int(v[4]), int(v[5]),
                      v[6], bool(v[7]))  # fmt: skip


def encode_frame(f: QueuedFrame) -> bytes:
    """The frame as bytes: a JSON header, then the raw arrays it names (no pickle)."""
    sig = f.change.signature
    d = f.decision
    arrays: dict[str, np.ndarray] = {
        "hashes": np.ascontiguousarray(sig.hashes, dtype=np.uint64),
        "row_edges": np.ascontiguousarray(sig.row_edges, dtype=np.int64),
        "col_edges": np.ascontiguousarray(sig.col_edges, dtype=np.int64),
        "tiles": np.ascontiguousarray(f.change.tiles, dtype=np.uint8),
    }
    header: dict[str, Any] = {
        "time": f.time,
        "monitor_key": f.monitor_key,
        "monitor_index": f.monitor_index,
        "forced": f.forced,
        "shape": list(f.pixels.shape),
        "change": {
            "changed": f.change.changed,
            "first": f.change.first,
            "blank": f.change.blank,
            "regions": [list(r) for r in f.change.regions],
            "width": sig.width,
            "height": sig.height,
        },
        "decision": {
            "blackout": [list(r) for r in d.blackout],
            "active": _window_json(d.active) if d.active else None,
            "active_excluded": d.active_excluded,
            "windows": [[_window_json(w), list(r)] for w, r in d.windows],
            "excluded": [e.value for e in d.excluded],
        },
        "arrays": {k: [list(a.shape), str(a.dtype), a.nbytes] for k, a in arrays.items()},
    }
    head = json.dumps(header).encode()
    # The array's own buffer, not a tobytes() copy of it (8 MB at 1080p).
    pixels = zlib.compress(np.ascontiguousarray(f.pixels, dtype=np.uint8).data, _LEVEL)
    parts = [struct.pack(">I", len(head)), head, *(a.tobytes() for a in arrays.values()), pixels]
    return b"".join(parts)


def decode_frame(data: bytes) -> QueuedFrame:
    (n,) = struct.unpack(">I", data[:4])
    header = json.loads(data[4 : 4 + n])
    pos = 4 + n
    arrays: dict[str, np.ndarray] = {}
    for name, (shape, dtype, nbytes) in header["arrays"].items():
        arrays[name] = np.frombuffer(data[pos : pos + nbytes], dtype=dtype).reshape(shape).copy()
        pos += nbytes
    shape = tuple(header["shape"])
    # The output's size is known: zlib otherwise grows its buffer from 16 KB by copying, which
    # cost twice the inflating itself (20 ms instead of 7 ms for a 1080p frame).
    size = int(np.prod(shape))
    raw = zlib.decompress(memoryview(data)[pos:], bufsize=max(1, size))
    pixels = np.frombuffer(raw, dtype=np.uint8).reshape(shape).copy()  # writable: blacked out
    c = header["change"]
    sig = TileSignature(c["width"], c["height"], arrays["hashes"], arrays["row_edges"],
                        arrays["col_edges"])  # fmt: skip
    change = FrameChange(
        changed=bool(c["changed"]),
        first=bool(c["first"]),
        blank=bool(c["blank"]),
        tiles=arrays["tiles"].astype(bool),
        regions=[Rect(*r) for r in c["regions"]],
        signature=sig,
    )
    d = header["decision"]
    decision = CaptureDecision(
        drop=False,
        blackout=[Rect(*r) for r in d["blackout"]],
        active=_window(d["active"]) if d["active"] else None,
        active_excluded=bool(d["active_excluded"]),
        windows=[(_window(w), Rect(*r)) for w, r in d["windows"]],
        excluded=[ExcludedBecause(e) for e in d["excluded"]],
    )
    return QueuedFrame(
        time=float(header["time"]),
        monitor_key=str(header["monitor_key"]),
        monitor_index=int(header["monitor_index"]),
        pixels=pixels,
        change=change,
        decision=decision,
        forced=bool(header["forced"]),
    )


def _aad(rel: str) -> bytes:
    return b"mnemo-backlog|" + rel.encode()


class FrameBacklog:
    """The queue on disk. Writes go through the store's writer; reads use the caller's
    thread's reader connection. Safe to share between the grab thread and the OCR worker."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def root(self) -> Path:
        return self.store.data_dir / BACKLOG_DIR

    def put(self, frame: QueuedFrame) -> BacklogEntry:
        """Seal and store one frame; returns its entry (file first, then the row: a crash in
        between leaves a file without a key, removed by `sweep_orphans`)."""
        data = encode_frame(frame)
        key = os.urandom(32)
        rel = f"{secrets.token_hex(12)}.bin"
        ensure_private_dir(self.root)
        nonce = os.urandom(12)
        atomic_write(self.root / rel, MAGIC + nonce + AESGCM(key).encrypt(nonce, data, _aad(rel)))
        size = len(data)

        def insert(conn: Connection) -> int:
            cur = conn.execute(
                "INSERT INTO capture_backlog(time, monitor, path, item_key, bytes) "
                "VALUES (?,?,?,?,?)",
                (frame.time, frame.monitor_key, rel, key, size),
            )
            return int(cur.lastrowid)

        try:
            fid = self.store.write(insert)
        except BaseException:
            self._unlink(rel)
            raise
        frame.id = fid
        return BacklogEntry(fid, frame.time, frame.monitor_key, size)

    def entries(self, limit: int = 1000) -> list[BacklogEntry]:
        """Queued frames, oldest first."""
        rows = self.store.reader().execute(
            "SELECT id, time, monitor, bytes FROM capture_backlog WHERE item_key IS NOT NULL "
            "ORDER BY time, id LIMIT ?",
            (limit,),
        )
        return [BacklogEntry(int(a), float(b), str(c), int(d)) for a, b, c, d in rows]

    def summary(self) -> BacklogSummary:
        n, size, oldest = (
            self.store.reader()
            .execute("SELECT count(*), coalesce(sum(bytes), 0), min(time) FROM capture_backlog")
            .fetchone()
        )
        return BacklogSummary(int(n), int(size), None if oldest is None else float(oldest))

    def load(self, frame_id: int) -> QueuedFrame | None:
        """The decrypted frame, or None when it is gone (dropped or erased meanwhile). A file
        that fails its integrity check is dropped and reported (never read)."""
        row = (
            self.store.reader()
            .execute("SELECT path, item_key FROM capture_backlog WHERE id = ?", (frame_id,))
            .fetchone()
        )
        if row is None or row[1] is None:
            return None
        rel, key = str(row[0]), bytes(row[1])
        try:
            blob = (self.root / rel).read_bytes()
        except FileNotFoundError:
            self.drop([frame_id])
            return None
        try:
            if len(blob) < 32 or blob[:4] != MAGIC:
                raise InvalidTag()
            data = AESGCM(key).decrypt(blob[4:16], blob[16:], _aad(rel))
            frame = decode_frame(data)
        except (InvalidTag, ValueError, KeyError, zlib.error, struct.error):
            log.error("queued frame %d is damaged; it was dropped", frame_id)
            self.drop([frame_id])
            return None
        frame.id = frame_id
        return frame

    @staticmethod
    def destroy_keys(conn: Connection, ids: list[int]) -> list[str]:
        """Inside the caller's transaction: forget these frames' keys and rows; returns the
        files to remove after the commit."""
        files: list[str] = []
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            files += [r[0] for r in conn.execute(
                f"SELECT path FROM capture_backlog WHERE id IN ({marks})", part)]  # fmt: skip
            conn.execute(f"UPDATE capture_backlog SET item_key = NULL WHERE id IN ({marks})", part)
            conn.execute(f"DELETE FROM capture_backlog WHERE id IN ({marks})", part)
        return files

    def drop(self, ids: list[int]) -> int:
        """Remove frames (read, coalesced, over the cap or erased): key, row, then file."""
        if not ids:
            return 0
        files = self.store.write(lambda c: self.destroy_keys(c, ids))
        for rel in files:
            self._unlink(rel)
        return len(files)

    def erase_range(self, since: float | None, until: float | None) -> int:
        """Drop every queued frame taken in [since, until] (None: unbounded), e.g. when the
        user erases a time range or everything: a queued frame must not be read afterwards."""
        lo = -1e18 if since is None else since
        hi = 1e18 if until is None else until
        ids = [int(r[0]) for r in self.store.reader().execute(
            "SELECT id FROM capture_backlog WHERE time >= ? AND time <= ?", (lo, hi))]  # fmt: skip
        return self.drop(ids)

    def sweep_orphans(self, min_age_s: float = 60.0) -> int:
        """Remove backlog files no row names (their key never committed or is gone). Files
        younger than `min_age_s` are left: their row may be about to commit."""
        if not self.root.exists():
            return 0
        known = {r[0] for r in self.store.reader().execute("SELECT path FROM capture_backlog")}
        removed = 0
        cutoff = time.time() - min_age_s
        for p in self.root.iterdir():
            try:
                if p.is_file() and p.name not in known and p.stat().st_mtime <= cutoff:
                    p.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        if removed:
            log.info("removed %d orphaned backlog files", removed)
        return removed

    def _unlink(self, rel: str) -> None:
        try:
            (self.root / rel).unlink()
        except FileNotFoundError:
            pass
