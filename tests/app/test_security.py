"""R9 (passphrase change survives SIGKILL), R14 (no key or passphrase in logs, settings,
preferences, crash reports, child environment), R15 (locked means locked), the unlock throttle
and the keyring switch."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest

from app import security
from app.logging_setup import setup_logging
from app.services import Services
from core.errors import StoreLocked, UserFacingError, WrongPassphrase
from core.keys import TEST_KDF, unlock_key
from tests.storehelp import PASSPHRASE, ROOT, scan

OTHER = "a different passphrase here"


@pytest.fixture(autouse=True)
def _runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "runtime").mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))


def _services(tmp_path: Path, notes: int = 3) -> Services:
    s = Services(tmp_path / "data")
    s.create(PASSPHRASE, kdf=TEST_KDF)
    for i in range(notes):
        s.add_note(f"note {i}")
    return s


# The child runs the same rewrap as Services.change_passphrase (core.keys), without the app's
# imports, so 20+ restarts stay quick.
CHILD = """
import sys
from pathlib import Path
from core.keys import change_passphrase
data = Path(sys.argv[1])
a, b = sys.argv[2], sys.argv[3]
old, new = (a, b) if sys.argv[4] == "a" else (b, a)
while True:
    change_passphrase(data, old, new)
    print("changed", flush=True)
    old, new = new, old
