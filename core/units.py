"""Retrieval units and event times, kept in step with the memories (schema v4, see
core/migrations/m0004_retrieval_units.py for the tables and the triggers that keep erasure and
quarantine complete).

A conversation turn alone is often too short to match a question: "When did Caroline go to the
support group?" is answered by Caroline's "I went yesterday", right after Melanie asked about
the group. Each turn of a conversation (chats, imports) is therefore also indexed as a window:
the turn before it, itself and the turn after it, in the same conversation and session, each
line with its speaker's name, followed by the dates the turn's own text speaks of. Search ranks
these windows as one more list (core.search) and returns the centre memory: results stay
memories. Screens and notes are whole already and get no window.

`refresh` builds what `units_stale` names: new memories, changed ones and the neighbours of
removed ones. It runs after every add and delete (app.memory_service) and on unlock. Each step
also keeps the windows' BM25 statistics true (_set_totals) and, when core.eventtime's rules
changed, builds again the event times its new rules read differently (_rules_changed)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from core.db import Connection

# A turn further than this from the one before it starts a new session: its window does not
# reach back over the gap (the last words of yesterday's chat are no context for today's).
SESSION_GAP = 2 * 3600.0
CHUNK = 2000
ELIGIBLE = "hidden = 0 AND status = 'ok' AND derived = 0"
# The core.eventtime rules a store's event times were built with (settings table).
RULES_KEY = "units.event_rules"
_EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    return (d - _EPOCH).days


def day_of(t: float) -> int:
    return day_number(datetime.fromtimestamp(t, UTC).date())


def events_of(text: str, at: float) -> list[tuple[int, int, str]]:
    """(start day, end day, label) of each time the text speaks of, against its own time."""
    from core.eventtime import resolve

    try:
        found = resolve(text, datetime.fromtimestamp(at, UTC))
    except (ValueError, OverflowError):
        return []
    return [(day_number(m.start), day_number(m.end), m.label) for m in found]


def _row(conn: Connection, mid: int) -> tuple[Any, ...] | None:
    return conn.execute(
        f"SELECT id, kind, time, author, text, conversation FROM memories WHERE id = ? AND "
        f"{ELIGIBLE}",
        (mid,),
    ).fetchone()


def _neighbour(conn: Connection, row: tuple[Any, ...], before: bool) -> tuple[Any, ...] | None:
    mid, kind, t, _a, _x, conv = row
    if before:
        cond, order = "(time < ? OR (time = ? AND id < ?))", "time DESC, id DESC"
    else:
        cond, order = "(time > ? OR (time = ? AND id > ?))", "time, id"
    found = conn.execute(
        "SELECT id, kind, time, author, text, conversation FROM memories "
        f"INDEXED BY memories_conversation WHERE conversation = ? AND kind = ? AND {ELIGIBLE} "
        f"AND {cond} ORDER BY {order} LIMIT 1",
        (conv, kind, t, t, mid),
    ).fetchone()
    if found is None or abs(float(found[2]) - float(t)) > SESSION_GAP:
        return None
    return found


def _line(row: tuple[Any, ...]) -> str:
    author = row[3]
    return f"{author}: {row[4]}" if author else str(row[4])


def _drop_unit(conn: Connection, unit_id: int, dropped: list[int]) -> None:
    """Delete the unit; add its row and its tokens to `dropped` ([rows, tokens], see
    _set_totals)."""
    if conn.execute("SELECT 1 FROM unit_members WHERE unit_id = ? LIMIT 1", (unit_id,)).fetchone():
        size = conn.execute("SELECT sz FROM units_fts_docsize WHERE id = ?", (unit_id,)).fetchone()
        if size is not None:
            dropped[0] += 1
            dropped[1] += sum(_varints(bytes(size[0] or b""))[:1])
        conn.execute("DELETE FROM units_fts WHERE rowid = ?", (unit_id,))
        conn.execute("DELETE FROM unit_members WHERE unit_id = ?", (unit_id,))


def _build_unit(conn: Connection, centre: tuple[Any, ...], dropped: list[int]) -> None:
    _drop_unit(conn, int(centre[0]), dropped)
    prev = _neighbour(conn, centre, True)
    nxt = _neighbour(conn, centre, False)
    members = [r for r in (prev, centre, nxt) if r is not None]
    labels = [
        label
        for (label,) in conn.execute(
            "SELECT label FROM memory_events WHERE memory_id = ?", (centre[0],)
        )
    ]
    text = "\n".join(_line(r) for r in members)
    if labels:
        text += "\n(" + "; ".join(dict.fromkeys(labels)) + ")"
    conn.execute("INSERT INTO units_fts(rowid, text) VALUES (?, ?)", (centre[0], text))
    conn.executemany(
        "INSERT OR IGNORE INTO unit_members(memory_id, unit_id) VALUES (?, ?)",
        [(r[0], centre[0]) for r in members],
    )


def _refresh_ids(conn: Connection, ids: Iterable[int], dropped: list[int]) -> None:
    centres: dict[int, tuple[Any, ...]] = {}
    for mid in ids:
        row = _row(conn, mid)
        if row is None:
            _drop_unit(conn, mid, dropped)  # hidden, quarantined or gone: no unit of its own
            continue
        conn.execute("DELETE FROM memory_events WHERE memory_id = ?", (mid,))
        conn.executemany(
            "INSERT INTO memory_events(memory_id, start_day, end_day, label) VALUES (?, ?, ?, ?)",
            [(mid, s, e, label) for s, e, label in events_of(str(row[4]), float(row[2]))],
        )
        if row[5] is None:
            continue
        centres[mid] = row
        for before in (True, False):
            n = _neighbour(conn, row, before)
            if n is not None:
                centres.setdefault(int(n[0]), n)
    for row in centres.values():
        _build_unit(conn, row, dropped)


def _varints(blob: bytes) -> list[int]:
    """SQLite's variable-length integers, one after the other."""
    out: list[int] = []
    i = 0
    while i < len(blob):
        v = 0
        for k in range(9):
            x = blob[i]
            i += 1
            if k == 8:
                v = (v << 8) | x
                break
            v = (v << 7) | (x & 0x7F)
            if not x & 0x80:
                break
        out.append(v)
    return out


