"""A fresh unlocked store with the memory service on a fake embedder (fast)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.memory_service import MemoryService
from app.services import Services
from core.clock import FixedClock
from core.fakes import FakeEmbedder
from core.keys import TEST_KDF

PASSPHRASE = "correct horse battery staple"
TZ = ZoneInfo("UTC")


@pytest.fixture
def clock() -> FixedClock:
    # Wednesday 18 March 2026, 12:00 UTC.
    return FixedClock(datetime(2026, 3, 18, 12, 0, tzinfo=TZ))


@pytest.fixture
def services(tmp_path: Path, clock: FixedClock) -> Iterator[Services]:
    s = Services(tmp_path / "store", clock=clock, embedder=FakeEmbedder())
    s.create(PASSPHRASE, kdf=TEST_KDF)
    assert s.memory is not None
    s.memory.wait_ready(10)
    s.memory.searcher.tz = TZ
    yield s
    s.close()


@pytest.fixture
def memory(services: Services) -> MemoryService:
    assert services.memory is not None
    return services.memory
