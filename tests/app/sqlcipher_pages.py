"""Decrypt SQLCipher 4 pages with the raw data key, in memory, for byte scans (R11).

SQLCipher 4 (raw key, defaults): 4096-byte pages, each encrypted with AES-256-CBC under the key
and a per-page IV; the last 80 bytes of a page are the reserve (16-byte IV, then the
HMAC-SHA512). Page 1 keeps its first 16 bytes as the file's salt, in clear. WAL frames carry
the same encrypted pages behind a 24-byte frame header (the WAL header is 32 bytes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PAGE = 4096
RESERVE = 80
WAL_HEADER = 32
FRAME_HEADER = 24


def decrypt_page(raw: bytes, pgno: int, key: bytes) -> bytes:
    iv = raw[PAGE - RESERVE : PAGE - RESERVE + 16]
    start = 16 if pgno == 1 else 0
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(raw[start : PAGE - RESERVE]) + dec.finalize()


def database_pages(path: Path, key: bytes) -> Iterator[tuple[int, bytes]]:
    data = path.read_bytes()
    assert len(data) % PAGE == 0, "not a whole number of pages"
    for i in range(len(data) // PAGE):
        yield i + 1, decrypt_page(data[i * PAGE : (i + 1) * PAGE], i + 1, key)


def wal_pages(path: Path, key: bytes) -> Iterator[tuple[int, bytes]]:
    if not path.exists():
        return
    data = path.read_bytes()
    off = WAL_HEADER
    while off + FRAME_HEADER + PAGE <= len(data):
        pgno = int.from_bytes(data[off : off + 4], "big")
        yield pgno, decrypt_page(data[off + FRAME_HEADER : off + FRAME_HEADER + PAGE], pgno, key)
        off += FRAME_HEADER + PAGE


def plaintext_of(db_path: Path, key: bytes) -> bytes:
    """Every decrypted page of the database and of its WAL, concatenated."""
    wal = db_path.with_name(db_path.name + "-wal")
    pages = [p for _, p in database_pages(db_path, key)]
    pages += [p for _, p in wal_pages(wal, key)]
    return b"".join(pages)
