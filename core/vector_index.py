"""The vector index: hnswlib in memory (inner product on L2-normalised vectors, labels are
memory ids), kept in step with the `vectors` table (the source of truth), with an encrypted,
authenticated snapshot on disk that carries a generation number.

Snapshot file, format 2 (written): MAGIC2 | u32 header length | header JSON | chunks. The
plaintext is hnswlib's own state as raw arrays (no pickle), cut into CHUNK-byte pieces, each
sealed by AES-GCM under its own nonce (the header's random prefix + the chunk's number) with
the header and the chunk's number as associated data: a chunk moved, dropped, cut short or
taken from another snapshot fails its tag. Every tag is checked before a byte is used. The
pieces are decrypted straight into one buffer that hnswlib copies from, so opening touches
each byte about twice instead of five times (read, decrypt, unpickle, copy, float16 copy).

Format 1 (still read, rewritten as format 2 at the next save): MAGIC | u32 header length |
header JSON | 12-byte nonce | AES-GCM(pickle of the hnswlib index); the unpickler only admits
the classes an hnswlib pickle needs."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import mmap
import os
import pickle
import struct
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import hnswlib
import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.db import Connection
from core.fsutil import atomic_write

log = logging.getLogger(__name__)

MAGIC = b"MNEMOIDX1\n"  # format 1: one AES-GCM message over a pickle
MAGIC2 = b"MNEMOIDX2\n"  # format 2: raw hnswlib arrays in authenticated chunks
CHUNK = 1 << 22
_TAG = 16
_MAX_HEADER = 1 << 16
GENERATION_KEY = "_index.generation"
# Deleted slots keep memory and slow queries a little; past this share the index is rebuilt.
COMPACT_RATIO = 0.2
COMPACT_MIN = 64
SNAPSHOT_AFTER_INSERTS = 2000
SNAPSHOT_AFTER_SECONDS = 30.0


class SnapshotInvalid(Exception):
    """The snapshot is not ours, was altered, or was written under another key."""


# -- sealing ---------------------------------------------------------------------------------
def seal(payload: bytes, key: bytes, header: dict[str, Any]) -> bytes:
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    nonce = os.urandom(12)
    aad = MAGIC + head
    return (
        MAGIC
        + struct.pack(">I", len(head))
        + head
        + nonce
        + AESGCM(key).encrypt(nonce, payload, aad)
    )


def unseal(blob: bytes, key: bytes) -> tuple[dict[str, Any], bytes]:
    """Header and plaintext of a snapshot of either format, or SnapshotInvalid. Nothing is
    parsed beyond the header before the tag has been verified."""
    if blob.startswith(MAGIC2):
        header, plain = open_chunked(io.BytesIO(blob), key, len(blob))
        return header, plain.tobytes()
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 4 + 12 + 16:
        raise SnapshotInvalid("not an index snapshot")
    (n,) = struct.unpack(">I", blob[len(MAGIC) : len(MAGIC) + 4])
    start = len(MAGIC) + 4
    if start + n + 12 + 16 > len(blob):
        raise SnapshotInvalid("truncated or altered header")
    head = blob[start : start + n]
    nonce = blob[start + n : start + n + 12]
    body = blob[start + n + 12 :]
    try:
        payload = AESGCM(key).decrypt(nonce, body, MAGIC + head)
    except InvalidTag:
        raise SnapshotInvalid("authentication failed") from None
    return _parse_header(head), payload


def _parse_header(head: bytes) -> dict[str, Any]:
    try:
        header = json.loads(head.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SnapshotInvalid("bad header") from None
    if not isinstance(header, dict):
        raise SnapshotInvalid("bad header")
    return header


_MADV_POPULATE_WRITE = 23  # Linux 5.14+; not named by Python 3.11's mmap module


def _fresh(nbytes: int, populate: int | None = None) -> np.ndarray:
    """A uint8 array for a large buffer about to be written whole (the decrypted snapshot,
    the float16 copy), in 2 MB pages faulted in by one call where Linux allows. Written page
    by page, a fresh 170 MB buffer took more CPU in page faults than its decryption (tens of
    thousands of faults; 0.1-0.5 s here, against about 0.03 s this way). Elsewhere, or if
    the kernel refuses, a plain array."""
    if nbytes >= 1 << 22 and hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            m = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            m.madvise(mmap.MADV_HUGEPAGE)
            length = nbytes if populate is None else populate - populate % mmap.PAGESIZE
            with contextlib.suppress(OSError):
                if length > 0:
                    m.madvise(_MADV_POPULATE_WRITE, 0, length)
            return np.frombuffer(m, dtype=np.uint8)
        except (OSError, ValueError):
            pass  # the kernel refused the mapping or the advice: a plain array, below
    return np.empty(nbytes, dtype=np.uint8)


def _chunk_nonce(prefix: bytes, i: int) -> bytes:
    return prefix + struct.pack(">I", i)


def seal_chunked(parts: Sequence[Any], key: bytes, header: dict[str, Any]) -> bytearray:
    """Format 2: the concatenation of `parts` (buffers) sealed chunk by chunk, in one buffer
    ready to be written. The header gains the payload's size, the chunk size and the nonce
    prefix (it is the associated data of every chunk, so none of them can be changed)."""
    views = [memoryview(p).cast("B") for p in parts]
    size = sum(len(v) for v in views)
    prefix = os.urandom(8)
    header = {**header, "size": size, "chunk": CHUNK, "nonce": prefix.hex()}
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    # At least one chunk: an empty index's header is authenticated too.
    n_chunks = max(1, -(-size // CHUNK))
    start = len(MAGIC2) + 4 + len(head)
    out = bytearray(start + size + _TAG * n_chunks)
    out[:start] = MAGIC2 + struct.pack(">I", len(head)) + head
    aad = MAGIC2 + head
    aes = AESGCM(key)
    dst = memoryview(out)
    pos = start
    pending: list[memoryview] = []  # pieces of the chunk being gathered across parts
    pending_len = 0
    i = 0

    def flush() -> None:
        nonlocal pos, pending, pending_len, i
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        n = aes.encrypt_into(
            _chunk_nonce(prefix, i),
            data,
            aad + struct.pack(">I", i),
            dst[pos : pos + pending_len + _TAG],
        )
        pos += n
        i += 1
        pending, pending_len = [], 0

    for v in views:
        off = 0
        while off < len(v):
            take = min(CHUNK - pending_len, len(v) - off)
            pending.append(v[off : off + take])
            pending_len += take
            off += take
            if pending_len == CHUNK:
                flush()
    if pending_len or i == 0:
        flush()
    assert pos == len(out) and i == n_chunks
    return out


def open_chunked(
    src: io.BufferedIOBase, key: bytes, file_size: int
) -> tuple[dict[str, Any], np.ndarray]:
    """Read and verify a format-2 snapshot from `src` (positioned at its start): the header
    and the plaintext as one uint8 array. Each chunk is read into a reused buffer and
    decrypted straight into its place in the array (no other copy is made)."""
    lead = src.read(len(MAGIC2) + 4)
    if len(lead) < len(MAGIC2) + 4 or not lead.startswith(MAGIC2):
        raise SnapshotInvalid("not an index snapshot")
    (n,) = struct.unpack(">I", lead[len(MAGIC2) :])
    if n > _MAX_HEADER:
        raise SnapshotInvalid("truncated or altered header")
    head = src.read(n)
    if len(head) != n:
        raise SnapshotInvalid("truncated or altered header")
    # Read before the tags are checked, only to know the sizes: a forged header fails every
    # tag below, and its sizes must match the file's own, so it cannot make us allocate more.
    header = _parse_header(head)
    size, chunk, prefix = header.get("size"), header.get("chunk"), header.get("nonce")
    if not (
        isinstance(size, int)
        and isinstance(chunk, int)
        and isinstance(prefix, str)
        and size >= 0
        and 0 < chunk <= 1 << 26
        and len(prefix) == 16
    ):
        raise SnapshotInvalid("bad header")
    try:
        nonce_prefix = bytes.fromhex(prefix)
    except ValueError:
        raise SnapshotInvalid("bad header") from None
    n_chunks = max(1, -(-size // chunk))
    if len(lead) + n + size + _TAG * n_chunks != file_size:
        raise SnapshotInvalid("truncated or altered snapshot")
    aad = MAGIC2 + head
    aes = AESGCM(key)
    out = _fresh(size)
    dst = out.data
    buf = bytearray(min(chunk, size) + _TAG)
    view = memoryview(buf)
    for i in range(n_chunks):
        length = min(chunk, size - i * chunk)
        got = src.readinto(view[: length + _TAG])
        if got != length + _TAG:
            raise SnapshotInvalid("truncated snapshot")
        try:
            aes.decrypt_into(
                _chunk_nonce(nonce_prefix, i),
                view[: length + _TAG],
                aad + struct.pack(">I", i),
                dst[i * chunk : i * chunk + length],
            )
        except InvalidTag:
            raise SnapshotInvalid("authentication failed") from None
    if src.read(1):
        raise SnapshotInvalid("trailing bytes after the snapshot")
    return header, out


class _IndexUnpickler(pickle.Unpickler):
    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("hnswlib", "Index"),
        ("numpy", "dtype"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.numeric", "_frombuffer"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise SnapshotInvalid(f"unexpected object {module}.{name} in snapshot")
        return super().find_class(module, name)


# -- the in-memory index ---------------------------------------------------------------------
# hnswlib's state arrays as format 2 stores them (name -> dtype), then the deleted labels.
_ARRAYS = (
    "label_lookup_external",
    "label_lookup_internal",
    "element_levels",
    "data_level0",
    "link_lists",
)
_LAYOUT = {
    "label_lookup_external": "<u8",
    "label_lookup_internal": "<u4",
    "element_levels": "<i4",
    "data_level0": "|i1",
    "link_lists": "|i1",
    "deleted": "<u8",
}


class VectorIndex:
    """hnswlib with a lock, growth, erasure by overwrite, and the set of live labels."""

    def __init__(
        self,
        dim: int,
        *,
        capacity: int = 1024,
        m: int = 16,
        ef_construction: int = 100,
        ef_search: int = 64,
        threads: int | None = None,
    ) -> None:
        self.dim = dim
        self.ef_search = ef_search
        self._lock = threading.RLock()
        self._index = hnswlib.Index(space="ip", dim=dim)
        self._index.init_index(max_elements=max(16, capacity), M=m, ef_construction=ef_construction)
        self._index.set_ef(ef_search)
        self._index.set_num_threads(threads or os.cpu_count() or 1)
        self._live: set[int] = set()
        self._deleted: set[int] = set()
        self._src: np.ndarray | None = None
        self._init_copy()

    def _init_copy(self, ids: Sequence[int] = (), vecs: bytes = b"") -> None:
        """A float16 copy of the vectors, row per label, for `exact`: hnswlib's get_items
        converts every float to a Python object (about 20 us a vector, most of a search's
        cost when the window-meaning list scores a few hundred candidates), where a numpy
        row gather costs nearly nothing. Half precision moves a cosine by about 1e-3, which
        ranking tolerates; it doubles no memory (hnswlib's own float32 copy is larger)."""
        self._rows: dict[int, int] = {int(i): n for n, i in enumerate(ids)}
        copy = np.frombuffer(vecs, dtype=np.float16).reshape(-1, self.dim) if vecs else None
        self._copy = np.zeros((max(16, len(self._rows)), self.dim), dtype=np.float16)
        if copy is not None and len(copy) == len(self._rows):
            self._copy[: len(copy)] = copy
        else:
            self._rows = {}

    def finish_copy(self, rows_at_once: int = 8192) -> None:
        """Make the float16 copy of an index loaded from format 2, from the loaded float32
        vectors, a few thousand rows at a time: called once the index is searchable, so the
        first search does not wait for it (until it is done, `exact` reads the float32 rows;
        any change to the index finishes it first)."""
        src = self._src
        if src is None:
            return
        for start in range(0, len(src), rows_at_once):
            with self._lock:
                if self._src is None:
                    return  # a change finished it meanwhile
                end = min(start + rows_at_once, len(src))
                np.copyto(self._copy[start:end], src[start:end], casting="same_kind")
        with self._lock:
            self._src = None  # drops the decrypted snapshot

    def fill_copy(self, chunk: int = 20_000) -> int:
        """Copy every live vector not yet in the float16 copy (an index loaded from a snapshot
        older than the copy); returns how many were copied."""
        with self._lock:
            missing = [i for i in self._live if i not in self._rows]
            for start in range(0, len(missing), chunk):
                part = missing[start : start + chunk]
                got = self._index.get_items(part, return_type="numpy")
                self._keep_copy(part, np.asarray(got, dtype=np.float32))
        return len(missing)

    def _keep_copy(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Write these labels' vectors into the copy (an erased label's row is overwritten
        with the same noise as the index's slot, so its bytes are gone here too)."""
        self.finish_copy()
        rows = []
        for i in ids:
            row = self._rows.get(int(i))
            if row is None:
                row = self._rows[int(i)] = len(self._rows)
            rows.append(row)
        if rows and max(rows) >= len(self._copy):
            grown = np.zeros((max(max(rows) + 1, 2 * len(self._copy)), self.dim), np.float16)
            grown[: len(self._copy)] = self._copy
            self._copy = grown
        self._copy[rows] = vectors.astype(np.float16)

    # life cycle
    @classmethod
    def _around(
        cls,
        index: hnswlib.Index,
        dim: int,
        ef_search: int,
        labels: Iterable[int],
        deleted: Iterable[int],
    ) -> VectorIndex:
        """An instance around a loaded hnswlib index (either snapshot format): its lock, search
        settings and live labels; the float16 copy is the caller's."""
        self = cls.__new__(cls)
        self.dim = dim
        self.ef_search = ef_search
        self._lock = threading.RLock()
        self._index = index
        self._index.set_ef(ef_search)
        self._index.set_num_threads(os.cpu_count() or 1)
        self._deleted = {int(x) for x in deleted}
        self._live = {int(x) for x in labels} - self._deleted
        return self

    @classmethod
    def from_pickle(cls, payload: bytes, dim: int, ef_search: int = 64) -> VectorIndex:
        loaded = _IndexUnpickler(io.BytesIO(payload)).load()
        # (index, deleted), or from this version on (index, deleted, copy ids, copy bytes).
        if not (isinstance(loaded, tuple) and len(loaded) in (2, 4)):
            raise SnapshotInvalid("snapshot holds something else")
        index, deleted = loaded[:2]
        copy_ids, copy_vecs = loaded[2:] if len(loaded) == 4 else ([], b"")
        if not isinstance(copy_ids, list) or not isinstance(copy_vecs, bytes):
            raise SnapshotInvalid("snapshot holds something else")
        if not isinstance(index, hnswlib.Index) or index.dim != dim:
            raise SnapshotInvalid("snapshot holds an index of another shape")
        if not isinstance(deleted, list):
            raise SnapshotInvalid("snapshot holds something else")
        # get_ids_list() includes slots marked deleted; the snapshot says which those are.
        self = cls._around(index, dim, ef_search, index.get_ids_list(), deleted)
        self._src = None
        # An older snapshot has no copy: `exact` fills it from hnswlib as labels are asked for.
        self._init_copy(copy_ids, copy_vecs)
        return self

    def to_pickle(self) -> bytes:
        """Format 1's payload (the latency bench caches its fixture index this way)."""
        with self._lock:
            self.finish_copy()
            ids = sorted(self._rows, key=self._rows.__getitem__)
            vecs = self._copy[: len(ids)].tobytes()
            return pickle.dumps(
                (self._index, sorted(self._deleted), ids, vecs), protocol=pickle.HIGHEST_PROTOCOL
            )

    def to_state(self) -> tuple[dict[str, Any], list[tuple[str, np.ndarray]]]:
        """The index as hnswlib's own state: its scalar settings (for the header) and its
        arrays (the payload), plus the deleted labels. No float16 copy: it is the vectors of
        `data_level0` in half precision, made again at load."""
        with self._lock:
            state = dict(self._index.__getstate__()[0])
            deleted = np.asarray(sorted(self._deleted), dtype=np.uint64)
        count = int(state["cur_element_count"])
        arrays: list[tuple[str, np.ndarray]] = []
        for name in _ARRAYS:
            a = np.ascontiguousarray(state.pop(name))
            if name == "element_levels":
                a = a[:count]  # one per slot of the capacity; the unused ones are all 0
            arrays.append((name, a))
        arrays.append(("deleted", deleted))
        scalars = {k: v for k, v in state.items() if isinstance(v, bool | int | float | str)}
        if len(scalars) != len(state):
            raise ValueError(f"hnswlib state has fields of unknown kinds: {sorted(state)}")
        return scalars, arrays

    @classmethod
    def from_state(
        cls,
        scalars: dict[str, Any],
        layout: Sequence[Any],
        payload: np.ndarray,
        dim: int,
        ef_search: int = 64,
    ) -> VectorIndex:
        """An index from `to_state`'s parts: `layout` names each array, its dtype and length,
        in the order they sit in `payload` (authenticated before this is called; checked
        here anyway, since hnswlib trusts every size it is given)."""
        arrays: dict[str, np.ndarray] = {}
        off = 0
        try:
            for name, dtype, length in layout:
                if name not in _LAYOUT or _LAYOUT[name] != dtype or name in arrays:
                    raise SnapshotInvalid(f"unexpected array {name!r} in snapshot")
                dt = np.dtype(dtype)
                arrays[name] = np.frombuffer(payload, dt, int(length), off)
                off += int(length) * dt.itemsize
        except (TypeError, ValueError):
            raise SnapshotInvalid("snapshot holds something else") from None
        if off != len(payload) or set(arrays) != set(_LAYOUT):
            raise SnapshotInvalid("snapshot holds something else")
        if int(scalars.get("dim", -1)) != dim or scalars.get("space") != "ip":
            raise SnapshotInvalid("snapshot holds an index of another shape")
        count = int(scalars.get("cur_element_count", -1))
        per = int(scalars.get("size_data_per_element", -1))
        ext, internal = arrays["label_lookup_external"], arrays["label_lookup_internal"]
        levels = arrays["element_levels"]
        links = int(scalars.get("size_links_per_element", -1))
        offset_data = int(scalars.get("offset_data", -1))
        label_offset = int(scalars.get("label_offset", -1))
        if not (
            0 <= count <= int(scalars.get("max_elements", -1))
            and len(ext) == len(internal) == len(levels) == count
            and len(arrays["data_level0"]) == count * per
            and offset_data >= 0
            and offset_data + 4 * dim <= per
            and 0 <= label_offset <= per - 8
            and (count == 0 or (int(levels.min()) >= 0 and int(internal.max()) < count))
            and (count == 0 or int(np.bincount(internal, minlength=count).max()) == 1)
            and len(arrays["link_lists"]) == int(levels.astype(np.int64).sum()) * links
        ):
            raise SnapshotInvalid("snapshot holds an index of another shape")
        index = hnswlib.Index.__new__(hnswlib.Index)
        try:
            index.__setstate__(({**scalars, **arrays},))
        except (RuntimeError, TypeError, ValueError, KeyError):
            raise SnapshotInvalid("snapshot holds an index hnswlib cannot load") from None
        labels = ext.tolist()
        self = cls._around(index, dim, ef_search, labels, arrays["deleted"].tolist())
        # The float16 copy, row = hnswlib's internal id, from the vectors' columns of
        # data_level0 (label -> internal id is hnswlib's own map); made by finish_copy.
        self._rows = dict(zip(labels, internal.tolist(), strict=True))
        rows = arrays["data_level0"].reshape(count, per)
        self._src = rows[:, offset_data : offset_data + 4 * dim].view(np.float32)
        capacity = max(16, count + max(1024, count // 8))
        copy = _fresh(capacity * dim * 2, populate=count * dim * 2)
        self._copy = copy.view(np.float16).reshape(capacity, dim)
        return self

    # queries
    def __len__(self) -> int:
        return len(self._live)

    @property
    def deleted(self) -> int:
        return len(self._deleted)

    @property
    def labels(self) -> set[int]:
        with self._lock:
            return set(self._live)

    def __contains__(self, label: int) -> bool:
        return label in self._live

    def needs_compaction(self) -> bool:
        d = len(self._deleted)
        return d >= COMPACT_MIN and d > COMPACT_RATIO * (d + len(self._live))

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        labels = np.asarray(ids, dtype=np.uint64)
        with self._lock:
            need = self._index.element_count + len(ids)
            cap = self._index.get_max_elements()
            if need > cap:
                self._index.resize_index(max(need, cap * 2))
            self._index.add_items(vectors, labels)
            self._keep_copy(ids, vectors)
            for i in ids:
                self._live.add(int(i))
                self._deleted.discard(int(i))

    def remove(self, ids: Iterable[int]) -> int:
        """Overwrite each vector's bytes with noise, then mark the slot deleted: the erased
        vector is gone from memory and from every later snapshot."""
        gone = [int(i) for i in ids if int(i) in self._live]
        if not gone:
            return 0
        noise = np.random.default_rng().standard_normal((len(gone), self.dim)).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        with self._lock:
            self._index.add_items(noise, np.asarray(gone, dtype=np.uint64))
            self._keep_copy(gone, noise)
            for i in gone:
                self._index.mark_deleted(i)
                self._live.discard(i)
                self._deleted.add(i)
        return len(gone)

    def search(
        self, vector: np.ndarray, k: int, allowed: Callable[[int], bool] | None = None
    ) -> tuple[list[int], list[float]]:
        """Nearest labels with their cosine similarity, best first."""
        with self._lock:
            n = len(self._live)
            if n == 0 or k <= 0:
                return [], []
            k = min(k, n)
            self._index.set_ef(max(self.ef_search, k))
            try:
                labels, dists = self._index.knn_query(
                    np.asarray(vector, dtype=np.float32).reshape(1, self.dim),
                    k=k,
                    num_threads=1,
                    filter=allowed,
                )
            except RuntimeError:
                # hnswlib raises when fewer than k items pass the filter: ask for what exists.
                return self._search_small(vector, k, allowed)
        return [int(x) for x in labels[0]], [1.0 - float(d) for d in dists[0]]

    def _search_small(
        self, vector: np.ndarray, k: int, allowed: Callable[[int], bool] | None
    ) -> tuple[list[int], list[float]]:
        ids = [i for i in self._live if allowed is None or allowed(i)]
        return self.exact(vector, ids, k)

    def exact(
        self, vector: np.ndarray, ids: Sequence[int], k: int
    ) -> tuple[list[int], list[float]]:
        """Exact nearest among `ids` (used when a filter leaves few candidates)."""
        with self._lock:
            ids = [i for i in ids if i in self._live]
            if not ids or k <= 0:
                return [], []
            missing = [i for i in ids if i not in self._rows]
            if missing:
                got = self._index.get_items(missing, return_type="numpy")
                self._keep_copy(missing, np.asarray(got, dtype=np.float32))
            rows = np.fromiter((self._rows[i] for i in ids), dtype=np.int64, count=len(ids))
            # Just loaded, copy not made yet: the loaded rows themselves (nothing was added or
            # changed since, or the copy would have been finished first).
            vecs = self._copy[rows] if self._src is None else self._src[rows]
        sims = vecs.astype(np.float32) @ np.asarray(vector, dtype=np.float32).reshape(self.dim)
        k = min(k, len(ids))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top])]
        return [int(ids[i]) for i in top], [float(sims[i]) for i in top]


# -- persistence and reconciliation -------------------------------------------------------------
@dataclass(slots=True)
class IndexHealth:
    count: int
    deleted: int
    generation: int
    snapshot: str  # ok | rebuilt | missing
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "deleted": self.deleted,
            "generation": self.generation,
            "snapshot": self.snapshot,
        }


