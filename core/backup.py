"""Encrypted backups: one file holding an encrypted copy of the database (made by SQLCipher's
backup path while writers run), the (already encrypted) media files and the key file, and the
restore that checks everything before a single file lands in the target folder.

File layout (all integers big-endian):

    b"MNEMO-BACKUP\\n"  | u32 header length | header (JSON, plaintext, authenticated)
    then chunks:        | u32 length | AES-GCM(chunk) ...  (the last one flagged "final")

The header says what the file is (format, app and schema version, creation time) and carries the
passphrase-wrapped key file, so only someone with the passphrase can open the backup. The body is
a tar stream (database copy, media, manifest with SHA-256 of every part) sealed in a chunked
AES-GCM envelope under HKDF(data key, "backup"): each chunk's nonce is its counter and its AAD
binds the header hash and a final flag, so reordering, truncation, splicing and any bit flip are
refused. The envelope (rather than a zip of the already-encrypted parts) also hides file names,
sizes and per-day media counts, which would otherwise tell when the user was active.
Nothing plaintext is written anywhere: the database copy is SQLCipher-encrypted with the same
key, and the staging folders live inside the private (0700) data folder, never in /tmp."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import struct
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core import migrations
from core.db import Connection, connect, integrity_ok
from core.errors import BadInput, UserFacingError
from core.fsutil import FILE_MODE, ensure_private_dir, fsync_dir
from core.keys import KEY_BACKUP, KEY_FILE, DataKey, unlock_key

log = logging.getLogger(__name__)

MAGIC = b"MNEMO-BACKUP\n"
FORMAT = "mnemo-backup"
FORMAT_VERSION = 1
APP_VERSION = "0.1.0"  # kept in step with pyproject.toml
CHUNK = 1 << 20
MAX_HEADER = 64 * 1024
SUFFIX = ".mnemo-backup"
DB_NAME = "mnemo.db"
MEDIA = "media"
MANIFEST = "manifest.json"


class BackupRefused(UserFacingError):
    """A backup file that cannot be restored (damaged, tampered, too new, not a backup)."""

    code = "bad_input"


class RestoreTargetNotEmpty(UserFacingError):
    code = "already_initialised"

    def __init__(self, target: Path) -> None:
        super().__init__(
            f"{target} already holds a Mnemo store (or other files). Restore into an empty or "
            "new folder, or add --force to replace it: the current contents are then moved "
            "aside to a folder next to it, not deleted."
        )


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: Path
    bytes: int
    files: int
    schema_version: int
    created: float
    seconds: float


@dataclass(frozen=True, slots=True)
class RestoreInfo:
    data_dir: Path
    files: int
    schema_version: int
    created: float
    moved_aside: Path | None
    seconds: float


# -- the envelope -------------------------------------------------------------------------------
def _nonce(counter: int) -> bytes:
    return b"\0\0\0\0" + struct.pack(">Q", counter)


def _aad(header_hash: bytes, counter: int, final: bool) -> bytes:
    return header_hash + struct.pack(">Q?", counter, final)


class _SealingWriter(io.RawIOBase):
    """A write-only stream: buffers into chunks and writes each one sealed to `out`."""

    def __init__(self, out: IO[bytes], key: bytes, header_hash: bytes) -> None:
        super().__init__()
        self._out = out
        self._aead = AESGCM(key)
        self._hash = header_hash
        self._buf = bytearray()
        self._counter = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self._buf += data
        while len(self._buf) > CHUNK:
            self._emit(bytes(self._buf[:CHUNK]), final=False)
            del self._buf[:CHUNK]
        return len(data)

    def _emit(self, chunk: bytes, final: bool) -> None:
        sealed = self._aead.encrypt(
            _nonce(self._counter), chunk, _aad(self._hash, self._counter, final)
        )
        self._out.write(struct.pack(">I", len(sealed)) + sealed)
        self._counter += 1

    def finish(self) -> None:
        self._emit(bytes(self._buf), final=True)
        self._buf.clear()


class _OpeningReader(io.RawIOBase):
    """A read-only stream of the opened chunks; raises BackupRefused on any tampering."""

    def __init__(self, src: IO[bytes], key: bytes, header_hash: bytes, name: str) -> None:
        super().__init__()
        self._src = src
        self._aead = AESGCM(key)
        self._hash = header_hash
        self._name = name
        self._buf = b""
        self._counter = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def _next(self) -> None:
        raw_len = self._src.read(4)
        if len(raw_len) != 4:
            raise _damaged(self._name, "it ends early (truncated)")
        (n,) = struct.unpack(">I", raw_len)
        if n < 16 or n > CHUNK + 16:
            raise _damaged(self._name, "a part has an impossible size")
        sealed = self._src.read(n)
        if len(sealed) != n:
            raise _damaged(self._name, "it ends early (truncated)")
        for final in (False, True):
            try:
                plain = self._aead.decrypt(
                    _nonce(self._counter), sealed, _aad(self._hash, self._counter, final)
                )
            except InvalidTag:
                continue
            self._counter += 1
            self._buf = plain
            if final:
                self._done = True
                if self._src.read(1):
                    raise _damaged(self._name, "unexpected data after the end")
            return
        raise _damaged(self._name, "its contents do not match their checksum (changed or damaged)")

    def readinto(self, b: Any) -> int:
        while not self._buf and not self._done:
            self._next()
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def drain(self) -> None:
        """Read to the authenticated end (so truncation is noticed even if tar stopped early)."""
        while not self._done:
            self._next()
            self._buf = b""


def _damaged(name: str, detail: str) -> BackupRefused:
    return BackupRefused(
        f"The backup {name} is damaged or was changed ({detail}). Nothing was restored; "
        "use another backup."
    )


# -- backup ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def private_staging(data_dir: Path, prefix: str) -> Iterator[Path]:
    """A 0700 folder inside the data folder (never /tmp), removed afterwards."""
    ensure_private_dir(data_dir)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=data_dir))
    os.chmod(path, 0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


STALE_AFTER_S = 24 * 3600


def remove_stale_staging(data_dir: Path, now: float | None = None) -> list[Path]:
    """Staging folders left by a backup that was killed (encrypted, but useless). Only old ones:
    another process (the CLI beside the app) may be backing up right now."""
    now = time.time() if now is None else now
    removed = []
    for p in data_dir.glob(".backup-*"):
        with contextlib.suppress(OSError):
            if p.is_dir() and now - p.stat().st_mtime > STALE_AFTER_S:
                shutil.rmtree(p)
                removed.append(p)
    return removed


def _copy_database(source: Connection, target_path: Path, key: DataKey) -> None:
    """SQLCipher's online backup into a new database under the same key: one step (pages=-1),
    so the copy is a consistent snapshot while the writer carries on in WAL mode."""
    fd = os.open(target_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.close(fd)
    target = connect(target_path, key)
    try:
        source.backup(target)
        target.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        target.execute("PRAGMA journal_mode = DELETE").fetchall()
    finally:
        target.close()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def create_backup(
    data_dir: Path,
    source: Connection,
    key: DataKey,
    out: Path,
    *,
    now: float | None = None,
) -> BackupInfo:
    """Write one encrypted backup file to `out` (atomically; 0600). `source` is a connection to
    the live database (a reader's is fine); `key` the unlocked data key."""
    t0 = time.perf_counter()
    data_dir = Path(data_dir)
    out = Path(out)
    if out.is_dir():
        out = out / default_name(now)
    if not out.parent.is_dir():
        raise BadInput(f"The folder {out.parent} does not exist. Choose an existing folder.")
    if out.resolve().is_relative_to(data_dir.resolve()):
        raise BadInput("Put the backup outside the data folder (e.g. on another disk).")
    key_blob = (data_dir / KEY_FILE).read_bytes()
    schema = migrations.schema_version(source)
    created = time.time() if now is None else now
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "app_version": APP_VERSION,
        "schema_version": schema,
        "created": created,
        "key_file": key_blob.decode("utf-8"),
    }
    header_bytes = json.dumps(header, sort_keys=True).encode("utf-8")
    header_hash = hashlib.sha256(header_bytes).digest()
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    files = 0
    remove_stale_staging(data_dir)
    with private_staging(data_dir, ".backup-") as staging:
        db_copy = staging / DB_NAME
        _copy_database(source, db_copy, key)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes)
                sealer = _SealingWriter(f, key.derive("backup"), header_hash)
                manifest: dict[str, dict[str, Any]] = {}
                with tarfile.open(fileobj=sealer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    parts: list[tuple[str, Path]] = [(DB_NAME, db_copy)]
                    media = data_dir / MEDIA
                    if media.is_dir():
                        parts += [
                            (p.relative_to(data_dir).as_posix(), p)
                            for p in sorted(media.rglob("*"))
                            if p.is_file() and not p.is_symlink()
                        ]
                    for name, path in parts:
                        try:
                            digest, size = _sha256(path), path.stat().st_size
                            _add_file(tar, name, path)
                        except FileNotFoundError:
                            continue  # a media item erased while we were copying
                        manifest[name] = {"sha256": digest, "bytes": size}
                        files += 1
                    doc = json.dumps({"files": manifest}, sort_keys=True).encode("utf-8")
                    info = tarfile.TarInfo(MANIFEST)
                    info.size = len(doc)
                    info.mode = 0o600
                    tar.addfile(info, io.BytesIO(doc))
                sealer.finish()
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, out)
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
    fsync_dir(out.parent)
    info_ = BackupInfo(out, out.stat().st_size, files, schema, created, time.perf_counter() - t0)
    log.info("backup written: %d files, %d bytes, %.2f s", files, info_.bytes, info_.seconds)
    return info_


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> None:
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        info = tarfile.TarInfo(name)
        info.size = st.st_size
        info.mode = 0o600
        info.mtime = int(st.st_mtime)
        tar.addfile(info, f)


