"""An encrypted, append-only spill buffer for work that must wait for one commit (a whole
imported file) but is too large to hold in memory. Each chunk is sealed with AES-GCM under a
random key that exists only in this object: the file is unreadable noise to anyone else, and
after a crash (key gone) it is removed as garbage on the next start."""

from __future__ import annotations

import contextlib
import os
import pickle
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.fsutil import ensure_private_dir

PREFIX = "spill-"


class EncryptedSpill:
    def __init__(self, folder: Path) -> None:
        ensure_private_dir(folder)
        self._key = AESGCM(os.urandom(32))
        self.path = folder / f"{PREFIX}{os.urandom(8).hex()}.bin"
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "w+b")
        self.chunks = 0

    def append(self, obj: Any) -> None:
        nonce = os.urandom(12)
        # Only this object's own chunks are ever unpickled, after their tag checked out.
        sealed = self._key.encrypt(
            nonce, pickle.dumps(obj, protocol=5), struct.pack(">Q", self.chunks)
        )
        self._file.write(struct.pack(">I", len(sealed)) + nonce + sealed)
        self.chunks += 1

    def __iter__(self) -> Iterator[Any]:
        self._file.flush()
        self._file.seek(0)
        for n in range(self.chunks):
            (size,) = struct.unpack(">I", self._file.read(4))
            nonce = self._file.read(12)
            blob = self._file.read(size)
            yield pickle.loads(self._key.decrypt(nonce, blob, struct.pack(">Q", n)))
        self._file.seek(0, os.SEEK_END)

    def close(self) -> None:
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> EncryptedSpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def remove_leftovers(folder: Path) -> int:
    """Spill files left by a crash: their keys died with the process."""
    if not folder.exists():
        return 0
    n = 0
    for p in folder.glob(PREFIX + "*.bin"):
        with contextlib.suppress(OSError):
            p.unlink()
            n += 1
    return n
