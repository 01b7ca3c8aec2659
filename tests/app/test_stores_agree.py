"""R13: whatever happens (adds, erases, crashes before the index saw a change, restarts), the
index labels, the memories with vectors and the FTS rows are the same set of ids."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.services import Services
from core.keys import TEST_KDF
from core.types import NewMemory
from tests.fakes import FakeEmbedder
from tests.reliability.conftest import stores_agree

PASSPHRASE = "correct horse battery staple"
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]

op = st.one_of(
    st.tuples(st.just("add"), st.lists(st.sampled_from(WORDS), min_size=1, max_size=4)),
    st.tuples(st.just("erase"), st.integers(0, 10)),
    st.tuples(st.just("crash_add"), st.lists(st.sampled_from(WORDS), min_size=1, max_size=3)),
    st.tuples(st.just("restart"), st.booleans()),
)


def check(services: Services) -> None:
    stores_agree(services)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(op, min_size=1, max_size=10))
def test_index_rows_and_fts_agree(ops: list[tuple[str, object]]) -> None:
    root = Path(tempfile.mkdtemp(prefix="mnemo-r13-"))
    services = Services(root / "store", embedder=FakeEmbedder(dim=32))
    try:
        services.create(PASSPHRASE, kdf=TEST_KDF)
        n = 0
        for kind, arg in ops:
            memory = services.memory
            assert memory is not None
            if kind == "add":
                words = arg  # type: ignore[assignment]
                n += 1
                memory.add([NewMemory(kind="note", text=" ".join(words) + f" {n}", time=float(n))])
            elif kind == "erase":
                rows = [r[0] for r in services.store.reader().execute("SELECT id FROM memories")]
                if rows:
                    memory.delete([rows[int(arg) % len(rows)]])  # type: ignore[call-overload]
            elif kind == "crash_add":
                # Committed to the database, then the process dies before the index hears of it
                # and without saving a snapshot.
                n += 1
                memory.ingestor._index = lambda: None  # type: ignore[assignment]
                memory.add([NewMemory(kind="note", text=" ".join(arg) + f" {n}", time=float(n))])  # type: ignore[arg-type]
                services.lock(save=False)  # the index closed unsaved, as in a crash
                services.unlock(PASSPHRASE)
            elif kind == "restart":
                if arg:
                    services.lock()  # clean: snapshot saved
                else:
                    services.lock(save=False)  # crash: no snapshot
                services.unlock(PASSPHRASE)
            check(services)
    finally:
        services.close()
        shutil.rmtree(root, ignore_errors=True)
