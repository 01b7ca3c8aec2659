"""The HNSW index: growth, erasure by overwrite, the encrypted snapshot (tamper, staleness,
no plaintext vectors), and reconciliation with the vectors table."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.keys import TEST_KDF
from core.store import Store
from core.vector_index import (
    PersistentIndex,
    SnapshotInvalid,
    VectorIndex,
    seal,
    unseal,
)

DIM = 16


def plaintext(index: VectorIndex) -> bytes:
    """What a format-2 snapshot holds, decrypted."""
    return b"".join(a.tobytes() for _, a in index.to_state()[1])


def reloaded(index: VectorIndex) -> VectorIndex:
    """The index through the format-2 state and back, as a save and an open do."""
    scalars, arrays = index.to_state()
    layout = [[name, a.dtype.str, len(a)] for name, a in arrays]
    payload = np.frombuffer(b"".join(a.tobytes() for _, a in arrays), dtype=np.uint8)
    return VectorIndex.from_state(scalars, layout, payload, DIM)


def format1(index: VectorIndex, with_copy: bool = True) -> bytes:
    """The pickle a format-1 snapshot holds (sessions up to 10 wrote these)."""
    deleted = sorted(index._deleted)
    if not with_copy:
        return pickle.dumps((index._index, deleted), protocol=pickle.HIGHEST_PROTOCOL)
    ids = sorted(index._rows, key=index._rows.__getitem__)
    vecs = index._copy[: len(ids)].tobytes()
    return pickle.dumps((index._index, deleted, ids, vecs), protocol=pickle.HIGHEST_PROTOCOL)


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_grows_searches_and_forgets() -> None:
    rng = np.random.default_rng(0)
    vecs = unit(rng, 300)
    index = VectorIndex(DIM, capacity=16)
    index.add(list(range(1, 301)), vecs)
    assert len(index) == 300
    ids, sims = index.search(vecs[41], 3)
    assert ids[0] == 42 and sims[0] == pytest.approx(1.0, abs=1e-5)
    assert index.remove([42, 9999]) == 1
    assert 42 not in index.search(vecs[41], 10)[0]
    assert (len(index), index.deleted) == (299, 1)
    # SQLite may hand out the same rowid again: the label comes back to life.
    index.add([42], vecs[41:42])
    assert index.search(vecs[41], 1)[0] == [42] and index.deleted == 0


def test_filtered_and_exact_search() -> None:
    rng = np.random.default_rng(1)
    vecs = unit(rng, 50)
    index = VectorIndex(DIM)
    index.add(list(range(50)), vecs)
    ids, _ = index.search(vecs[3], 5, allowed=lambda i: i % 2 == 0)
    assert ids and all(i % 2 == 0 for i in ids)
    ids, sims = index.exact(vecs[7], [1, 7, 30], 2)
    assert ids[0] == 7 and len(ids) == 2 and sims[0] >= sims[1]


def test_removed_vector_bytes_are_gone_from_the_snapshot() -> None:
    rng = np.random.default_rng(2)
    vecs = unit(rng, 20)
    index = VectorIndex(DIM)
    index.add(list(range(20)), vecs)
    secret = vecs[5].tobytes()
    assert secret in plaintext(index)
    index.remove([5])
    assert secret not in plaintext(index)
    again = reloaded(index)
    assert 5 not in again.labels and again.deleted == 1 and len(again) == 19
    assert secret not in plaintext(again)


def test_seal_detects_tampering_and_the_wrong_key() -> None:
    key = bytes(range(32))
    blob = seal(b"payload", key, {"generation": 3})
    assert unseal(blob, key) == ({"generation": 3}, b"payload")
    for pos in (len(blob) - 1, len(blob) // 2, 12):
        bad = bytearray(blob)
        bad[pos] ^= 1
        with pytest.raises(SnapshotInvalid):
            unseal(bytes(bad), key)
    with pytest.raises(SnapshotInvalid):
        unseal(blob, bytes(32))


def test_a_valid_tag_still_cannot_smuggle_other_objects() -> None:
    evil = pickle.dumps((print, ["owned"]))
    with pytest.raises(SnapshotInvalid):
        VectorIndex.from_pickle(evil, DIM)


# -- with a store ---------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "store")
    s.create("correct horse battery staple", kdf=TEST_KDF)
    yield s
    s.lock()


def put(store: Store, vecs: np.ndarray, start: int = 1) -> list[int]:
    ids = list(range(start, start + len(vecs)))

    def run(conn: object) -> None:
        for i, v in zip(ids, vecs):
            conn.execute(  # type: ignore[attr-defined]
                "INSERT INTO memories(id, kind, time, text, created_at) "
                "VALUES (?, 'note', 0, ?, 0)",
                (i, f"memory {i}"),
            )
            conn.execute(  # type: ignore[attr-defined]
                "INSERT INTO vectors(memory_id, model, vec) VALUES (?, 'test', ?)", (i, v.tobytes())
            )

    store.write(run)
    return ids


def persistent(store: Store) -> PersistentIndex:
    return PersistentIndex(
        dim=DIM,
        path=store.index_path,
        key=store.key.derive("index"),
        read_conn=store.reader,
        write=store.write,
        background=False,
    )


def test_snapshot_round_trip_and_no_plaintext(store: Store) -> None:
    vecs = unit(np.random.default_rng(3), 40)
    put(store, vecs)
    first = persistent(store)
    assert first.open().snapshot == "missing"
    first.save()
    raw = store.index_path.read_bytes()
    for v in vecs[:5]:
        assert v.tobytes() not in raw
        assert v.tobytes()[:16] not in raw
    first.close()
    second = persistent(store)
    health = second.open()
    assert (health.snapshot, health.count, health.generation) == ("ok", 40, 1)
    assert second.index.search(vecs[10], 1)[0] == [11]
    second.close()


def test_tampered_snapshot_is_rebuilt(store: Store) -> None:
    vecs = unit(np.random.default_rng(4), 30)
    put(store, vecs)
    p = persistent(store)
    p.open()
    p.save()
    p.close(save=False)
    blob = bytearray(store.index_path.read_bytes())
    blob[len(blob) // 2] ^= 0x40
    store.index_path.write_bytes(bytes(blob))
    again = persistent(store)
    health = again.open()
    assert health.snapshot == "rebuilt" and "authentication" in health.reason
    assert again.index.labels == set(range(1, 31))
    assert store.index_path.with_name("index.snapshot.damaged").exists()


def test_a_rebuilt_snapshot_is_reported_even_if_its_save_wins_the_race(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Seen under load: the saver thread saved the rebuilt index (snapshot "ok") before open()
    returned, and open() reported "ok" for a snapshot it had just found damaged."""
    import core.vector_index as vi

    put(store, unit(np.random.default_rng(8), 12))
    p = persistent(store)
    p.open()
    p.save()
    p.close(save=False)
    blob = bytearray(store.index_path.read_bytes())
    blob[len(blob) // 3] ^= 0x10
    store.index_path.write_bytes(bytes(blob))
    again = persistent(store)
    real_info = vi.log.info

    def saver_wins(msg: str, *args: object) -> None:
        if msg.startswith("index ready"):
            again.save()  # what the saver thread may do right then
        real_info(msg, *args)

    monkeypatch.setattr(vi.log, "info", saver_wins)
    health = again.open()
    assert again.snapshot_state == "ok"  # the race happened
    assert health.snapshot == "rebuilt" and "authentication" in health.reason
    assert "index rebuilt from the database" in caplog.text


def test_stale_snapshot_is_rebuilt(store: Store) -> None:
    vecs = unit(np.random.default_rng(5), 10)
    put(store, vecs)
    p = persistent(store)
    p.open()
    p.save()
    old = store.index_path.read_bytes()
    p.save()  # generation 2 in the database
    p.close(save=False)
    store.index_path.write_bytes(old)  # a generation-1 snapshot put back
    again = persistent(store)
    health = again.open()
    assert health.snapshot == "rebuilt" and "stale" in health.reason


def test_reconcile_after_a_crash_between_commit_and_index(store: Store) -> None:
    vecs = unit(np.random.default_rng(6), 20)
    put(store, vecs[:10])
    p = persistent(store)
    p.open()
    p.save()
    p.close(save=False)
    # Committed to the database, never reached the index (the process died), and a row
    # deleted from the database whose vector the snapshot still holds.
    put(store, vecs[10:], start=11)
    store.write(lambda c: c.execute("DELETE FROM memories WHERE id = 3"))
    again = persistent(store)
    health = again.open()
    assert health.snapshot == "ok"
    assert again.index.labels == set(range(1, 21)) - {3}
    assert again.index.search(vecs[15], 1)[0] == [16]


def test_a_memory_added_while_reconciling_is_not_taken_for_an_erased_one(store: Store) -> None:
    """R13 with capture and erase together: an erase reconciles the index while a capture
    commits a memory and indexes it. Reconciling must not drop that fresh vector (before the
    fix it read the table first, then the labels, so the new id looked like an erased one)."""
    vecs = unit(np.random.default_rng(7), 12)
    put(store, vecs[:10])
    p = persistent(store)
    p.open()
    real = store.reader

    class Conn:
        """The reader, with a capture landing right after the vectors table is read."""

        def __init__(self) -> None:
            self.conn = real()

        def execute(self, sql: str, *args: object) -> object:
            rows = list(self.conn.execute(sql, *args))
            if sql.strip() == "SELECT memory_id FROM vectors":
                put(store, vecs[10:11], start=11)  # committed, then indexed, as ingest does
                p.add([11], vecs[10:11])
            return rows

    p._read_conn = Conn  # type: ignore[assignment]
    _missing, extra = p.reconcile()
    assert extra == 0 and 11 in p.index.labels
    p._read_conn = real
    assert p.reconcile() == (0, 0)
    p.close(save=False)


def test_searches_may_start_once_the_snapshot_is_loaded_before_reconciling(
    store: Store,
) -> None:
    vecs = unit(np.random.default_rng(8), 20)
    put(store, vecs[:10])
    p = persistent(store)
    p.open()
    p.save()
    p.close(save=False)
    put(store, vecs[10:], start=11)
    again = persistent(store)
    seen: list[set[int]] = []
    health = again.open(on_loaded=lambda: seen.append(again.index.labels))
    # Called once, with the snapshot's vectors and before the newer ones were reconciled in.
    assert seen == [set(range(1, 11))]
    assert health.snapshot == "ok" and again.index.labels == set(range(1, 21))


def test_on_loaded_is_called_after_a_rebuild_too(store: Store) -> None:
    put(store, unit(np.random.default_rng(9), 5))
    p = persistent(store)
    seen: list[set[int]] = []
    assert p.open(on_loaded=lambda: seen.append(p.index.labels)).snapshot == "missing"
    assert seen == [set(range(1, 6))]


def test_compaction_drops_deleted_slots(store: Store) -> None:
    vecs = unit(np.random.default_rng(7), 200)
    ids = put(store, vecs)
    p = persistent(store)
    p.open()
    gone = ids[:80]
    store.write(lambda c: c.execute(f"DELETE FROM memories WHERE id <= {len(gone)}"))
    p.remove(gone)
    assert p.index.needs_compaction()
    p.compact()
    assert (len(p.index), p.index.deleted) == (120, 0)
    assert p.generation == 1  # compaction rewrote the snapshot
    p.close()


def test_exact_reads_the_half_precision_copy_not_hnswlib() -> None:
    """exact() (the window-meaning list scores hundreds of ids a search) gathers rows from the
    float16 copy: hnswlib's get_items costs ~20 us a vector. Same order, cosines within 1e-2."""
    rng = np.random.default_rng(5)
    vecs = unit(rng, 200)
    index = VectorIndex(DIM, capacity=16)  # grows: the copy grows with it
    index.add(list(range(1, 201)), vecs)

    class NoGetItems:
        def __init__(self, real: object) -> None:
            self._real = real

        def get_items(self, *_a: object, **_k: object) -> None:
            raise AssertionError("exact() went to hnswlib for a vector it holds")

    index._index = NoGetItems(index._index)  # type: ignore[assignment]
    q = vecs[10]
    ids, sims = index.exact(q, list(range(1, 201)), 200)
    want = vecs @ q
    order = [int(i) + 1 for i in np.argsort(-want)]
    assert ids[:5] == order[:5]
    assert np.allclose(sims, np.sort(want)[::-1], atol=1e-2)


def test_copy_survives_the_snapshot_and_forgets_erased_vectors() -> None:
    rng = np.random.default_rng(6)
    vecs = unit(rng, 30)
    index = VectorIndex(DIM)
    index.add(list(range(30)), vecs)
    half = vecs[4].astype(np.float16).tobytes()
    assert half in format1(index)
    index.remove([4])
    assert half not in format1(index)
    assert half not in index._copy.tobytes()
    again = reloaded(index)
    assert half not in again._copy.tobytes()
    assert again.fill_copy() == 0  # the copy was made again from the snapshot's vectors
    ids, _ = again.exact(vecs[9], [4, 9, 12], 3)
    assert ids[0] == 9 and 4 not in ids


def test_snapshot_without_copy_still_answers_exact() -> None:
    """A snapshot written before the copy existed: exact() fills it from hnswlib."""
    rng = np.random.default_rng(7)
    vecs = unit(rng, 40)
    index = VectorIndex(DIM)
    index.add(list(range(40)), vecs)
    loaded = VectorIndex.from_pickle(format1(index, with_copy=False), DIM)
    ids, sims = loaded.exact(vecs[3], [3, 8, 20], 2)
    assert ids[0] == 3 and sims[0] == pytest.approx(1.0, abs=1e-2)
    assert loaded.fill_copy() == 37  # the three asked for were copied already


# -- format 2: hnswlib's arrays in authenticated chunks ----------------------------------------
def saved(store: Store, n: int = 40, seed: int = 11) -> tuple[np.ndarray, bytes]:
    vecs = unit(np.random.default_rng(seed), n)
    put(store, vecs)
    p = persistent(store)
    p.open()
    p.save()
    p.close(save=False)
    return vecs, store.index_path.read_bytes()


def test_snapshot_is_written_in_chunks_and_loads_without_pickle(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.vector_index as vi

    monkeypatch.setattr(vi, "CHUNK", 1000)  # a 40-vector index spans several chunks
    vecs, blob = saved(store)
    assert blob.startswith(vi.MAGIC2)
    header, plain = unseal(blob, store.key.derive("index"))
    assert header["chunk"] == 1000 and header["size"] == len(plain) > 3000
    assert vecs[7].tobytes() in plain  # the float32 vectors, as hnswlib holds them
    for v in vecs[:5]:
        assert v.tobytes()[:16] not in blob

    def no_pickle(*_a: object, **_k: object) -> None:
        raise AssertionError("format 2 was unpickled")

    monkeypatch.setattr(vi.VectorIndex, "from_pickle", no_pickle)
    again = persistent(store)
    health = again.open()
    assert (health.snapshot, health.count) == ("ok", 40)
    assert again.index.search(vecs[21], 1)[0] == [22]
    assert not again.dirty  # nothing to rewrite
    again.close(save=False)


def chunk_bounds(blob: bytes) -> tuple[int, int]:
    """Where the first chunk starts, and each sealed chunk's length (but the last's)."""
    import json
    import struct

    import core.vector_index as vi

    (n,) = struct.unpack(">I", blob[len(vi.MAGIC2) : len(vi.MAGIC2) + 4])
    start = len(vi.MAGIC2) + 4 + n
    header = json.loads(blob[len(vi.MAGIC2) + 4 : start])
    return start, header["chunk"] + 16


@pytest.mark.parametrize("damage", ["swap", "drop last", "cut short", "trailing", "header"])
def test_a_chunk_moved_dropped_or_cut_is_refused(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    import core.vector_index as vi

    monkeypatch.setattr(vi, "CHUNK", 1000)
    _vecs, blob = saved(store)
    start, step = chunk_bounds(blob)
    first, second = blob[start : start + step], blob[start + step : start + 2 * step]
    bad = {
        "swap": blob[:start] + second + first + blob[start + 2 * step :],
        "drop last": blob[: start + step * ((len(blob) - start) // step)],
        "cut short": blob[:-1],
        "trailing": blob + b"\0",
        "header": blob.replace(b'"count":40', b'"count":41', 1),
    }[damage]
    assert bad != blob
    key = store.key.derive("index")
    with pytest.raises(SnapshotInvalid):
        unseal(bad, key)
    store.index_path.write_bytes(bad)
    again = persistent(store)
    health = again.open()
    assert health.snapshot == "rebuilt"
    assert "index rebuilt from the database" in caplog.text
    assert again.index.labels == set(range(1, 41))  # from the database
    assert store.index_path.with_name("index.snapshot.damaged").read_bytes() == bad
    again.close(save=False)


def test_a_chunk_from_another_snapshot_is_refused(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same key, same sizes, another save: its chunks carry another nonce prefix."""
    import core.vector_index as vi

    monkeypatch.setattr(vi, "CHUNK", 1000)
    _vecs, blob = saved(store)
    p = persistent(store)
    p.open()
    p.save()  # generation 2: the same index sealed again
    p.close(save=False)
    other = store.index_path.read_bytes()
    start, step = chunk_bounds(blob)
    ostart, _ = chunk_bounds(other)
    spliced = (
        other[: ostart + step] + blob[start + step : start + 2 * step] + other[ostart + 2 * step :]
    )
    assert len(spliced) == len(other) and spliced != other
    with pytest.raises(SnapshotInvalid, match="authentication"):
        unseal(spliced, store.key.derive("index"))


def test_a_format_1_snapshot_still_loads_and_is_rewritten(store: Store) -> None:
    import core.vector_index as vi

    vecs = unit(np.random.default_rng(12), 30)
    put(store, vecs)
    index = VectorIndex(DIM)
    index.add(list(range(1, 31)), vecs)
    index.remove([4])  # a deleted slot, as format 1 recorded them
    store.write(lambda c: c.execute("DELETE FROM memories WHERE id = 4"))
    store.write(lambda c: vi.write_generation(c, 5))
    key = store.key.derive("index")
    store.index_path.write_bytes(
        seal(format1(index), key, {"generation": 5, "count": 29, "dim": DIM, "v": 1})
    )
    p = persistent(store)
    health = p.open()
    assert (health.snapshot, health.count, health.deleted) == ("ok", 29, 1)
    assert p.index.search(vecs[9], 1)[0] == [10]
    assert p.dirty  # to be written again in format 2
    p.close()  # saves
    assert store.index_path.read_bytes().startswith(vi.MAGIC2)
    again = persistent(store)
    health = again.open()
    assert (health.snapshot, health.count, health.deleted) == ("ok", 29, 1)
    assert 4 not in again.index.labels and again.index.search(vecs[9], 1)[0] == [10]
    again.close(save=False)


def test_loaded_index_keeps_its_copy_and_grows() -> None:
    """From format 2 the float16 copy is made from hnswlib's own vectors: exact() needs no
    get_items, labels added after the load get rows of their own, an erase overwrites."""
    rng = np.random.default_rng(13)
    vecs = unit(rng, 60)
    index = VectorIndex(DIM)
    index.add(list(range(100, 150)), vecs[:50])
    index.remove([120])
    again = reloaded(index)
    real = again._index

    class NoGetItems:
        def __getattr__(self, name: str) -> object:
            if name == "get_items":
                raise AssertionError("exact() went to hnswlib")
            return getattr(real, name)

    again._index = NoGetItems()  # type: ignore[assignment]
    ids, sims = again.exact(vecs[3], list(range(100, 150)), 3)
    assert ids[0] == 103 and sims[0] == pytest.approx(1.0, abs=1e-2) and 120 not in ids
    again._index = real
    again.add(list(range(500, 510)), vecs[50:])
    again.remove([130])
    assert again.exact(vecs[55], [105, 505, 130], 2)[0][0] == 505
    assert again.exact(vecs[30], [130, 131], 2)[0] == [131]
    assert vecs[30].astype(np.float16).tobytes() not in again._copy.tobytes()
    assert again.search(vecs[52], 1)[0] == [502]
    assert (len(again), again.deleted) == (58, 2)


def test_an_authenticated_but_inconsistent_state_is_refused() -> None:
    """hnswlib copies whatever sizes it is handed: from_state checks them first."""
    index = VectorIndex(DIM)
    index.add(list(range(20)), unit(np.random.default_rng(14), 20))
    scalars, arrays = index.to_state()
    payload = np.frombuffer(b"".join(a.tobytes() for _, a in arrays), dtype=np.uint8)
    layout = [[name, a.dtype.str, len(a)] for name, a in arrays]
    cases = []
    short = [list(x) for x in layout]
    short[3][2] -= 1  # data_level0 one byte short; the rest shifted
    cases.append((scalars, short, payload[:-1]))
    cases.append(({**scalars, "cur_element_count": 21}, layout, payload))
    cases.append(({**scalars, "size_data_per_element": 8}, layout, payload))
    cases.append((scalars, [["evil", "|i1", 1], *layout], np.concatenate([[0], payload])))
    cases.append(
        (scalars, layout[:-1], payload[: -8 * layout[-1][2]] if layout[-1][2] else payload)
    )
    cases.append((scalars, [[n, "<f8" if n == "deleted" else d, k] for n, d, k in layout], payload))
    for bad_scalars, bad_layout, bad_payload in cases:
        with pytest.raises(SnapshotInvalid):
            VectorIndex.from_state(bad_scalars, bad_layout, bad_payload, DIM)
    # the wrong labels map: two labels on one internal id
    internal = arrays[1][1].copy()
    internal[1] = internal[0]
    twisted = b"".join(
        (internal if n == "label_lookup_internal" else a).tobytes() for n, a in arrays
    )
    with pytest.raises(SnapshotInvalid):
        VectorIndex.from_state(scalars, layout, np.frombuffer(twisted, np.uint8), DIM)
    assert len(VectorIndex.from_state(scalars, layout, payload, DIM)) == 20


def test_the_copy_is_made_once_the_index_is_searchable(store: Store) -> None:
    """Opening a format-2 snapshot hands the index to searches before its float16 copy is
    made; meanwhile exact() reads the loaded float32 rows, and the copy then matches them."""
    vecs, _blob = saved(store)
    p = persistent(store)
    seen: list[tuple[bool, list[int]]] = []
    p.open(
        on_loaded=lambda: seen.append(
            (p.index._src is not None, p.index.exact(vecs[3], [4, 9], 1)[0])
        )
    )
    assert seen == [(True, [4])]
    assert p.index._src is None  # made before open() returned
    rows = [p.index._rows[i] for i in range(1, 41)]
    assert np.array_equal(p.index._copy[rows], vecs.astype(np.float16))
    p.close(save=False)


def test_a_change_before_the_copy_is_made_finishes_it_first() -> None:
    vecs = unit(np.random.default_rng(15), 30)
    index = VectorIndex(DIM)
    index.add(list(range(30)), vecs)
    again = reloaded(index)
    assert again._src is not None
    again.remove([5])  # overwrites row 5 with noise: in the copy, not in a stale source
    assert again._src is None
    assert vecs[5].astype(np.float16).tobytes() not in again._copy.tobytes()
    assert 5 not in again.exact(vecs[5], list(range(30)), 3)[0]
    again.finish_copy()  # nothing left to do
    assert again.exact(vecs[6], [6, 7], 1)[0] == [6]


def test_large_buffers_come_faulted_in_and_writable() -> None:
    import mmap
    import sys

    from core.vector_index import _fresh

    big = _fresh(5 << 20, populate=3 << 20)
    assert big.shape == (5 << 20,) and big.dtype == np.uint8 and big.flags.writeable
    big[:] = 7
    assert int(big[-1]) == 7 and int(big.sum()) == 7 * (5 << 20)
    if sys.platform.startswith("linux"):
        base = big.base
        assert isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)  # 2 MB pages
    small = _fresh(1000)
    assert small.shape == (1000,) and small.flags.writeable


def test_an_empty_index_round_trips_and_its_header_is_authenticated(store: Store) -> None:
    import core.vector_index as vi

    p = persistent(store)
    assert p.open().snapshot == "missing"
    p.save()
    p.close(save=False)
    blob = store.index_path.read_bytes()
    header, plain = unseal(blob, store.key.derive("index"))
    assert header["count"] == 0 and plain == b""
    with pytest.raises(SnapshotInvalid):  # no chunk of data, still a tag over the header
        unseal(blob.replace(b'"count":0', b'"count":1', 1), store.key.derive("index"))
    assert len(blob) > len(vi.MAGIC2) + 16
    again = persistent(store)
    health = again.open()
    assert (health.snapshot, health.count) == ("ok", 0)
    vecs = unit(np.random.default_rng(16), 3)
    put(store, vecs)
    again.add([1, 2, 3], vecs)
    assert again.index.search(vecs[1], 1)[0] == [2]
    again.close(save=False)
