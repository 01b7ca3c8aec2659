"""The fields search ranks and filters candidates by, held in memory: time, kind, app, trust,
status, hidden, derived, author, conversation and a hash of the dedup key, in arrays indexed by
memory id. At 1M memories a candidate's row is a random page read (~45 us decrypted), and a
filtered search checked hundreds of them (see core.search.BroadFilter); here a check is an array
look-up, and the text is read only for the hits shown.

The copy is kept exact through `memories_changed` (schema v17): triggers log the id of every
memory inserted, deleted or changed in one of these fields, whatever wrote it; before each
search the copy re-reads those rows (`sync`). A log that skipped past the copy (pruned, or a
different database) makes it build afresh. About 40 bytes a memory (40 MB at 1M)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from core.db import Connection
from core.types import IMPORT_PREFIX, QUARANTINED, SearchFilters

_COLUMNS = "id, time, kind, app, trust, dedup_key, author, conversation, status, hidden, derived"
_STATUS = {"ok": 0, QUARANTINED: 1}  # anything else (rejected): 2
_ABSENT, _OK, _QUARANTINED, _OTHER = -1, 0, 1, 2
CHUNK = 900


class SearchFields:
    """One store's copy. `sync` is not thread-safe: the searcher calls it under a lock. Any
    reader connection of the store may bring it up to date (the log is in the database)."""

    def __init__(self) -> None:
        self.seq = -1  # the last log entry applied (-1: not built)
        self._cap = 0
        self.time = np.zeros(0, np.float64)
        self.trust = np.zeros(0, np.float64)
        self.status = np.zeros(0, np.int8)  # _ABSENT for no memory of that id
        self.excluded = np.zeros(0, np.bool_)  # hidden
        self.derived = np.zeros(0, np.bool_)
        self.kind = np.zeros(0, np.int32)
        self.app = np.zeros(0, np.int32)
        self.author = np.zeros(0, np.int32)
        self.conv = np.zeros(0, np.int32)
        self.dedup = np.zeros(0, np.int64)  # 0: no dedup key
        self._codes: dict[str | None, int] = {None: 0}
        self._names: list[str | None] = [None]
        self._imports = np.zeros(0, np.int32)  # the codes of the kinds "import:..."

    # -- keeping in step -------------------------------------------------------------------
    def sync(self, conn: Connection) -> bool:
        """Bring the copy up to date with what `conn` sees; False when the store keeps no log
        (a store from before schema 17: the caller reads rows instead)."""
        try:
            got = conn.execute("SELECT max(seq) FROM memories_changed").fetchone()
        except Exception as e:
            if "no such table" in str(e):
                return False
            raise
        if got is None:  # the table went away under a statement prepared before
            return False
        top = int(got[0]) if got[0] is not None else 0
        if self.seq < 0 or top < self.seq:
            self.build(conn, top)
            return True
        if top == self.seq:
            return True
        rows = conn.execute(
            "SELECT seq, memory_id FROM memories_changed WHERE seq > ? ORDER BY seq LIMIT ?",
            (self.seq, 50_001),
        ).fetchall()
        if not rows or int(rows[0][0]) != self.seq + 1 or len(rows) > 50_000:
            self.build(conn, top)  # entries pruned before we read them, or too many to replay
            return True
        self.refresh(conn, {int(m) for _, m in rows})
        self.seq = int(rows[-1][0])
        return True

    def build(self, conn: Connection, top: int | None = None) -> None:
        if top is None:
            (found,) = conn.execute("SELECT max(seq) FROM memories_changed").fetchone()
            top = int(found) if found is not None else 0
        (last,) = conn.execute("SELECT max(id) FROM memories").fetchone()
        self._cap = 0
        self._grow(int(last or 0) + 1)
        # Changes committed during the scan are logged after `top` and replayed next sync.
        cur = conn.execute(f"SELECT {_COLUMNS} FROM memories")
        while rows := cur.fetchmany(50_000):
            self._apply_many(rows)
        self.seq = top

    def _apply_many(self, rows: list[Any]) -> None:
        """_apply, a column at a time (a 1M-memory build: several times faster)."""
        mid, t, kind, app, trust, dedup, author, conv, status, hidden, derived = zip(*rows)
        ids = np.asarray(mid, dtype=np.int64)
        self._grow(int(ids.max()) + 1)
        self.time[ids] = np.asarray(t, dtype=np.float64)
        self.trust[ids] = np.asarray(trust, dtype=np.float64)
        get = _STATUS.get
        self.status[ids] = np.asarray([get(x, _OTHER) for x in status], dtype=np.int8)
        self.excluded[ids] = np.asarray(hidden, dtype=np.int64) != 0
        self.derived[ids] = np.asarray(derived, dtype=np.int64) != 0
        for name, values in (("kind", kind), ("app", app), ("author", author), ("conv", conv)):
            codes = {v: self._code(v) for v in set(values)}
            getattr(self, name)[ids] = np.asarray([codes[v] for v in values], dtype=np.int32)
        self.dedup[ids] = np.asarray(
            [(hash(d) or 1) if d is not None else 0 for d in dedup], dtype=np.int64
        )

    def refresh(self, conn: Connection, ids: Iterable[int]) -> None:
        todo = sorted(set(ids))
        if not todo:
            return
        self._grow(todo[-1] + 1)
        for start in range(0, len(todo), CHUNK):
            part = todo[start : start + CHUNK]
            self.status[part] = _ABSENT  # deleted unless read back below
            marks = ",".join("?" * len(part))
            self._apply(
                conn.execute(f"SELECT {_COLUMNS} FROM memories WHERE id IN ({marks})", part)
            )

    def _code(self, name: Any) -> int:
        key = None if name is None else str(name)
        code = self._codes.get(key)
        if code is None:
            code = self._codes[key] = len(self._names)
            self._names.append(key)
            if key is not None and key.startswith(IMPORT_PREFIX):
                self._imports = np.append(self._imports, np.int32(code))
        return code

    def _apply(self, rows: Iterable[Sequence[Any]]) -> None:
        code = self._code
        for mid, t, kind, app, trust, dedup, author, conv, status, hidden, derived in rows:
            if mid >= self._cap:
                self._grow(mid + 1)
            self.time[mid] = t
            self.trust[mid] = trust
            self.status[mid] = _STATUS.get(status, _OTHER)
            self.excluded[mid] = bool(hidden)
            self.derived[mid] = bool(derived)
            self.kind[mid] = code(kind)
            self.app[mid] = code(app)
            self.author[mid] = code(author)
            self.conv[mid] = code(conv)
            self.dedup[mid] = (hash(dedup) or 1) if dedup is not None else 0

    def _grow(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = max(need, int(self._cap * 1.25) + 1024)
        for name, fill in (
            ("time", 0.0),
            ("trust", 0.0),
            ("status", _ABSENT),
            ("excluded", True),
            ("derived", False),
            ("kind", 0),
            ("app", 0),
            ("author", 0),
            ("conv", 0),
            ("dedup", 0),
        ):
            old = getattr(self, name)
            new = np.full(cap, fill, dtype=old.dtype)
            new[: min(len(old), self._cap)] = old[: self._cap]
            setattr(self, name, new)
        self._cap = cap

    # -- asking ----------------------------------------------------------------------------
    def name(self, code: int) -> str | None:
        return self._names[code]

    def passing(self, ids: Sequence[int], f: SearchFilters) -> np.ndarray:
        """A mask over `ids`: which pass `f` and the exclusions search always applies (hidden,
        quarantined unless asked for, rejected, derived unless asked for)."""
        arr = np.asarray(ids, dtype=np.int64)
        if arr.size == 0:
            return np.zeros(0, np.bool_)
        inside = (arr >= 0) & (arr < self._cap)
        at = np.where(inside, arr, 0)
        return inside & self._mask(f, at)

    def passes(self, mid: int, f: SearchFilters) -> bool:
        """`passing` for one id, without arrays (a set's membership test, per candidate)."""
        if not 0 <= mid < self._cap:
            return False
        status = int(self.status[mid])
        if not (status == _OK or (f.include_quarantined and status == _QUARANTINED)):
            return False
        if self.excluded[mid] or (self.derived[mid] and not f.include_derived):
            return False
        t = float(self.time[mid])
        if (f.since is not None and t < f.since) or (f.until is not None and t >= f.until):
            return False
        if f.app and self._names[int(self.app[mid])] != f.app:
            return False
        if f.source:
            kind = self._names[int(self.kind[mid])] or ""
            if f.source in ("import", IMPORT_PREFIX.rstrip(":")):
                return kind.startswith(IMPORT_PREFIX)
            return kind == f.source
        return True

    def all_passing(self, f: SearchFilters) -> np.ndarray:
        """The ids of every memory that passes `f` (as `passing`)."""
        return np.nonzero(self._mask(f, slice(0, self._cap)))[0]

    def _mask(self, f: SearchFilters, at: Any) -> np.ndarray:
        status = self.status[at]
        ok = (status == _OK) | ((status == _QUARANTINED) if f.include_quarantined else False)
        ok &= ~self.excluded[at]
        if not f.include_derived:
            ok &= ~self.derived[at]
        if f.since is not None:
            ok &= self.time[at] >= f.since
        if f.until is not None:
            ok &= self.time[at] < f.until
        if f.app:
            ok &= self.app[at] == self._codes.get(f.app, -1)
        if f.source:
            kinds = self.kind[at]
            if f.source in ("import", IMPORT_PREFIX.rstrip(":")):
                ok &= np.isin(kinds, self._imports)
            else:
                ok &= kinds == self._codes.get(f.source, -1)
        return np.asarray(ok, dtype=np.bool_)


class FieldsFilter:
    """A broad filter (core.search.BroadFilter's interface) answered from SearchFields: no
    row is read to check a candidate."""

    def __init__(self, fields: SearchFields, f: SearchFilters) -> None:
        self._fields = fields
        self._filters = f

    def check(self, ids: Sequence[int]) -> None:
        """Nothing to read ahead: every check is an array look-up."""

    def first(self, ids: Sequence[int], limit: int) -> list[int]:
        if len(ids) == 0:
            return []
        mask = self._fields.passing(ids, self._filters)
        return [int(i) for i, ok in zip(ids, mask.tolist()) if ok][:limit]

    def __contains__(self, mid: object) -> bool:
        if not isinstance(mid, int | np.integer):
            return False
        return self._fields.passes(int(mid), self._filters)

    def listed(self) -> set[int]:
        return set(self._fields.all_passing(self._filters).tolist())
