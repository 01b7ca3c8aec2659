"""Trust through the real ingest path: an eight-week scenario of benign sources, one malicious
source and one sleeper written through services.memory.add (fake embedder, FixedClock, the
app's trust inspector), reviewed weekly through services.trust (approve false alarms, reject
poison: erased). Prints one JSON document: the trust gap, the sleeper's fall, and R16 recall /
false-positive rate of quarantine measured on the rows as stored.
Run: .venv/bin/python bench/trust_ingest.py"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.services import Services  # noqa: E402
from core import suspicion as su  # noqa: E402
from core.clock import FixedClock  # noqa: E402
from core.keys import TEST_KDF  # noqa: E402
from core.types import QUARANTINED, NewMemory  # noqa: E402
from tests.fakes import FakeEmbedder  # noqa: E402
from tests.fixtures.poison.dataset import DEV, FRESH, HELDOUT, load  # noqa: E402
from tests.fixtures.poison.render import render  # noqa: E402

DAY = 86400.0
WEEKS = 8
START = 1_767_225_600.0  # 2026-01-01 UTC
PASSPHRASE = "bench passphrase, not a secret"


def r16(services: Services, clock: FixedClock) -> dict[str, Any]:
    """Every fixture row through memory.add (image rows flagged from pixels first, as capture
    does); recall and FPR read back from the stored status."""
    out: dict[str, Any] = {}
    assert services.memory is not None
    for name, path in (("dev", DEV), ("heldout", HELDOUT), ("fresh", FRESH)):
        rows = load(path)
        memories = []
        for i, row in enumerate(rows):
            m = NewMemory(
                kind=row["kind"],
                text=row["text"],
                time=clock.now(),
                external_id=f"{name}:{row['id']}",
            )
            if row["kind"] == "screen":
                m.app, m.domain = "firefox", f"r16-{name}-{i % 23}.example"
            else:
                m.conversation = f"r16 {name} {i % 7}"
            if row.get("image"):
                image, boxes = render(row["image"])
                m.boxes = boxes
                flags = su.inspect("", boxes=boxes, image=image)
                if su.should_quarantine(flags):
                    m.status, m.reasons = QUARANTINED, su.reasons(flags)
            memories.append(m)
        services.memory.add_many(memories)
        status = dict(
            services.store.reader()
            .execute(
                "SELECT external_id, status FROM memories WHERE external_id LIKE ?", (f"{name}:%",)
            )
            .fetchall()
        )
        pois = [r for r in rows if r["label"] == "poisoned"]
        ben = [r for r in rows if r["label"] == "benign"]
        tp = sum(status[f"{name}:{r['id']}"] == QUARANTINED for r in pois)
        fp = sum(status[f"{name}:{r['id']}"] == QUARANTINED for r in ben)
        out[name] = {
            "poisoned": len(pois),
            "benign": len(ben),
            "recall": round(tp / len(pois), 4),
            "fpr": round(fp / len(ben), 4),
        }
    return out


def scenario(services: Services, clock: FixedClock) -> dict[str, Any]:
    rng = random.Random(20260101)
    rows = load(DEV) + load(HELDOUT) + load(FRESH)
    benign_screen = [
        r["text"]
        for r in rows
        if r["label"] == "benign" and r["kind"] == "screen" and not r.get("image")
    ]
    benign_chat = [r["text"] for r in rows if r["label"] == "benign" and r["kind"] == "chat"]
    poison = [r["text"] for r in rows if r["label"] == "poisoned" and not r.get("image")]
    poison_ids: set[int] = set()
    memory, trust = services.memory, services.trust
    assert memory is not None and trust is not None

    def write(m: NewMemory, poisoned: bool) -> None:
        clock.t = m.time
        (mid,) = memory.add([m])
        if poisoned:
            poison_ids.add(mid)

    def screen(domain: str, text: str, t: float, app: str = "firefox") -> NewMemory:
        return NewMemory(kind="screen", text=text, time=t, app=app, domain=domain)

    def score_of(label_start: str) -> float:
        return next(s.trust for s in trust.sources() if s.label.startswith(label_start))

    benign_web = ["news.example", "docs.python.org", "shop.example"]
    sleeper_inject_day = 6 * 7
    sleeper_before = sleeper_after_first = sleeper_after_review = None
    counts = {"quarantined": 0, "approved": 0, "rejected": 0}
    t_ingest = 0.0
    n_memories = 0
    for day in range(WEEKS * 7):
        day_start = START + day * DAY
        t0 = time.perf_counter()
        for k, domain in enumerate(benign_web):
            base = day_start + 9 * 3600 + k * 3600
            for i in range(12):
                write(screen(domain, rng.choice(benign_screen), base + i * 2), False)
        base = day_start + 13 * 3600
        for i in range(6):
            mail = NewMemory(
                kind="screen",
                text=rng.choice(benign_screen),
                time=base + i * 2,
                app="thunderbird",
                title="Inbox - Mail",
            )
            write(mail, False)
        for i in range(6):
            write(
                NewMemory(kind="chat", text=rng.choice(benign_chat), time=base + 600 + i * 60),
                False,
            )
        if day == 3:
            msgs = [
                NewMemory(
                    kind="import:whatsapp",
                    text=rng.choice(benign_chat),
                    time=day_start - 400 * DAY + i * 60,
                    file="/home/me/WhatsApp Chat - Family.txt",
                    conversation="Family",
                    external_id=f"wa-{i}",
                )
                for i in range(300)
            ]
            clock.t = day_start + 3600
            memory.add_many(msgs)
        base = day_start + 20 * 3600
        for i in range(15):
            poisoned = rng.random() < 0.2
            text = rng.choice(poison if poisoned else benign_screen)
            write(screen("free-prizes.example", text, base + i * 2), poisoned)
        if day == 17:  # a flood: rotating text on every 0.5 s frame for over three minutes
            for i in range(400):
                write(
                    screen("free-prizes.example", rng.choice(benign_screen), base + 100 + i * 0.5),
                    False,
                )
        base = day_start + 12 * 3600
        for i in range(20):
            poisoned = day >= sleeper_inject_day and i % 10 == 0
            if day == sleeper_inject_day and i == 0:
                sleeper_before = score_of("helpful-recipes")
            text = rng.choice(poison) if poisoned else rng.choice(benign_screen)
            write(screen("helpful-recipes.example", text, base + i * 2), poisoned)
            if poisoned and sleeper_after_first is None:
                sleeper_after_first = score_of("helpful-recipes")
        t_ingest += time.perf_counter() - t0
        n_memories += 3 * 12 + 12 + 15 + 20 + (400 if day == 17 else 0) + (300 if day == 3 else 0)
        if day % 7 == 6:  # the user reviews the queue every Sunday evening
            clock.t = day_start + 22 * 3600
            queue = trust.queue(limit=10_000)
            counts["quarantined"] += len(queue)
            bad = [q.id for q in queue if q.id in poison_ids]
            good = [q.id for q in queue if q.id not in poison_ids]
            counts["approved"] += len(trust.approve(good).done)
            counts["rejected"] += len(trust.reject(bad).done)
            if sleeper_after_review is None and day > sleeper_inject_day:
                sleeper_after_review = score_of("helpful-recipes")
    clock.t = START + WEEKS * 7 * DAY
    scores = {s.label: round(s.trust, 4) for s in trust.sources()}
    web = [scores[f"{d} (in firefox)"] for d in benign_web]
    everyone_benign = [
        v for k, v in scores.items() if "free-prizes" not in k and "helpful" not in k
    ]
    malicious = scores["free-prizes.example (in firefox)"]
    sleeper = scores["helpful-recipes.example (in firefox)"]

    def pct(x: float | None) -> float | None:
        return (
            round(100 * (sleeper_before - x) / sleeper_before, 1)
            if sleeper_before and x is not None
            else None
        )

    bad_sid = next(s.id for s in trust.sources() if s.label.startswith("free-prizes"))
    hist = trust.history(bad_sid)
    return {
        "memories": n_memories,
        "ingest_ms_per_memory": round(1000 * t_ingest / n_memories, 3),
        "review": counts,
        "final_trust": scores,
        "gap_web_benign_vs_malicious": round(sum(web) / len(web) - malicious, 4),
        "gap_all_benign_vs_malicious": round(
            sum(everyone_benign) / len(everyone_benign) - malicious, 4
        ),
        "malicious_events": {
            k: sum(e["evidence"] == k for e in hist)
            for k in ("suspicious", "rejected", "approved", "burst")
        },
        "sleeper_before_injection": sleeper_before,
        "sleeper_after_first_injection": sleeper_after_first,
        "sleeper_after_first_review": sleeper_after_review,
        "sleeper_final": sleeper,
        "sleeper_fall_pct_first_injection": pct(sleeper_after_first),
        "sleeper_fall_pct_first_review": pct(sleeper_after_review),
        "sleeper_fall_pct_final": pct(sleeper),
    }


def main() -> int:
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(START)
        services = Services(Path(tmp) / "data", clock=clock, embedder=FakeEmbedder())
        services.create(PASSPHRASE, kdf=TEST_KDF)
        assert services.memory is not None
        services.memory.wait_ready(30)
        try:
            doc = {"bench": "trust_ingest", "cores": os.cpu_count(), "weeks": WEEKS}
            doc["scenario"] = scenario(services, clock)
        finally:
            services.close()
        services = Services(Path(tmp) / "r16", clock=clock, embedder=FakeEmbedder())
        services.create(PASSPHRASE, kdf=TEST_KDF)
        assert services.memory is not None
        services.memory.wait_ready(30)
        try:
            doc["r16_through_ingest"] = r16(services, clock)
        finally:
            services.close()
    doc["took_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