def _varint(v: int) -> bytes:
    if v >= 1 << 56:
        raise ValueError(v)
    out = [v & 0x7F]
    v >>= 7
    while v:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    return bytes(reversed(out))


def _set_totals(conn: Connection, dropped: list[int]) -> None:
    """Keep units_fts's row count and token total (FTS5's "averages" record, which BM25 reads
    for IDF and the mean length) true to what the table holds. A contentless_delete table
    counts every insert and no delete, so each rebuilt window (a turn's neighbour arrives, a
    member is erased or hidden) inflated them: on locomo-dev one rebuild of every window moved
    recall@1 0.442 -> 0.436, recall@10 0.812 -> 0.809, and a chat captured turn by turn ranked
    unlike the same chat imported at once. FTS5 holds the record in memory while a transaction
    writes the table and saves it at commit; a savepoint makes it save it now and read it again
    before its next write, so the record written here stands. `dropped`: [rows, tokens] this
    transaction deleted; windows deleted by the triggers in other transactions (erase, hide,
    quarantine) are found by the count and the record is summed anew."""
    try:
        conn.execute("SAVEPOINT units_totals")
        conn.execute("RELEASE units_totals")
        got = conn.execute("SELECT block FROM units_fts_data WHERE id = 1").fetchone()
    except Exception as e:  # a store from before schema 4
        if "no such table" in str(e):
            return
        raise
    if got is None:
        return
    recorded = _varints(bytes(got[0]))
    if len(recorded) != 2:  # not the one-column record this code knows: leave it
        return
    rows, tokens = recorded[0] - dropped[0], recorded[1] - dropped[1]
    (live,) = conn.execute("SELECT count(*) FROM units_fts_docsize").fetchone()
    if rows != live or tokens < 0:
        tokens = 0
        for (size,) in conn.execute("SELECT sz FROM units_fts_docsize"):
            tokens += sum(_varints(bytes(size or b""))[:1])
        rows = int(live)
    if (rows, tokens) != (recorded[0], recorded[1]):
        conn.execute(
            "UPDATE units_fts_data SET block = ? WHERE id = 1", (_varint(rows) + _varint(tokens),)
        )


def _rules_changed(conn: Connection) -> None:
    """When the event-time rules changed since the store's event times were built, mark the
    memories whose text holds a phrase the new rules read (eventtime.RULES_PHRASES) stale, so
    their event times and windows are built again with the new rules."""
    from core.eventtime import RULES_PHRASES, RULES_VERSION

    got = conn.execute("SELECT value FROM settings WHERE key = ?", (RULES_KEY,)).fetchone()
    if got is not None and got[0] == str(RULES_VERSION):
        return
    match = "text : (" + " OR ".join(f'"{p}"' for p in RULES_PHRASES) + ")"
    conn.execute(
        "INSERT OR IGNORE INTO units_stale(memory_id) SELECT rowid FROM memories_fts "
        "WHERE memories_fts MATCH ?",
        (match,),
    )
    conn.execute(
        "INSERT INTO settings(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (RULES_KEY, str(RULES_VERSION)),
    )


def refresh_step(conn: Connection, limit: int = CHUNK) -> int:
    """Build the units and event times of up to `limit` stale memories (in the caller's
    transaction); returns how many were taken (0: nothing left)."""
    _rules_changed(conn)
    ids = [
        int(i)
        for (i,) in conn.execute(
            "SELECT memory_id FROM units_stale ORDER BY memory_id LIMIT ?", (limit,)
        )
    ]
    if not ids:
        _set_totals(conn, [0, 0])
        return 0
    dropped = [0, 0]
    _refresh_ids(conn, ids, dropped)
    _set_totals(conn, dropped)
    marks = ",".join("?" * len(ids))
    conn.execute(f"DELETE FROM units_stale WHERE memory_id IN ({marks})", ids)
    return len(ids)


def pending(conn: Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM units_stale").fetchone()[0])


def unit_members(conn: Connection, unit_ids: Iterable[int]) -> dict[int, list[int]]:
    """Unit id -> the memory ids it holds."""
    ids = list(dict.fromkeys(unit_ids))
    out: dict[int, list[int]] = {}
    for start in range(0, len(ids), 900):
        part = ids[start : start + 900]
        marks = ",".join("?" * len(part))
        for mid, uid in conn.execute(
            "SELECT memory_id, unit_id FROM unit_members INDEXED BY unit_members_unit "
            f"WHERE unit_id IN ({marks})",
            part,
        ):
            out.setdefault(int(uid), []).append(int(mid))
    return out