def read_generation(conn: Connection) -> int:
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (GENERATION_KEY,)).fetchone()
    try:
        return int(row[0]) if row else 0
    except ValueError:
        return 0


def write_generation(conn: Connection, generation: int) -> None:
    conn.execute(
        "INSERT INTO settings(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (GENERATION_KEY, str(generation)),
    )


def iter_db_vectors(
    conn: Connection, dim: int, ids: Iterable[int] | None = None, chunk: int = 4096
) -> Iterable[tuple[list[int], np.ndarray]]:
    """(ids, vectors) in chunks, from the vectors table (all rows, or the given ids)."""
    width = dim * 4
    if ids is None:
        cur = conn.execute("SELECT memory_id, vec FROM vectors ORDER BY memory_id")
        while True:
            rows = cur.fetchmany(chunk)
            if not rows:
                return
            yield _rows_to_arrays(rows, width, dim)
    else:
        wanted = sorted(ids)
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            marks = ",".join("?" * len(part))
            rows = conn.execute(
                f"SELECT memory_id, vec FROM vectors WHERE memory_id IN ({marks})", part
            ).fetchall()
            if rows:
                yield _rows_to_arrays(rows, width, dim)


def _rows_to_arrays(rows: list[tuple[int, bytes]], width: int, dim: int) -> tuple[list[int], Any]:
    good = [(i, v) for i, v in rows if v is not None and len(v) == width]
    if len(good) != len(rows):
        log.warning("%d stored vectors have the wrong size and were skipped", len(rows) - len(good))
    ids = [int(i) for i, _ in good]
    arr = np.frombuffer(b"".join(v for _, v in good), dtype=np.float32).reshape(len(good), dim)
    return ids, arr