def default_name(now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    return f"mnemo-{stamp}{SUFFIX}"


# -- restore --------------------------------------------------------------------------------------
def read_header(path: Path) -> tuple[dict[str, Any], bytes, int]:
    """(header, its bytes, body offset); refuses files that are not backups or are too new."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(len(MAGIC) + 4)
            if len(head) < len(MAGIC) + 4 or not head.startswith(MAGIC):
                raise BackupRefused(f"{path} is not a Mnemo backup.")
            (n,) = struct.unpack(">I", head[len(MAGIC) :])
            if n > MAX_HEADER:
                raise _damaged(str(path), "its header is too large")
            header_bytes = f.read(n)
    except OSError as e:
        raise BackupRefused(f"Cannot read the backup {path}: {e.strerror}.") from None
    try:
        header = json.loads(header_bytes.decode("utf-8"))
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise _damaged(str(path), "its header cannot be read") from None
    version = header.get("version")
    schema = header.get("schema_version")
    if not isinstance(version, int) or not isinstance(schema, int):
        raise _damaged(str(path), "its header cannot be read")
    if version > FORMAT_VERSION or schema > migrations.LATEST:
        raise BackupRefused(
            f"The backup {path} was made by a newer version of Mnemo "
            f"({header.get('app_version', '?')}, schema {schema}; this version understands up "
            f"to schema {migrations.LATEST}). Update Mnemo to restore it. Nothing was changed."
        )
    return header, header_bytes, len(MAGIC) + 4 + n


def target_is_empty(target: Path) -> bool:
    return not target.exists() or (target.is_dir() and not any(target.iterdir()))


def _safe_name(name: str) -> bool:
    if name in (DB_NAME, MANIFEST):
        return True
    parts = name.split("/")
    return (
        len(parts) >= 2
        and parts[0] == MEDIA
        and all(p not in ("", ".", "..") for p in parts)
        and "\\" not in name
    )


def restore_backup(
    backup: Path,
    target: Path,
    passphrase: str,
    *,
    force: bool = False,
    on_progress: Callable[[str], None] | None = None,
) -> RestoreInfo:
    """Restore `backup` into `target` (empty or new; with `force`, the current contents are
    moved aside first). Everything is decrypted, checked against the manifest, and the database
    opened with the key and integrity-checked in a private staging folder before anything is
    moved into place. The index is not in the backup: it is rebuilt on first unlock."""
    t0 = time.perf_counter()
    backup, target = Path(backup), Path(target).absolute()
    header, header_bytes, offset = read_header(backup)
    if not target_is_empty(target) and not force:
        raise RestoreTargetNotEmpty(target)
    key_text = header.get("key_file")
    if not isinstance(key_text, str):
        raise _damaged(str(backup), "it holds no key file")
    key_blob = key_text.encode("utf-8")
    parent = target.parent
    if not parent.exists():
        ensure_private_dir(parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.restoring-", dir=parent))
    os.chmod(staging, 0o700)
    try:
        _write_private(staging / KEY_FILE, key_blob)
        key = unlock_key(staging, passphrase)  # WrongPassphrase from the key file's tag
        try:
            if on_progress:
                on_progress("decrypting")
            files = _extract(backup, offset, header_bytes, key, staging)
            if on_progress:
                on_progress("checking")
            conn = connect(staging / DB_NAME, key)
            try:
                found = migrations.check_supported(conn)
                ok, detail = integrity_ok(conn)
                full = conn.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                conn.close()
            if not ok or full != "ok":
                raise _damaged(str(backup), f"the database inside fails its check: {detail}")
        finally:
            key.wipe()
        _write_private(staging / KEY_BACKUP, key_blob)
        for p in [staging, *staging.rglob("*")]:
            os.chmod(p, 0o700 if p.is_dir() else FILE_MODE)
        moved: Path | None = None
        if target.exists():
            if target_is_empty(target):
                target.rmdir()
            else:
                moved = parent / f"{target.name}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}"
                os.replace(target, moved)
        os.replace(staging, target)
        fsync_dir(parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    info = RestoreInfo(
        target, files, found, float(header.get("created", 0)), moved, time.perf_counter() - t0
    )
    log.info("backup restored: %d files, %.2f s", files, info.seconds)
    return info


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _extract(backup: Path, offset: int, header_bytes: bytes, key: DataKey, dest: Path) -> int:
    header_hash = hashlib.sha256(header_bytes).digest()
    written: dict[str, tuple[str, int]] = {}
    manifest: dict[str, Any] | None = None
    with open(backup, "rb") as src:
        src.seek(offset)
        reader = _OpeningReader(src, key.derive("backup"), header_hash, str(backup))
        buffered = io.BufferedReader(reader, CHUNK)
        try:
            with tarfile.open(fileobj=buffered, mode="r|") as tar:
                for member in tar:
                    if not member.isfile() or not _safe_name(member.name):
                        raise _damaged(str(backup), f"unexpected entry {member.name[:80]!r}")
                    f = tar.extractfile(member)
                    assert f is not None
                    if member.name == MANIFEST:
                        manifest = json.loads(f.read(1 << 24).decode("utf-8"))
                        continue
                    path = dest / member.name
                    ensure_private_dir(path.parent)
                    h = hashlib.sha256()
                    size = 0
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
                    with os.fdopen(fd, "wb") as out:
                        while block := f.read(1 << 20):
                            h.update(block)
                            size += len(block)
                            out.write(block)
                        out.flush()
                        os.fsync(out.fileno())
                    written[member.name] = (h.hexdigest(), size)
            reader.drain()
        except tarfile.TarError as e:
            raise _damaged(str(backup), f"its archive cannot be read: {e}") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise _damaged(str(backup), f"its manifest cannot be read: {e}") from None
    if manifest is None or not isinstance(manifest.get("files"), dict):
        raise _damaged(str(backup), "it has no manifest")
    expected = {
        name: (str(v.get("sha256")), int(v.get("bytes", -1)))
        for name, v in manifest["files"].items()
    }
    if expected != written or DB_NAME not in written:
        raise _damaged(str(backup), "its parts do not match the manifest")
    return len(written)


# -- scheduled backups ----------------------------------------------------------------------------
def backups_in(folder: Path) -> list[Path]:
    """Mnemo backups in `folder`, oldest first (by the time in their name, then mtime)."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_file() and p.name.endswith(SUFFIX)]
    return sorted(found, key=lambda p: (p.name, p.stat().st_mtime))


def to_prune(folder: Path, keep: int) -> list[Path]:
    """The backups beyond the newest `keep` (never all of them: keep >= 1)."""
    keep = max(1, keep)
    found = backups_in(folder)
    return found[:-keep] if len(found) > keep else []


def prune(folder: Path, keep: int) -> list[Path]:
    removed = []
    for p in to_prune(folder, keep):
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


def backup_due(folder: Path, every_hours: float, now: float) -> bool:
    found = backups_in(folder)
    if not found:
        return True
    last = max(p.stat().st_mtime for p in found)
    return now - last >= every_hours * 3600
