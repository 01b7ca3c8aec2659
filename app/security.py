"""Security services: slowing repeated wrong unlocks, the optional system-keyring unlock, and
scheduled backups. No widgets; the settings page and the CLI call these.

Why the unlock throttle lives in the user's runtime folder and not in the data folder: a wrong
passphrase must leave every file of the store byte-identical (R4), and anyone who can run Mnemo
can also copy the key file and guess offline, where only the KDF's cost (128 MiB, ~0.75 s per
guess) slows them down. The throttle is there to make guessing through the app itself (GUI,
CLI, any caller of Services.unlock) slow, across processes of the same login session; the
counter file ($XDG_RUNTIME_DIR, tmpfs, 0600) holds no secret and is forgotten at reboot."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import UserFacingError
from core.fsutil import atomic_write, ensure_private_dir

log = logging.getLogger(__name__)

KEYRING_SERVICE = "Mnemo"


# -- unlock throttle ------------------------------------------------------------------------------
def delay_after(failures: int) -> float:
    """Seconds to wait before the next try: none for the first two mistakes, then doubling up to
    a minute (the same curve the unlock window counts down)."""
    return 0.0 if failures < 3 else float(min(2 ** (failures - 2), 60))


class UnlockThrottle:
    """Counts wrong passphrases for one data folder and makes the next try wait."""

    def __init__(
        self,
        data_dir: Path,
        runtime_dir: Path | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._sleep = sleep
        self._clock = clock
        self._failures = 0
        self._last = 0.0
        base = runtime_dir or _runtime_dir()
        tag = hashlib.sha256(str(Path(data_dir).absolute()).encode("utf-8")).hexdigest()[:16]
        self._path = base / "mnemo" / f"unlock-{tag}.json" if base else None
        self._load()

    def _load(self) -> None:
        if self._path is None:
            return
        try:
            doc = json.loads(self._path.read_text(encoding="utf-8"))
            self._failures = int(doc.get("failures", 0))
            self._last = float(doc.get("last", 0.0))
        except (OSError, ValueError, TypeError, AttributeError):
            pass

    def _save(self) -> None:
        if self._path is None:
            return
        try:
            ensure_private_dir(self._path.parent)
            doc = {"failures": self._failures, "last": self._last}
            atomic_write(self._path, json.dumps(doc).encode("utf-8"))
        except OSError:
            log.warning("could not record the unlock failure count")

    @property
    def failures(self) -> int:
        return self._failures

    def wait_needed(self) -> float:
        with self._lock:
            self._load()
            left = delay_after(self._failures) - (self._clock() - self._last)
            return max(0.0, left)

    def before_attempt(self) -> None:
        left = self.wait_needed()
        if left > 0:
            log.info("unlock slowed down by %.0f s after %d failures", left, self._failures)
            self._sleep(left)

    def failed(self) -> None:
        with self._lock:
            self._load()
            self._failures += 1
            self._last = self._clock()
            self._save()

    def succeeded(self) -> None:
        with self._lock:
            if self._failures == 0 and (self._path is None or not self._path.exists()):
                return
            self._failures = 0
            self._last = 0.0
            if self._path is not None:
                with contextlib.suppress(OSError):
                    self._path.unlink()


def _runtime_dir() -> Path | None:
    env = os.environ.get("XDG_RUNTIME_DIR")
    if env and Path(env).is_dir():
        return Path(env)
    return None


# -- child processes ------------------------------------------------------------------------------
SECRET_ENV = ("MNEMO_PASSPHRASE",)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for any child process (the model host, helpers): ours without the
    passphrase variables. Keys and passphrases are never passed in arguments either; a child
    that needs key material gets it over a pipe."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_ENV}
    env.update(extra or {})
    return env


# -- system keyring -------------------------------------------------------------------------------
class KeyringUnavailable(UserFacingError):
    code = "unavailable"

    def __init__(self, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(
            "No system keyring is available on this computer" + extra + ", so Mnemo cannot "
            "unlock at login. Install and unlock a keyring (e.g. GNOME Keyring or KWallet) "
            "and try again; until then Mnemo asks for your passphrase."
        )


def _keyring() -> Any:
    try:
        import keyring
        from keyring.backends import fail
    except ImportError as e:
        raise KeyringUnavailable("the keyring package is not installed") from e
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        raise KeyringUnavailable("no backend found")
    return keyring


def keyring_available() -> tuple[bool, str]:
    try:
        kr = _keyring()
    except KeyringUnavailable as e:
        return False, str(e)
    return True, type(kr.get_keyring()).__name__


def _account(data_dir: Path) -> str:
    return "passphrase:" + hashlib.sha256(str(Path(data_dir).absolute()).encode()).hexdigest()[:16]


def keyring_store(data_dir: Path, passphrase: str) -> None:
    kr = _keyring()
    try:
        kr.set_password(KEYRING_SERVICE, _account(data_dir), passphrase)
    except Exception as e:  # backends raise their own types
        raise KeyringUnavailable(type(e).__name__) from None


def keyring_fetch(data_dir: Path) -> str | None:
    try:
        kr = _keyring()
        value = kr.get_password(KEYRING_SERVICE, _account(data_dir))
    except Exception:
        return None
    return value if isinstance(value, str) and value else None


def keyring_remember(data_dir: Path, passphrase: str) -> None:
    """Keep the passphrase in the keyring for unlock at login, once it has opened the key file
    (a wrong one is refused with WrongPassphrase and nothing is kept)."""
    from core.keys import unlock_key

    unlock_key(data_dir, passphrase).wipe()
    keyring_store(data_dir, passphrase)


def keyring_forget(data_dir: Path) -> None:
    try:
        kr = _keyring()
        kr.delete_password(KEYRING_SERVICE, _account(data_dir))
    except Exception:
        pass  # nothing stored, or no keyring: either way nothing is left
