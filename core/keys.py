"""The key hierarchy: a random 256-bit data key, wrapped with AES-GCM under a key derived from
the passphrase (scrypt), kept in a small key file with a backup copy. Sub-keys for media, the
index snapshot and backups come from the data key through HKDF."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from core.errors import StoreDamaged, WrongPassphrase
from core.fsutil import atomic_write

KEY_FILE = "mnemo.key"
KEY_BACKUP = "mnemo.key.bak"
FORMAT = "mnemo-key"
VERSION = 1


@dataclass(frozen=True, slots=True)
class KdfParams:
    # 2**17 x 8 x 128 B = 128 MiB of memory per guess; about 0.75 s on the reference machine.
    n: int = 2**17
    r: int = 8
    p: int = 1

    def derive(self, passphrase: str, salt: bytes) -> bytes:
        kdf = Scrypt(salt=salt, length=32, n=self.n, r=self.r, p=self.p)
        return kdf.derive(passphrase.encode("utf-8"))


DEFAULT_KDF = KdfParams()
# Only for tests that create many stores: same code path, cheaper guess cost.
TEST_KDF = KdfParams(n=2**10, r=8, p=1)


class DataKey:
    """The unwrapped data key. Kept in a bytearray so `wipe` can overwrite it on lock."""

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise ValueError("data key must be 32 bytes")
        self._raw = bytearray(raw)

    @property
    def raw(self) -> bytes:
        if not any(self._raw):
            raise RuntimeError("data key was wiped")
        return bytes(self._raw)

    def sqlcipher_pragma_value(self) -> str:
        return "x'" + self.raw.hex() + "'"

    def derive(self, purpose: str) -> bytes:
        """A 256-bit sub-key for one purpose ("media", "index", "backup")."""
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"mnemo/" + purpose.encode("ascii"),
        )
        return hkdf.derive(self.raw)

    def wipe(self) -> None:
        for i in range(len(self._raw)):
            self._raw[i] = 0

    def __repr__(self) -> str:  # never show key bytes
        return "DataKey(<hidden>)"


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: Any) -> bytes:
    if not isinstance(s, str):
        raise ValueError("expected base64 text")
    return base64.b64decode(s, validate=True)


def _header(params: KdfParams, salt: bytes) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "kdf": {"name": "scrypt", "n": params.n, "r": params.r, "p": params.p, "salt": _b64(salt)},
    }


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")


def wrap_key(data_key: DataKey, passphrase: str, params: KdfParams) -> bytes:
    salt = os.urandom(16)
    header = _header(params, salt)
    kek = params.derive(passphrase, salt)
    nonce = os.urandom(12)
    wrapped = AESGCM(kek).encrypt(nonce, data_key.raw, _aad(header))
    doc = dict(header, nonce=_b64(nonce), wrapped=_b64(wrapped))
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8")


@dataclass(slots=True)
class _Parsed:
    header: dict[str, Any]
    params: KdfParams
    salt: bytes
    nonce: bytes
    wrapped: bytes


def _parse(path: Path, blob: bytes) -> _Parsed:
    try:
        doc = json.loads(blob.decode("utf-8"))
        if doc.get("format") != FORMAT:
            raise ValueError("not a Mnemo key file")
        if doc.get("version") != VERSION:
            raise ValueError(f"unknown key file version {doc.get('version')!r}")
        kdf = doc["kdf"]
        if kdf.get("name") != "scrypt":
            raise ValueError("unknown key derivation")
        params = KdfParams(n=int(kdf["n"]), r=int(kdf["r"]), p=int(kdf["p"]))
        salt = _unb64(kdf["salt"])
        header = _header(params, salt)
        nonce, wrapped = _unb64(doc["nonce"]), _unb64(doc["wrapped"])
        if len(nonce) != 12 or len(wrapped) != 48:
            raise ValueError("wrong field sizes")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, AttributeError) as e:
        raise StoreDamaged("key file", str(path), str(e)) from e
    return _Parsed(header, params, salt, nonce, wrapped)


def _read_parsed(data_dir: Path) -> _Parsed:
    """The main key file, or its backup copy when the main one is damaged or missing."""
    return _read_both(data_dir)[0]


@dataclass(slots=True)
class _KeyFiles:
    """What was read: the copy used, and which of the two files need rewriting."""

    used: bytes
    main_problem: str | None  # why the main file could not be used ("missing", "damaged…")
    backup_problem: str | None


def _read_both(data_dir: Path) -> tuple[_Parsed, _KeyFiles]:
    main, backup = data_dir / KEY_FILE, data_dir / KEY_BACKUP
    problems: dict[Path, str | None] = {}
    parsed: dict[Path, tuple[_Parsed, bytes]] = {}
    first: BaseException | None = None
    for path in (main, backup):
        try:
            blob = path.read_bytes()
            parsed[path] = (_parse(path, blob), blob)
            problems[path] = None
        except FileNotFoundError as e:
            problems[path] = "missing"
            first = first or StoreDamaged("key file", str(main), "missing")
            first.__cause__ = e
        except StoreDamaged as e:
            problems[path] = e.detail or "damaged"
            first = first or e
    pick = main if main in parsed else backup if backup in parsed else None
    if pick is None:
        assert first is not None
        raise first
    p, blob = parsed[pick]
    return p, _KeyFiles(blob, problems[main], problems[backup])


def key_file_exists(data_dir: Path) -> bool:
    return (data_dir / KEY_FILE).exists() or (data_dir / KEY_BACKUP).exists()


def create_key_file(data_dir: Path, passphrase: str, params: KdfParams = DEFAULT_KDF) -> DataKey:
    data_key = DataKey(os.urandom(32))
    blob = wrap_key(data_key, passphrase, params)
    atomic_write(data_dir / KEY_FILE, blob)
    atomic_write(data_dir / KEY_BACKUP, blob)
    return data_key


def unlock_key(data_dir: Path, passphrase: str) -> DataKey:
    """Unwrap the data key. A wrong passphrase is told by the AEAD tag, not by the database."""
    return unlock_key_repairing(data_dir, passphrase)[0]


def unlock_key_repairing(data_dir: Path, passphrase: str) -> tuple[DataKey, list[str]]:
    """Unwrap the data key; when one of the two key files is missing or damaged and the other
    opened with this passphrase, rewrite the bad one from the good one (the damaged file is
    kept beside it as `<name>.damaged`), and say so: the returned notices are for the user."""
    parsed, files = _read_both(data_dir)
    kek = parsed.params.derive(passphrase, parsed.salt)
    try:
        raw = AESGCM(kek).decrypt(parsed.nonce, parsed.wrapped, _aad(parsed.header))
    except InvalidTag:
        raise WrongPassphrase() from None
    notices = []
    for name, problem in ((KEY_FILE, files.main_problem), (KEY_BACKUP, files.backup_problem)):
        if problem is None:
            continue
        path = data_dir / name
        if path.exists():
            os.replace(path, path.with_name(name + ".damaged"))
        atomic_write(path, files.used)
        other = KEY_BACKUP if name == KEY_FILE else KEY_FILE
        notices.append(
            f"The key file {path} was {'missing' if problem == 'missing' else 'damaged'}; it "
            f"was rewritten from its copy {other}"
            + (f" (the damaged one is kept as {name}.damaged)" if problem != "missing" else "")
            + ". Your data is safe; if this happens again, check the disk."
        )
    return DataKey(raw), notices


def change_passphrase(data_dir: Path, old: str, new: str, params: KdfParams | None = None) -> None:
    """Rewrap the data key under `new`. The database is not rewritten.

    Order matters for a crash at any point: the backup copy is written first, then the main
    file (each an atomic rename). The backup is only read when the main file is damaged, so the
    store always opens with exactly one of old/new."""
    current = _read_parsed(data_dir)
    data_key = unlock_key(data_dir, old)
    try:
        blob = wrap_key(data_key, new, params or current.params)
        atomic_write(data_dir / KEY_BACKUP, blob)
        atomic_write(data_dir / KEY_FILE, blob)
    finally:
        data_key.wipe()
