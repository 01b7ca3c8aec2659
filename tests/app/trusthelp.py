"""Shared steps of the trust tests (R18): a restart, and a backup restored into a new store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from app.services import Services
from core import backup as backups
from tests.app.conftest import PASSPHRASE
from tests.fakes import FakeEmbedder


def restart(services: Services) -> None:
    services.lock()
    services.unlock(PASSPHRASE)
    assert services.memory is not None
    services.memory.wait_ready(10)


@contextmanager
def restored_copy(services: Services, tmp_path: Path) -> Iterator[Services]:
    """The store backed up, restored elsewhere and unlocked (closed afterwards)."""
    (tmp_path / "out").mkdir()
    info = services.backup(tmp_path / "out")
    backups.restore_backup(info.path, tmp_path / "restored", PASSPHRASE)
    restored = Services(tmp_path / "restored", clock=services.clock, embedder=FakeEmbedder())
    try:
        restored.unlock(PASSPHRASE)
        assert restored.memory is not None
        restored.memory.wait_ready(10)
        yield restored
    finally:
        restored.close()


@contextmanager
def real_embedder_services(
    tmp_path: Path, clock: Any, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    """A new store whose memories are embedded by the real MiniLM (`embedder`, loaded once per
    module by the caller) with the embedding poison model on: the trust inspector reads each
    memory's own vector, as the shipped app does."""
    from core import suspicion as su
    from core.keys import TEST_KDF

    monkeypatch.setattr(su, "EMBEDDED_ON", True)
    s = Services(tmp_path / "store", clock=clock, embedder=embedder)
    try:
        s.create(PASSPHRASE, kdf=TEST_KDF)
        assert s.memory is not None
        s.memory.wait_ready(30)
        yield s
    finally:
        s.close()
