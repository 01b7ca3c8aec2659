"""Encrypted media files (screenshots and their thumbnails). Each item has its own random
AES-GCM key, kept only in the encrypted database; erasing an item destroys the key first
(crypto-shredding), then removes the files. Files are grouped by day under media/."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.db import Connection
from core.errors import StoreDamaged
from core.fsutil import atomic_write, ensure_private_dir, folder_bytes
from core.store import Store

log = logging.getLogger(__name__)

MAGIC = b"MNM1"


@dataclass(frozen=True, slots=True)
class MediaInfo:
    id: int
    mime: str
    width: int | None
    height: int | None
    bytes: int
    time: float
    has_thumbnail: bool


def _seal(key: bytes, rel: str, data: bytes) -> bytes:
    nonce = os.urandom(12)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, data, b"mnemo-media|" + rel.encode())


def _open(key: bytes, rel: str, blob: bytes, path: Path) -> bytes:
    if len(blob) < 4 + 12 + 16 or blob[:4] != MAGIC:
        raise StoreDamaged("media file", str(path), "not a Mnemo media file")
    try:
        return AESGCM(key).decrypt(blob[4:16], blob[16:], b"mnemo-media|" + rel.encode())
    except InvalidTag:
        raise StoreDamaged("media file", str(path), "it failed its integrity check") from None


class MediaStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def root(self) -> Path:
        return self.store.media_dir

    def _new_rel(self, when: float, suffix: str) -> str:
        day = datetime.fromtimestamp(when, tz=UTC).strftime("%Y-%m-%d")
        return f"{day}/{secrets.token_hex(12)}{suffix}"

    def put(
        self,
        data: bytes,
        *,
        mime: str,
        time: float,
        width: int | None = None,
        height: int | None = None,
        thumbnail: bytes | None = None,
        app: str | None = None,
        title: str | None = None,
    ) -> int:
        """Encrypt and store one image (and its thumbnail); returns the media id.

        Files are written before the row: a crash in between leaves only ciphertext whose key
        was never stored, which `sweep_orphans` removes."""
        key = os.urandom(32)
        rel = self._new_rel(time, ".bin")
        ensure_private_dir((self.root / rel).parent)
        atomic_write(self.root / rel, _seal(key, rel, data))
        thumb_rel = None
        if thumbnail is not None:
            thumb_rel = rel.replace(".bin", ".thumb.bin")
            atomic_write(self.root / thumb_rel, _seal(key, thumb_rel, thumbnail))

        def insert(conn: Connection) -> int:
            cur = conn.execute(
                "INSERT INTO media(path, thumb_path, item_key, mime, width, height, bytes, time, "
                "app, title) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (rel, thumb_rel, key, mime, width, height, len(data), time, app, title),
            )
            return int(cur.lastrowid)

        try:
            return self.store.write(insert)
        except BaseException:
            self._unlink(rel, thumb_rel)
            raise

    def _row(self, media_id: int) -> tuple[str, str | None, bytes | None] | None:
        row = (
            self.store.reader()
            .execute("SELECT path, thumb_path, item_key FROM media WHERE id = ?", (media_id,))
            .fetchone()
        )
        return (row[0], row[1], row[2]) if row else None

    def load(self, media_id: int) -> bytes | None:
        """The decrypted image bytes, or None when the item is gone (erased)."""
        row = self._row(media_id)
        if row is None or row[2] is None:
            return None
        path = self.root / row[0]
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        return _open(row[2], row[0], blob, path)

    def thumbnail(self, media_id: int) -> bytes | None:
        row = self._row(media_id)
        if row is None or row[1] is None or row[2] is None:
            return None
        path = self.root / row[1]
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        return _open(row[2], row[1], blob, path)

    def info(self, media_id: int) -> MediaInfo | None:
        row = (
            self.store.reader()
            .execute(
                "SELECT id, mime, width, height, bytes, time, thumb_path FROM media WHERE id = ? "
                "AND item_key IS NOT NULL",
                (media_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return MediaInfo(row[0], row[1], row[2], row[3], row[4], row[5], row[6] is not None)

    # -- erasure ----------------------------------------------------------------------------
    @staticmethod
    def destroy_keys(conn: Connection, media_ids: list[int]) -> list[tuple[str, str | None]]:
        """Inside the caller's transaction: forget the keys and rows of these items; returns
        the files to remove once the transaction has committed."""
        files: list[tuple[str, str | None]] = []
        for mid in media_ids:
            row = conn.execute("SELECT path, thumb_path FROM media WHERE id = ?", (mid,)).fetchone()
            if row is None:
                continue
            files.append((row[0], row[1]))
            conn.execute("UPDATE media SET item_key = NULL WHERE id = ?", (mid,))
            conn.execute("DELETE FROM media WHERE id = ?", (mid,))
        return files

    def remove_files(self, files: list[tuple[str, str | None]]) -> int:
        removed = 0
        for rel, thumb in files:
            removed += self._unlink(rel, thumb)
        return removed

    def _unlink(self, rel: str, thumb: str | None) -> int:
        n = 0
        for r in (rel, thumb):
            if r is None:
                continue
            try:
                (self.root / r).unlink()
                n += 1
            except FileNotFoundError:
                pass
        return n

    def sweep_orphans(self, older_than: float | None = None) -> int:
        """Remove media files no row refers to (a crash between file write and row commit, or
        between key destruction and file removal). Their keys are gone: they are noise.
        `older_than` (a time.time()) spares files written since: they belong to captures of
        this session whose rows may not be committed yet."""
        if not self.root.exists():
            return 0
        known: set[str] = set()
        for path, thumb in self.store.reader().execute("SELECT path, thumb_path FROM media"):
            known.add(path)
            if thumb:
                known.add(thumb)
        removed = 0
        for p in self.root.rglob("*"):
            if p.is_file():
                rel = p.relative_to(self.root).as_posix()
                if older_than is not None and _mtime(p) >= older_than:
                    continue
                if rel not in known:
                    p.unlink()
                    removed += 1
        if removed:
            log.info("removed %d orphaned media files", removed)
        return removed

    def total_bytes(self) -> int:
        return folder_bytes(self.root)


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except FileNotFoundError:  # an atomic write renamed it meanwhile
        return float("inf")
