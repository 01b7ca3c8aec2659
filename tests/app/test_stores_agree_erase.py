"""R13 with real erases: random adds, erases through the erase service (by ids, by app, by
range), erases interrupted after their durable first step, clean and crash restarts. After
every step the index labels, the memories with vectors and the FTS rows are the same set, and
no erased memory is ever found again."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.services import Services
from core.erase import Eraser, EraseSpec
from core.keys import TEST_KDF
from core.types import SCREEN, NewMemory
from tests.fakes import FakeEmbedder

PASSPHRASE = "correct horse battery staple"
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
APPS = ["Mail", "Chat", "Code"]


class Interrupted(Exception):
    pass


class DiesAfterHiding:
    """An index whose `remove` fails: the erase stops right after its durable first step, as a
    crash there would leave it."""

    def remove(self, ids: list[int]) -> int:
        raise Interrupted

    def after_erase(self) -> None:
        raise AssertionError("not reached")


op = st.one_of(
    st.tuples(st.just("add"), st.tuples(st.sampled_from(APPS), st.sampled_from(WORDS))),
    st.tuples(st.just("erase_id"), st.integers(0, 50)),
    st.tuples(st.just("erase_app"), st.sampled_from(APPS)),
    st.tuples(st.just("erase_range"), st.integers(0, 30)),
    st.tuples(st.just("interrupted_erase"), st.integers(0, 50)),
    st.tuples(st.just("restart"), st.booleans()),
)


def check(services: Services, erased: set[int]) -> None:
    memory = services.memory
    assert memory is not None
    memory.wait_ready(30)
    conn = services.store.reader()
    rows = {r[0] for r in conn.execute("SELECT id FROM memories WHERE hidden = 0")}
    with_vectors = {
        r[0]
        for r in conn.execute(
            "SELECT m.id FROM memories m JOIN vectors v ON v.memory_id = m.id WHERE m.hidden = 0"
        )
    }
    all_rows = {r[0] for r in conn.execute("SELECT id FROM memories")}
    fts = {r[0] for r in conn.execute("SELECT rowid FROM memories_fts")}
    services.store.write(  # FTS5's own check is an INSERT: on the writer
        lambda c: c.execute(
            "INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)"
        )
    )
    labels = memory.index.index.labels
    # Hidden rows belong to an interrupted erase: kept in step until its resume removes them.
    assert labels == {r[0] for r in conn.execute("SELECT memory_id FROM vectors")} == all_rows
    assert fts == all_rows and rows == with_vectors
    assert not erased & rows
    found = {g for w in WORDS for h in memory.search(w, k=200).hits for g in h.group_ids}
    found |= {h.id for h in memory.search("", k=500).hits}
    assert not erased & found
    assert found <= rows


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(op, min_size=2, max_size=10))
def test_stores_agree_through_erases(ops: list[tuple[str, object]]) -> None:
    root = Path(tempfile.mkdtemp(prefix="mnemo-r13e-"))
    services = Services(root / "store", embedder=FakeEmbedder(dim=32))
    erased: set[int] = set()
    try:
        services.create(PASSPHRASE, kdf=TEST_KDF)
        n = 0
        for kind, arg in ops:
            memory, erase = services.memory, services.erase
            assert memory is not None and erase is not None
            ids = [r[0] for r in services.store.reader().execute("SELECT id FROM memories")]
            if kind == "add":
                app, word = arg  # type: ignore[misc]
                n += 1
                new = memory.add(
                    [NewMemory(kind=SCREEN, text=f"{word} {n}", time=float(n), app=app)]
                )
                erased -= set(new)  # ids of erased rows can be given out again
            elif kind in ("erase_id", "interrupted_erase") and ids:
                target = ids[int(arg) % len(ids)]  # type: ignore[call-overload]
                if kind == "erase_id":
                    erase.erase_ids([target])
                else:
                    try:
                        Eraser(services.store, services.media, DiesAfterHiding).erase(  # type: ignore[arg-type]
                            EraseSpec(ids=[target])
                        )
                    except Interrupted:
                        pass
                    services.lock(save=False)  # the process dies here
                    services.unlock(PASSPHRASE)
                erased.add(target)
            elif kind == "erase_app":
                conn = services.store.reader()
                erased |= {
                    r[0] for r in conn.execute("SELECT id FROM memories WHERE app = ?", (arg,))
                }
                erase.erase(EraseSpec(app=str(arg)))
            elif kind == "erase_range":
                conn = services.store.reader()
                cut = float(arg)  # type: ignore[arg-type]
                erased |= {
                    r[0] for r in conn.execute("SELECT id FROM memories WHERE time < ?", (cut,))
                }
                erase.erase(EraseSpec(until=cut))
            elif kind == "restart":
                if arg:
                    services.lock()
                else:
                    services.lock(save=False)  # the index closed unsaved, as in a crash
                services.unlock(PASSPHRASE)
            check(services, erased)
    finally:
        services.close()
        shutil.rmtree(root, ignore_errors=True)