"""


def _which_opens(data: Path) -> list[str]:
    found = []
    for name, p in (("a", PASSPHRASE), ("b", OTHER)):
        try:
            unlock_key(data, p)
        except WrongPassphrase:
            continue
        found.append(name)
    return found


def test_r9_sigkill_during_passphrase_change(tmp_path: Path) -> None:
    s = _services(tmp_path, notes=5)
    s.close()
    data = tmp_path / "data"
    rng = random.Random(9)
    current = "a"
    changes_seen = 0
    for _ in range(22):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(data), PASSPHRASE, OTHER, current],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert child.stdout is not None
        child.stdout.readline()  # at least one change done, so kills land mid-loop
        changes_seen += 1
        time.sleep(rng.uniform(0, 0.05))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        opens = _which_opens(data)
        assert len(opens) == 1, f"opens with {opens}"
        current = opens[0]
    assert changes_seen >= 20
    s = Services(data)
    s.unlock(PASSPHRASE if current == "a" else OTHER)
    assert s.status()["memories"]["total"] == 5
    s.check_integrity()
    s.close()


def test_r15_locked_means_locked(tmp_path: Path) -> None:
    s = _services(tmp_path, notes=4)
    dropped: list[str] = []
    s.on_lock(lambda: dropped.append("index"))
    s.lock()
    assert not s.unlocked and dropped == ["index"]
    for name, call in {
        "add_note": lambda: s.add_note("x"),
        "backup": lambda: s.backup(tmp_path),
        "check_integrity": s.check_integrity,
        "reader": s.store.reader,
        "write": lambda: s.store.write(lambda c: None),
        "key": lambda: s.store.key,
        "require_unlocked": s.require_unlocked,
    }.items():
        with pytest.raises(StoreLocked):
            call()
            pytest.fail(f"{name} worked while locked")
    with pytest.raises(UserFacingError, match="Unlock"):
        s.settings.set("security.autolock_minutes", 5)
    assert "memories" not in s.status()
    s.unlock(PASSPHRASE)
    assert s.status()["memories"]["total"] == 4
    s.add_note("after unlock")
    assert s.status()["memories"]["total"] == 5
    s.close()


def test_wrong_unlocks_are_slowed_down_across_instances(tmp_path: Path) -> None:
    s = _services(tmp_path, notes=0)
    s.close()
    slept: list[float] = []
    now = [1000.0]

    def throttle() -> security.UnlockThrottle:
        return security.UnlockThrottle(tmp_path / "data", sleep=slept.append, clock=lambda: now[0])

    for _ in range(4):
        t = Services(tmp_path / "data")
        t.throttle = throttle()  # a new process each time: the count is in the runtime dir
        with pytest.raises(WrongPassphrase):
            t.unlock("wrong passphrase!")
    assert slept == [2.0]  # the 4th try waited 2 s after the 3rd failure
    assert security.delay_after(10) == 60.0
    t = Services(tmp_path / "data")
    t.throttle = throttle()
    now[0] += 1.0
    t.unlock(PASSPHRASE)
    assert slept == [2.0, 3.0]  # after 4 failures: 4 s, one already passed
    assert throttle().failures == 0
    t.close()
    # The counter lives outside the data folder (a wrong passphrase changes nothing there).
    assert not any("unlock" in p.name for p in (tmp_path / "data").rglob("*"))


def test_r14_no_passphrase_or_key_in_logs_settings_crash_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_logging(tmp_path / "data" / "logs", level=logging.DEBUG)
    try:
        s = _services(tmp_path, notes=2)
        key_hex = s.store.key.raw.hex()
        s.settings.set("security.autolock_minutes", 7)
        s.settings.set("device.autostart", True)
        s.change_passphrase(PASSPHRASE, OTHER)
        s.lock()
        with pytest.raises(WrongPassphrase):
            s.unlock(PASSPHRASE)
        s.unlock(OTHER)
        s.backup(tmp_path)
        rows = s.store.reader().execute("SELECT key, value FROM settings").fetchall()

        # A crash report: a bug deep inside unlock, formatted as the crash dialog does.
        def boom(*a: object, **k: object) -> None:
            raise RuntimeError("bug")

        s.lock()
        monkeypatch.setattr("core.store.migrations.check_supported", boom)
        try:
            s.unlock(OTHER)
        except RuntimeError as e:
            report = "".join(traceback.format_exception(e))
        else:
            pytest.fail("no crash")
        s.close()
    finally:
        setup_logging(None)
    needles = [p.encode() for p in (PASSPHRASE, OTHER, key_hex, key_hex.upper())]
    assert (tmp_path / "data" / "logs" / "mnemo.log").stat().st_size > 0
    assert scan(tmp_path / "data" / "logs", *needles) == []
    assert scan(tmp_path / "data", *needles) == []  # preferences.json, key files, database
    assert not any(n.decode() in repr(rows) for n in needles)
    assert not any(n.decode() in report for n in needles)


def test_r14_cli_passphrase_leaves_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model host and any other child inherit the environment: the CLI takes the
    passphrase out of it as soon as it is read."""
    import argparse

    from app.cli.context import ENV_PASSPHRASE, CliContext

    monkeypatch.setenv(ENV_PASSPHRASE, PASSPHRASE)
    ctx = CliContext(
        argparse.Namespace(data_dir=str(tmp_path / "d"), passphrase_file=None, verbose=False)
    )
    assert ctx.passphrase() == PASSPHRASE
    assert ENV_PASSPHRASE not in os.environ
    assert ctx.passphrase() == PASSPHRASE  # asked again by a later step of the same command
    out = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ.get('MNEMO_PASSPHRASE'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "None"


def test_r14_child_env_never_carries_the_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNEMO_PASSPHRASE", PASSPHRASE)
    env = security.child_env({"OMP_NUM_THREADS": "2"})
    assert "MNEMO_PASSPHRASE" not in env and env["OMP_NUM_THREADS"] == "2"
    out = subprocess.run(
        [sys.executable, "-c", "import os, sys; print(sys.argv, dict(os.environ))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert PASSPHRASE not in out.stdout


def test_keyring_without_a_backend_says_so(tmp_path: Path) -> None:
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        ok, why = security.keyring_available()
        assert not ok and "No system keyring" in why
        with pytest.raises(security.KeyringUnavailable, match="No system keyring"):
            security.keyring_store(tmp_path, PASSPHRASE)
        assert security.keyring_fetch(tmp_path) is None
        security.keyring_forget(tmp_path)  # nothing to forget: no error
    finally:
        keyring.set_keyring(previous)


def test_keyring_round_trip_with_a_memory_backend(tmp_path: Path) -> None:
    import keyring
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def __init__(self) -> None:
            super().__init__()
            self.items: dict[tuple[str, str], str] = {}

        def get_password(self, service: str, username: str) -> str | None:
            return self.items.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            self.items[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            del self.items[(service, username)]

    previous = keyring.get_keyring()
    backend = Memory()
    keyring.set_keyring(backend)
    try:
        security.keyring_store(tmp_path, PASSPHRASE)
        assert security.keyring_fetch(tmp_path) == PASSPHRASE
        assert all(PASSPHRASE not in k[1] for k in backend.items)
        security.keyring_forget(tmp_path)
        assert security.keyring_fetch(tmp_path) is None
    finally:
        keyring.set_keyring(previous)


def test_locking_during_an_integrity_check_is_not_reported_as_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check every unlock starts is interrupted by a lock: that is "locked", never
    "damaged", and the next unlock checks again and opens for writing."""
    import threading

    import core.store
    from core.db import DatabaseError

    s = _services(tmp_path, notes=1)
    s.check_integrity(60)
    s.lock()
    started, release = threading.Event(), threading.Event()

    def interrupted(conn: object) -> tuple[bool, str]:
        started.set()
        release.wait(30)
        raise DatabaseError("interrupted")  # what SQLite raises when lock() interrupts it

    real = core.store.pages_ok
    monkeypatch.setattr(core.store, "pages_ok", interrupted)
    s.unlock(PASSPHRASE)
    assert started.wait(30), "the unlock started no integrity check"
    locker = threading.Thread(target=s.lock)
    locker.start()
    deadline = time.monotonic() + 30
    while s.store.unlocked and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    locker.join(30)
    assert not locker.is_alive()
    with pytest.raises(StoreLocked):
        s.check_integrity(5)
    assert s.store.damage is None
    monkeypatch.setattr(core.store, "pages_ok", real)
    s.unlock(PASSPHRASE)
    s.check_integrity(60)
    assert s.store.damage is None
    s.close()
