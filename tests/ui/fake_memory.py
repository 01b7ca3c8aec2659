"""A deterministic stand-in for app.memory_service.MemoryService (same methods and shapes), so
the search window, viewer and timeline are tested without the engine. Also a fake media
service and a generator of a few thousand plausible memories for the demo screenshot."""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from core.types import (
    CHAT,
    HL_END,
    HL_START,
    NOTE,
    OK,
    SCREEN,
    Memory,
    SearchFilters,
    SearchHit,
    SearchResults,
    import_kind,
)

_WORD = re.compile(r"\w+", re.UNICODE)


def memory(
    mid: int,
    text: str,
    t: float,
    kind: str = NOTE,
    app: str | None = None,
    title: str | None = None,
    author: str | None = None,
    conversation: str | None = None,
    media_id: int | None = None,
    trust: float = 1.0,
    status: str = OK,
) -> Memory:
    return Memory(
        id=mid,
        kind=kind,
        text=text,
        time=t,
        app=app,
        title=title,
        domain=None,
        author=author,
        conversation=conversation,
        file=None,
        external_id=None,
        media_id=media_id,
        source_id=None,
        trust=trust,
        status=status,
        reasons=[],
        derived=False,
    )


class FakeMemoryService:
    """Word search over an in-memory list. `delay(query)` returns seconds to sleep for that
    query (to test stale responses); `gate` can hold every search until set. Every call is
    recorded in `calls` (thread-safe)."""

    def __init__(self, memories: list[Memory] | None = None) -> None:
        self.memories: list[Memory] = list(memories or [])
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        self.delays: dict[str, float] = {}
        self.time_words: dict[str, SearchFilters] = {}  # query word -> filters it implies
        self._lock = threading.Lock()

    def _record(self, name: str, *args: object) -> None:
        with self._lock:
            self.calls.append((name, args))

    def wait_ready(self, timeout: float | None = None) -> bool:
        return True

    def index_health(self) -> dict[str, object]:
        return {"count": len(self.memories), "deleted": 0, "generation": 1, "snapshot": "ok"}

    def close(self, *, save: bool = True) -> None:
        """As MemoryService.close (lock, quit): nothing to save."""

    def searches(self) -> list[tuple[str, SearchFilters | None, int]]:
        with self._lock:
            return [a for n, a in self.calls if n == "search"]  # type: ignore[misc]

    # -- the MemoryService interface ---------------------------------------------------------
    def search(
        self, query: str, filters: SearchFilters | None = None, k: int = 20
    ) -> SearchResults:
        self._record("search", query, filters, k)
        t0 = time.perf_counter()
        if query in self.delays:
            time.sleep(self.delays[query])
        applied = replace(filters) if filters is not None else SearchFilters()
        words = []
        for w in _WORD.findall(query.lower()):
            if w in self.time_words:
                implied = self.time_words[w]
                applied.since, applied.until = implied.since, implied.until
            else:
                words.append(w)
        hits: list[SearchHit] = []
        groups: dict[str, SearchHit] = {}
        for m in sorted(self.memories, key=lambda m: -m.time):
            if not self._passes(m, applied):
                continue
            low = m.text.lower()
            if not words or not all(w in low for w in words):
                continue
            key = m.text.strip().lower()
            if key in groups:
                groups[key].count += 1
                groups[key].group_ids.append(m.id)
                continue
            hit = SearchHit(
                id=m.id,
                external_id=m.external_id,
                time=m.time,
                source=m.kind,
                app=m.app,
                title=m.title,
                snippet=_snippet(m.text, words),
                score=1.0,
                trust=m.trust,
                count=1,
                group_ids=[m.id],
                author=m.author,
                conversation=m.conversation,
                media_id=m.media_id,
                status=m.status,
            )
            groups[key] = hit
            hits.append(hit)
            if len(hits) >= k:
                break
        return SearchResults(
            hits=hits,
            query=" ".join(words),
            filters=applied,
            took_ms=(time.perf_counter() - t0) * 1000,
        )

    def get(self, memory_id: int) -> Memory | None:
        self._record("get", memory_id)
        return next((m for m in self.memories if m.id == memory_id), None)

    def neighbours(self, memory_id: int, before: int = 5, after: int = 5) -> list[Memory]:
        self._record("neighbours", memory_id, before, after)
        m = self.get(memory_id)
        if m is None:
            return []
        if m.conversation:
            same = [x for x in self.memories if x.conversation == m.conversation]
        else:
            same = [x for x in self.memories if x.app == m.app and x.kind == m.kind]
        same.sort(key=lambda x: (x.time, x.id))
        i = same.index(m)
        return same[max(0, i - before) : i + after + 1]

    def day_histogram(self, day_start: float, day_end: float) -> list[tuple[float, int]]:
        self._record("day_histogram", day_start, day_end)
        hours = [day_start + h * 3600 for h in range(24)]
        counts = [0] * 24
        for m in self.memories:
            if day_start <= m.time < day_end:
                counts[min(23, int((m.time - day_start) // 3600))] += 1
        return list(zip(hours, counts))

    def list_between(self, since: float, until: float, limit: int = 200) -> list[Memory]:
        self._record("list_between", since, until, limit)
        found = [m for m in self.memories if since <= m.time < until]
        return sorted(found, key=lambda m: -m.time)[:limit]

    def apps(self) -> list[str]:
        self._record("apps")
        return sorted({m.app for m in self.memories if m.app})

    def count(self) -> int:
        self._record("count")
        return len(self.memories)

    @staticmethod
    def _passes(m: Memory, f: SearchFilters) -> bool:
        if f.since is not None and m.time < f.since:
            return False
        if f.until is not None and m.time >= f.until:
            return False
        if f.app is not None and m.app != f.app:
            return False
        if f.source is not None:
            if f.source == "import":
                if not m.kind.startswith("import:"):
                    return False
            elif m.kind != f.source:
                return False
        return True


def _snippet(text: str, words: list[str], width: int = 220) -> str:
    low = text.lower()
    first = min((low.find(w) for w in words if w in low), default=0)
    start = max(0, first - 60)
    piece = text[start : start + width]
    if words:
        pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
        piece = pattern.sub(lambda m: HL_START + m.group(0) + HL_END, piece)
    return ("…" if start else "") + piece + ("…" if start + width < len(text) else "")


class StubServices:
    """The slice of app.services.Services the pages use: unlocked, memory, media."""

    def __init__(self, memory: object = None, media: object = None, unlocked: bool = True):
        self.memory = memory
        self.media = media
        self.unlocked = unlocked


class FakeMedia:
    """Thumbnails and images as PNG bytes drawn on request (Qt image code is thread-safe)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def _png(self, media_id: int, w: int, h: int) -> bytes:
        from PySide6.QtCore import QBuffer, QByteArray, QIODevice
        from PySide6.QtGui import QColor, QImage, QPainter

        img = QImage(w, h, QImage.Format.Format_RGB32)
        img.fill(QColor("#fdfdfd"))
        p = QPainter(img)
        p.fillRect(0, 0, w, h // 8, QColor("#2b3245"))
        rnd = random.Random(media_id)
        for i in range(10):
            y = h // 6 + i * (h // 13)
            p.fillRect(
                w // 12, y, int(w * rnd.uniform(0.3, 0.8)), max(2, h // 40), QColor("#9aa3b5")
            )
        p.end()
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        img.save(buf, "PNG")
        buf.close()
        return bytes(data.data())

    def thumbnail(self, media_id: int) -> bytes:
        self.calls.append(("thumbnail", media_id))
        return self._png(media_id, 240, 150)

    def load_image(self, media_id: int) -> bytes:
        self.calls.append(("load_image", media_id))
        return self._png(media_id, 1280, 800)


# -- demo data --------------------------------------------------------------------------------
_APPS = {
    "firefox": [
        "Flight LH 2041 Berlin to Lisbon, Friday 09:40, seat 14C, booking ref QX7PLM",
        "Invoice 2026-118 from Nordlicht Design: 1,240.00 EUR due on 30 November",
        "Recipe: lentil soup with smoked paprika, cumin, two carrots and a lemon",
        "Pull request #482: fix the crash when the calendar export has no time zone",
        "Apartment listing: 3 rooms, balcony, Kastanienallee 12, viewing Tuesday 18:00",
    ],
    "thunderbird": [
        "Re: quarterly report — Maria asked for the final numbers by Thursday noon",
        "Your parcel 00340434161094042557 will arrive tomorrow between 10:00 and 14:00",
        "Dentist appointment confirmed: Monday 8 December at 08:30, Dr. Okafor",
    ],
    "code": [
        "def reconcile(index, db): ids missing from the index are re-embedded in batches of 64",
        "TODO: the invoice parser fails when the total has a thousands separator",
    ],
    "libreoffice": [
        "Budget 2027 draft: travel 4,800 EUR, equipment 2,100 EUR, training 1,500 EUR",
        "Minutes: the team agreed to move the offsite to Lisbon in March",
    ],
}
_EXTRA = ["page", "tab", "unread", "item", "line", "row", "comment"]
_CHATS = [
    ("Anna", "Family", "Can you bring the blue box with the spare keys when you come on Sunday?"),
    ("me", "Family", "Sure, it's in the hall cupboard. I'll bring the invoice folder too."),
    ("Anna", "Family", "Great, and don't forget mum's birthday cake from the bakery on Friday"),
    ("Jonas", "Work", "The flight to Lisbon got moved to 11:15, new booking ref is QX9AAB"),
    ("me", "Work", "Thanks! Can you forward the invoice from Nordlicht to accounting?"),
    ("Jonas", "Work", "Done. Maria says the quarterly report is fine as it is"),
]


def demo_memories(n: int = 3000, now: float | None = None, seed: int = 7) -> list[Memory]:
    """A few thousand memories over the last 60 days: screens with pictures, chats, notes."""
    rnd = random.Random(seed)
    now = now if now is not None else time.time()
    out: list[Memory] = []
    for i in range(1, n + 1):
        age = rnd.random() ** 2 * 60 * 86400  # more recent memories than old ones
        t = now - age
        hour = datetime.fromtimestamp(t).hour
        if hour < 7:  # people mostly sleep at night
            t -= timedelta(hours=rnd.randint(2, 6)).total_seconds()
        r = rnd.random()
        if r < 0.6:
            app = rnd.choice(list(_APPS))
            # Screens repeat with small changes (a clock, a counter); some repeat exactly.
            text = rnd.choice(_APPS[app])
            if rnd.random() < 0.7:
                text += f" · {rnd.choice(_EXTRA)} {rnd.randint(1, 40)}"
            out.append(
                memory(i, text, t, SCREEN, app=app, title=f"{text[:38]} — {app}", media_id=i)
            )
        elif r < 0.85:
            author, conv, text = rnd.choice(_CHATS)
            if rnd.random() < 0.6:
                text += rnd.choice([" :)", " (again)", " — see you at 7", " thanks!", " ok?"])
            kind = CHAT if rnd.random() < 0.5 else import_kind("whatsapp")
            out.append(memory(i, text, t, kind, app=None, author=author, conversation=conv))
        else:
            out.append(memory(i, "Note: " + rnd.choice(_CHATS)[2], t, NOTE))
    return out


def install_fake_memory(services: Any, fake: FakeMemoryService | None) -> FakeMemoryService | None:
    """Put `fake` (or nothing: search still starting) in place of an unlocked Services' memory
    engine, closing the real one first (its index thread must not outlive the test)."""
    real = services.memory
    if real is not None and real is not fake and hasattr(real, "close"):
        real.close(save=False)
    services.memory = fake
    return fake