class PersistentIndex:
    """The index as the app uses it: loaded from the snapshot (or rebuilt), reconciled with the
    database, saved in the background after enough inserts or time, and on close."""

    def __init__(
        self,
        *,
        dim: int,
        path: Path,
        key: bytes,
        read_conn: Callable[[], Connection],
        write: Callable[[Callable[[Connection], Any]], Any],
        snapshot_after_inserts: int = SNAPSHOT_AFTER_INSERTS,
        snapshot_after_seconds: float = SNAPSHOT_AFTER_SECONDS,
        background: bool = True,
    ) -> None:
        self.dim = dim
        self.path = path
        self._key = bytearray(key)
        self._read_conn = read_conn
        self._write = write
        self._after_inserts = snapshot_after_inserts
        self._after_seconds = snapshot_after_seconds
        self.index = VectorIndex(dim)
        self.generation = 0
        self.snapshot_state = "missing"
        self._cv = threading.Condition()
        self._pending = 0
        self._dirty_since: float | None = None
        self._compact_wanted = False
        self._stop = False
        self._busy = False
        self._save_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._background = background

    # -- opening -----------------------------------------------------------------------------
    def open(self, on_loaded: Callable[[], None] | None = None) -> IndexHealth:
        """Load the snapshot (or rebuild from the database), then reconcile with the database.

        `on_loaded` is called between the two: searches may start then, because a not yet
        reconciled index only lacks the newest vectors (the word side still finds those) or
        holds erased ones (no memory row is left for them, so they never become hits). The
        id scan that reconciling needs reads the whole vectors table, about a third of the
        time to open at 100k memories. Adding must wait for the whole open."""
        t0 = time.perf_counter()
        conn = self._read_conn()
        db_generation = read_generation(conn)
        reason = ""
        loaded = False
        if not self.path.exists():
            state, reason = "missing", "no snapshot"
        else:
            try:
                self.index, old_format = self._load(db_generation)
                state, loaded = "ok", True
                if old_format:
                    self._mark_dirty(1)  # rewritten in the current format at the next save
            except (SnapshotInvalid, pickle.UnpicklingError, ValueError, EOFError) as e:
                reason = str(e) if isinstance(e, SnapshotInvalid) else "unreadable"
                state = "rebuilt"
                self._set_aside()
            except OSError as e:
                state, reason = "rebuilt", f"unreadable ({e.strerror})"
        self.generation = db_generation
        if loaded:
            if on_loaded is not None:
                on_loaded()
            self.index.finish_copy()
            added, removed = self.reconcile()
            if added or removed:
                log.info("index reconciled: %d added, %d removed", added, removed)
                self._mark_dirty(added + removed, urgent=True)
        else:
            self.rebuild()
            self._mark_dirty(1, urgent=True)
            if on_loaded is not None:
                on_loaded()
            if state == "rebuilt":
                log.warning("index rebuilt from the database: %s", reason)
        self.snapshot_state = state
        log.info(
            "index ready (%s) with %d vectors in %.0f ms",
            state,
            len(self.index),
            (time.perf_counter() - t0) * 1000,
        )
        if self._background and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mnemo-index", daemon=True)
            self._thread.start()
        # What happened at open, from `state`: the urgent save of a rebuilt index may already
        # have run on the saver's thread and set `snapshot_state` back to "ok".
        return IndexHealth(len(self.index), self.index.deleted, self.generation, state, reason)

    def _load(self, db_generation: int) -> tuple[VectorIndex, bool]:
        """The snapshot's index, and whether it was written in format 1."""
        key = bytes(self._key)
        with open(self.path, "rb") as f:
            old_format = not f.read(len(MAGIC2)).startswith(MAGIC2)
            f.seek(0)
            if old_format:
                header, plain = unseal(f.read(), key)
                payload: bytes | np.ndarray = plain
            else:
                header, payload = open_chunked(f, key, os.fstat(f.fileno()).st_size)
        if int(header.get("generation", -1)) != db_generation:
            raise SnapshotInvalid(
                f"stale (generation {header.get('generation')} != {db_generation})"
            )
        if int(header.get("dim", -1)) != self.dim:
            raise SnapshotInvalid("different dimension")
        if old_format:
            return VectorIndex.from_pickle(bytes(payload), self.dim), True
        scalars, layout = header.get("hnsw"), header.get("parts")
        if not isinstance(scalars, dict) or not isinstance(layout, list):
            raise SnapshotInvalid("bad header")
        assert isinstance(payload, np.ndarray)
        return VectorIndex.from_state(scalars, layout, payload, self.dim), False

    def _set_aside(self) -> None:
        with contextlib.suppress(OSError):
            os.replace(self.path, self.path.with_name(self.path.name + ".damaged"))

    def health(self, reason: str = "") -> IndexHealth:
        return IndexHealth(
            len(self.index), self.index.deleted, self.generation, self.snapshot_state, reason
        )

    def rebuild(self) -> None:
        conn = self._read_conn()
        (n,) = conn.execute("SELECT count(*) FROM vectors").fetchone()
        fresh = VectorIndex(self.dim, capacity=int(n) + 1024)
        for ids, vecs in iter_db_vectors(conn, self.dim):
            fresh.add(ids, vecs)
        self.index = fresh

    def reconcile(self) -> tuple[int, int]:
        """Make the index hold exactly the ids of the vectors table. May run while memories
        are added (an erase reconciles with capture going on): the labels are read before the
        table, so a memory committed and indexed in between is never taken for an erased one
        (its vector is at most added once more, which changes nothing)."""
        labels = self.index.labels
        conn = self._read_conn()
        db_ids = {int(r[0]) for r in conn.execute("SELECT memory_id FROM vectors")}
        missing = db_ids - labels
        extra = labels - db_ids
        for ids, vecs in iter_db_vectors(conn, self.dim, missing):
            self.index.add(ids, vecs)
        self.index.remove(extra)
        return len(missing), len(extra)

    # -- changes -------------------------------------------------------------------------------
    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        self.index.add(ids, vectors)
        self._mark_dirty(len(ids))

    def remove(self, ids: Iterable[int]) -> int:
        n = self.index.remove(ids)
        if n:
            # The erased vectors still sit (encrypted) in the last snapshot: replace it soon.
            with self._cv:
                self._compact_wanted = self._compact_wanted or self.index.needs_compaction()
            self._mark_dirty(n, urgent=True)
        return n

    def _mark_dirty(self, n: int, urgent: bool = False) -> None:
        with self._cv:
            self._pending += max(n, 1)
            if self._dirty_since is None:
                self._dirty_since = time.monotonic()
            if urgent:
                self._pending = max(self._pending, self._after_inserts)
            self._cv.notify_all()

    # -- background work -------------------------------------------------------------------
    def _due(self) -> bool:
        if self._compact_wanted:
            return True
        if self._dirty_since is None:
            return False
        return (
            self._pending >= self._after_inserts
            or time.monotonic() - self._dirty_since >= self._after_seconds
        )

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stop and not self._due():
                    timeout = None
                    if self._dirty_since is not None:
                        timeout = max(
                            0.05, self._after_seconds - (time.monotonic() - self._dirty_since)
                        )
                    self._cv.wait(timeout)
                if self._stop:
                    return
                compact = self._compact_wanted
                self._busy = True
            try:
                if compact:
                    self.compact()
                else:
                    self.save()
            except Exception:
                log.exception("index background work failed")
                with self._cv:
                    self._stop = True
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Until no background snapshot or compaction is due or running (tests)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while (self._busy or self._compact_wanted) and not self._stop:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("index still busy")
                self._cv.wait(left)

    def compact(self) -> None:
        t0 = time.perf_counter()
        with self._cv:
            self._compact_wanted = False
        before = self.index.deleted
        self.rebuild()
        self.reconcile()
        log.info(
            "index compacted (%d deleted slots dropped) in %.0f ms",
            before,
            (time.perf_counter() - t0) * 1000,
        )
        self.save()

    def save(self) -> None:
        """Write a new snapshot (generation + 1), then record that generation in the database.
        A crash between the two leaves them unequal, which reads as stale: rebuilt, never
        trusted."""
        with self._save_lock:
            with self._cv:
                pending_before = self._pending
            t0 = time.perf_counter()
            generation = self.generation + 1
            scalars, arrays = self.index.to_state()
            count = len(self.index)
            header = {
                "generation": generation,
                "count": count,
                "dim": self.dim,
                "v": 2,
                "hnsw": scalars,
                "parts": [[name, a.dtype.str, len(a)] for name, a in arrays],
            }
            blob = seal_chunked([a for _, a in arrays], bytes(self._key), header)
            del arrays
            # A store found damaged is read-only, its snapshot included: this empty write
            # waits for the integrity check and raises when the store may not be written.
            self._write(lambda c: None)
            atomic_write(self.path, blob)
            self._write(lambda c: write_generation(c, generation))
            self.generation = generation
            self.snapshot_state = "ok"
            with self._cv:
                self._pending = max(0, self._pending - pending_before)
                if self._pending == 0:
                    self._dirty_since = None
            log.info(
                "index snapshot %d saved (%d vectors, %d bytes) in %.0f ms",
                generation,
                count,
                len(blob),
                (time.perf_counter() - t0) * 1000,
            )

    @property
    def dirty(self) -> bool:
        return self._dirty_since is not None

    def close(self, *, save: bool = True) -> None:
        """Stop the background thread; save when there are unsaved changes; forget the key."""
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            if save and (self.dirty or self._compact_wanted):
                if self._compact_wanted:
                    self.compact()
                else:
                    self.save()
        finally:
            for i in range(len(self._key)):
                self._key[i] = 0
            self.index = VectorIndex(self.dim, capacity=16)
