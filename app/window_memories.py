"""One memory per window state: the capture worker hands over the whole text of each window on
screen; a window seen before (same app and title, recently) has its memory updated in place (the
indexed text grows to the union of its lines, the previous state is kept as a version with its
screenshot) instead of a new memory per change; a window whose text did not change adds nothing,
not even a screenshot.

An update does not re-embed the memory (that was the largest cost of a frame, ~150 ms): its
vector is marked stale in the same transaction as the text (schema v16), and `refresh` brings
stale vectors up to date when the window leaves the screen, at most once per REEMBED_S while it
keeps changing, when the user is idle (`refresh(everything=True)`) and, for what a crash or a
quit left stale, when capture starts again (`refresh_stored`). Meanwhile FTS finds the new text
and the older vector still finds the memory. The vector is of the window's latest state, not of
the merged history: the embedder reads only the first 256 tokens, so lines added to a long
history would never reach it (bench/capture.py --embed-choice measures both)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core import embedded, suspicion
from core.capture.window_text import MAX_UNION_CHARS, merge_lines, norm_line, window_key
from core.db import Connection
from core.errors import StoreLocked
from core.ingest import normalise_text, vector_blob
from core.memories import dedup_key
from core.types import QUARANTINED, SCREEN, NewMemory

if TYPE_CHECKING:
    from app.capture_config import CaptureSettings
    from app.session import Session

log = logging.getLogger(__name__)

# A window state continues (the same memory is updated) while it was seen this recently.
WINDOW_GAP_S = 6 * 3600.0
# A window that keeps changing has its vector brought up to date at most this often.
REEMBED_S = 60.0
# Short lines (clocks, counters, "3 unread") whose digits change are not a new state.
_SHORT = 20
_DIGITS = re.compile(r"\d")


def visible_key(text: str) -> str:
    """Equal for two readings of a window that show the same thing: whitespace and case
    ignored, and digits in short lines (a clock ticking is not a new window state)."""
    lines = []
    for line in text.split("\n"):
        n = norm_line(line)
        if n:
            lines.append(_DIGITS.sub("0", n) if len(n) <= _SHORT else n)
    return dedup_key("\n".join(lines))


@dataclass(slots=True)
class _Window:
    memory_id: int
    lines: list[str]  # the memory's indexed text (the union), line by line
    visible: str  # visible_key of the last state stored
    seen: float
    # box_key of every OCR box whose pixels the hidden-text check already looked at for this
    # memory: an update inspects only the boxes not in here (empty after a restart: all).
    inspected: frozenset[tuple[str, int]] = frozenset()
    embedded: float = 0.0  # when its vector was last written (0: not known, after a restart)


@dataclass(slots=True)
class Outcome:
    added: int = 0
    updated: int = 0
    media_bytes: int = 0
    quarantined: int = 0


def store_screenshot(
    services: Session,
    memories: list[NewMemory],
    pixels: Any,
    when: float,
    s: CaptureSettings,
    app: str | None,
    title: str | None,
) -> tuple[int | None, int]:
    """Store the frame (blacked out, redacted) as an encrypted screenshot, if the settings keep
    them, and point `memories` at it with their boxes scaled to it; without one they keep no
    boxes. Returns (media id or None, bytes stored)."""
    media = services.media
    if not s.keep_screenshots or media is None:
        for m in memories:
            m.boxes, m.region = None, None
        return None, 0
    from app.screen_media import encode_screenshot, rgb_image, scale_boxes

    shot = encode_screenshot(rgb_image(pixels), s.max_width, s.quality)
    media_id = media.put(
        shot.data,
        mime=shot.mime,
        time=when,
        width=shot.width,
        height=shot.height,
        thumbnail=shot.thumbnail,
        app=app,
        title=title,
    )
    for m in memories:
        m.media_id = media_id
        m.boxes = scale_boxes(m.boxes, shot.scale)
        if m.region is not None:
            (m.region,) = scale_boxes([m.region], shot.scale) or [m.region]
    return media_id, len(shot.data) + len(shot.thumbnail)


def stale_vectors(conn: Connection) -> int:
    """How many vectors the store has marked stale (their memory's text changed since)."""
    return int(conn.execute("SELECT count(*) FROM vectors WHERE stale IS NOT NULL").fetchone()[0])


class WindowMemories:
    """Used by the capture worker only (not thread-safe)."""

    def __init__(self, services: Session) -> None:
        self.services = services
        self._known: dict[str, _Window] = {}
        # Memories whose vector is stale: memory id -> (window key, when last embedded).
        self._stale: dict[int, tuple[str, float]] = {}

    def forget(self) -> None:
        """Drop what is remembered of the windows (the store still has it). Which vectors are
        stale is kept (ids only): after a pause or a lock they are still brought up to date."""
        self._known.clear()

    @property
    def stale_count(self) -> int:
        """Memories updated since their vector was written (known to this worker)."""
        return len(self._stale)

    def remember(
        self,
        memories: list[NewMemory],
        pixels: Any,
        when: float,
        s: CaptureSettings,
        *,
        app: str | None = None,
        title: str | None = None,
    ) -> Outcome:

        memory = self.services.memory
        if memory is None:
            raise StoreLocked()
        out = Outcome()
        changed: list[tuple[NewMemory, _Window | None, str]] = []
        for m in memories:
            m.text = normalise_text(m.text)
            if not m.text:
                continue
            key = window_key(m.app, m.title, m.domain)
            vis = visible_key(m.text)
            known = self._known.get(key) or self._lookup(m, when)
            if known is not None and known.visible == vis:
                known.seen = when
                self._known[key] = known
                continue
            changed.append((m, known, vis))
        self._prune(when)
        if not changed:
            return out
        rgb = rgb_view(pixels)
        # Decide update or new memory first: an update of a known window checks for hidden
        # text only the boxes it has not checked yet (that check is per box and costs ~4 ms a
        # box; the text rules still read the whole text); a new memory is checked whole.
        fresh: list[tuple[NewMemory, str]] = []
        updates: list[tuple[NewMemory, _Window, str, list[str]]] = []
        before: dict[int, tuple[str, list[str]]] = {}
        checked: dict[int, frozenset[tuple[str, int]]] = {}
        frame_boxes: dict[int, list[dict[str, Any]] | None] = {}
        for m, known, vis in changed:
            before[id(m)] = (m.status, list(m.reasons))
            seen: frozenset[tuple[str, int]] = frozenset()
            if known is not None:
                union = merge_lines(known.lines, m.text.split("\n"))
                if sum(len(x) + 1 for x in union) <= MAX_UNION_CHARS:
                    updates.append((m, known, vis, union))
                    seen = known.inspected
                else:
                    fresh.append((m, vis))
            else:
                fresh.append((m, vis))
            inspect_hidden_text(m, rgb, seen=seen)
            checked[id(m)] = seen | box_keys(m.boxes)
            frame_boxes[id(m)] = m.boxes  # store_screenshot points m at boxes scaled to it
        media_id, out.media_bytes = store_screenshot(
            self.services,
            [m for m, _, _ in changed],
            pixels,
            when,
            s,
            app or changed[0][0].app,
            title or changed[0][0].title,
        )
        try:
            if updates:
                gone = self._update(updates, when, media_id, checked)
                out.updated = len(updates) - len(gone)
                for m, _, vis, _ in updates:
                    if id(m) in gone:  # added anew instead: checked whole, like any new one
                        m.status, m.reasons = before[id(m)]
                        inspect_hidden_text(m, rgb, boxes=frame_boxes[id(m)])
                        checked[id(m)] = box_keys(frame_boxes[id(m)])
                        fresh.append((m, vis))
            if fresh:
                report = memory.add_many([m for m, _ in fresh])
                out.added = report.added
                self._versions([(mid, m.text) for mid, (m, _) in zip(report.ids, fresh)],
                               when, media_id)  # fmt: skip
                for mid, (m, vis) in zip(report.ids, fresh):
                    key = window_key(m.app, m.title, m.domain)
                    self._known[key] = _Window(
                        mid, m.text.split("\n"), vis, when, checked.get(id(m), frozenset()), when
                    )
        except BaseException:
            if media_id is not None and self.services.unlocked and out.added + out.updated == 0:
                media = self.services.media
                if media is not None:
                    drop_media(media, media_id)
            raise
        out.quarantined = sum(1 for m, _, _ in changed if m.status == QUARANTINED)
        return out

    # -- pieces --------------------------------------------------------------------------------
    def _lookup(self, m: NewMemory, when: float) -> _Window | None:
        """The window's memory from the store (after a restart), if it was seen recently."""
        conn = self.services.store.reader()
        row = conn.execute(
            "SELECT id, text, time FROM memories WHERE kind = ? AND app IS ? AND title IS ? "
            "AND domain IS ? AND hidden = 0 AND status != 'rejected' AND time >= ? "
            "ORDER BY time DESC LIMIT 1",
            (SCREEN, m.app, m.title, m.domain, when - WINDOW_GAP_S),
        ).fetchone()
        if row is None:
            return None
        last = conn.execute(
            "SELECT text FROM memory_versions WHERE memory_id = ? ORDER BY time DESC, id DESC "
            "LIMIT 1",
            (row[0],),
        ).fetchone()
        visible = visible_key(last[0] if last else row[1])
        return _Window(int(row[0]), str(row[1]).split("\n"), visible, float(row[2]))

    def _update(
        self,
        updates: list[tuple[NewMemory, _Window, str, list[str]]],
        when: float,
        media_id: int | None,
        checked: dict[int, frozenset[tuple[str, int]]],
    ) -> set[int]:
        """Write new states of known windows, their vectors marked stale in the same
        transaction (not re-embedded: `refresh` does that later); returns id() of the memories
        whose row is gone (erased meanwhile), which the caller adds as new memories instead."""
        texts = ["\n".join(union) for _, _, _, union in updates]

        def write(conn: Connection) -> set[int]:
            gone: set[int] = set()
            for (m, known, _, _), text in zip(updates, texts):
                cur = conn.execute(
                    "UPDATE memories SET text = ?, time = ?, media_id = coalesce(?, media_id), "
                    "boxes = ?, region = ?, dedup_key = ?, "
                    "status = CASE WHEN ? = 'quarantined' AND status = 'ok' THEN ? ELSE status "
                    "END, reasons = CASE WHEN ? IS NULL THEN reasons ELSE ? END "
                    "WHERE id = ? AND hidden = 0",
                    (
                        text,
                        when,
                        media_id,
                        json.dumps(m.boxes) if m.boxes else None,
                        json.dumps(m.region) if m.region else None,
                        dedup_key(text, SCREEN),
                        m.status,
                        QUARANTINED,
                        json.dumps(m.reasons) if m.reasons else None,
                        json.dumps(m.reasons) if m.reasons else None,
                        known.memory_id,
                    ),
                )
                if cur.rowcount == 0:
                    gone.add(id(m))
                    continue
                conn.execute(
                    "UPDATE vectors SET stale = coalesce(stale, ?) WHERE memory_id = ?",
                    (when, known.memory_id),
                )
                conn.execute(
                    "INSERT INTO memory_versions(memory_id, time, text, media_id) "
                    "VALUES (?, ?, ?, ?)",
                    (known.memory_id, when, m.text, media_id),
                )
            return gone

        gone = self.services.store.write(write)
        for m, known, vis, union in updates:
            key = window_key(m.app, m.title, m.domain)
            if id(m) in gone:
                self._known.pop(key, None)
                self._stale.pop(known.memory_id, None)
                continue
            self._known[key] = _Window(
                known.memory_id, union, vis, when, checked[id(m)], known.embedded
            )
            self._stale[known.memory_id] = (key, known.embedded)
        return gone

    # -- stale vectors ---------------------------------------------------------------------------
    def refresh(
        self, now: float, *, on_screen: AbstractSet[str] | None = None, everything: bool = False
    ) -> int:
        """Re-embed the stale vectors that are due: of windows not in `on_screen` (left), of
        windows last embedded REEMBED_S or more before `now`, or all (`everything`: the user is
        idle, capture stops). Returns how many vectors were written."""
        due = [
            mid
            for mid, (key, at) in self._stale.items()
            if everything
            or (on_screen is not None and key not in on_screen)
            or now - at >= REEMBED_S
        ]
        return self._reembed(due, now) if due else 0

    def refresh_stored(self, now: float) -> int:
        """Re-embed every vector the store has marked stale (left so by a crash or a quit)."""
        rows = self.services.store.reader().execute(
            "SELECT memory_id FROM vectors WHERE stale IS NOT NULL"
        )
        ids = [int(r[0]) for r in rows]
        return self._reembed(ids, now) if ids else 0

    def _reembed(self, ids: list[int], now: float) -> int:
        memory = self.services.memory
        if memory is None:
            raise StoreLocked()
        conn = self.services.store.reader()
        items: list[tuple[int, float, str]] = []
        statuses: dict[int, str] = {}
        for mid in ids:
            row = conn.execute(
                "SELECT v.stale, m.text, (SELECT text FROM memory_versions WHERE memory_id = "
                "v.memory_id ORDER BY time DESC, id DESC LIMIT 1), m.status "
                "FROM vectors v JOIN memories m ON m.id = v.memory_id WHERE v.memory_id = ?",
                (mid,),
            ).fetchone()
            if row is None or row[0] is None:  # erased, or brought up to date meanwhile
                self._stale.pop(mid, None)
                continue
            items.append((mid, float(row[0]), vector_text(row[2] or row[1])))
            statuses[mid] = str(row[3])
        if not items:
            return 0
        vecs = memory.embedder.embed([text for _, _, text in items])
        model = memory.model_name
        # The rules read each frame before any vector existed; the embedding poison model reads
        # the window's new vector here, where it is computed (a dot product, no new embed).
        flagged: dict[int, list[str]] = {}
        if embedded.reads(model):
            for (mid, _, text), vec in zip(items, vecs):
                if statuses[mid] != QUARANTINED:
                    found = suspicion.model_flags(text, vector=vec)
                    if found:
                        flagged[mid] = suspicion.reasons(found)

        def write(c: Connection) -> list[int]:
            done = []
            for (mid, stale, _), vec in zip(items, vecs):
                cur = c.execute(
                    "UPDATE vectors SET vec = ?, model = ?, stale = NULL "
                    "WHERE memory_id = ? AND stale = ?",
                    (vector_blob(vec), model, mid, stale),
                )
                if cur.rowcount:
                    done.append(mid)
            for mid, why in flagged.items():
                row = c.execute(
                    "SELECT reasons FROM memories WHERE id = ? AND status = 'ok'", (mid,)
                ).fetchone()
                if row is not None:
                    c.execute(
                        "UPDATE memories SET status = ?, reasons = ? WHERE id = ?",
                        (QUARANTINED, json.dumps([*json.loads(row[0] or "[]"), *why]), mid),
                    )
            return done

        done = set(self.services.store.write(write))
        for mid, _, _ in items:
            self._stale.pop(mid, None)
        for w in self._known.values():
            if w.memory_id in done:
                w.embedded = now
        rows = [vec for (mid, _, _), vec in zip(items, vecs) if mid in done]
        if rows:
            # The same label again overwrites the vector in place (hnswlib add_items).
            memory.wait_ready(60)
            memory.index.add(
                [mid for mid, _, _ in items if mid in done], np.stack(rows).astype(np.float32)
            )
        return len(done)

    def _versions(self, items: list[tuple[int, str]], when: float, media_id: int | None) -> None:
        if not items:
            return

        def write(conn: Connection) -> None:
            conn.executemany(
                "INSERT INTO memory_versions(memory_id, time, text, media_id) VALUES (?,?,?,?)",
                [(mid, when, text, media_id) for mid, text in items],
            )

        self.services.store.write(write)

    def _prune(self, now: float) -> None:
        for key in [k for k, w in self._known.items() if now - w.seen > WINDOW_GAP_S]:
            del self._known[key]


def vector_text(latest_state: str) -> str:
    """What a window memory's vector is made of: the window's latest state (what it shows
    now), not the merged history, whose first 256 tokens would never include a line added
    late."""
    return latest_state


def box_key(b: dict[str, Any]) -> tuple[str, int]:
    """What makes two OCR boxes the same for the hidden-text check: their text and height."""
    return norm_line(str(b.get("text", ""))), int(b.get("h", 0))


def box_keys(boxes: list[dict[str, Any]] | None) -> frozenset[tuple[str, int]]:
    return frozenset(box_key(b) for b in boxes or [])


def inspect_hidden_text(
    m: NewMemory,
    image: Any,
    *,
    seen: AbstractSet[tuple[str, int]] = frozenset(),
    boxes: list[dict[str, Any]] | None = None,
) -> None:
    """Tiny or low-contrast text is a way to plant instructions: quarantine such memories
    before ingest (boxes are still in frame pixels, matching `image`). The text rules read the
    whole text; the per-box pixel check skips boxes whose key is in `seen` (checked already
    for this window's memory). `boxes` replaces m.boxes when given."""
    # Redacted boxes are black in `image` on purpose: they would read as "invisible text".
    boxes = [
        b
        for b in (m.boxes if boxes is None else boxes) or []
        if "[redacted " not in str(b.get("text", "")) and (not seen or box_key(b) not in seen)
    ]
    flags = suspicion.inspect(m.text, boxes=boxes, image=image, kind="screen")
    m.flags = flags  # the ingest's trust inspector uses these instead of looking again
    if suspicion.should_quarantine(flags):
        m.status = QUARANTINED
        m.reasons = [*m.reasons, *suspicion.reasons(flags)]


def rgb_view(pixels: Any) -> Any:
    """RGB channels of a BGRA/BGR frame as a view (no copy); other arrays as they are."""
    if getattr(pixels, "ndim", 0) == 3 and pixels.shape[2] in (3, 4):
        return pixels[..., 2::-1]
    return pixels


def drop_media(media: Any, media_id: int) -> None:
    files = media.store.write(lambda c: media.destroy_keys(c, [media_id]))
    media.remove_files(files)
