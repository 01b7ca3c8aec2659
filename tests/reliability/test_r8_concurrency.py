"""R8: concurrency is invisible. For a minute (ten under `make soak`): a capture thread writes
screens (encrypted screenshot + memory), two threads search, one erases the oldest captures
every two seconds and one takes a backup every ten. No error reaches any of them ("database
is locked" least of all), the counts add up, every page checks out and the stores agree."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from app.services import Services
from core.db import integrity_ok, pages_ok
from core.keys import TEST_KDF
from core.types import SCREEN, NewMemory
from tests.fakes import FakeEmbedder
from tests.reliability.conftest import SOAK, WORDS, stores_agree
from tests.storehelp import PASSPHRASE

SECONDS = 600 if SOAK else 60


def test_r8_capture_search_erase_and_backup_together(tmp_path: Path) -> None:
    s = Services(tmp_path / "data", embedder=FakeEmbedder(dim=32))
    s.create(PASSPHRASE, kdf=TEST_KDF)
    memory, erase, media = s.memory, s.erase, s.media
    assert memory is not None and erase is not None and media is not None
    stop = threading.Event()
    errors: list[str] = []
    added: list[int] = []
    counts = {"searches": 0, "erased": 0, "backups": 0, "captures": 0}
    lock = threading.Lock()

    def guarded(fn):  # type: ignore[no-untyped-def]
        def run() -> None:
            try:
                while not stop.is_set():
                    fn()
            except BaseException as e:  # every error is a failure of R8
                errors.append(f"{fn.__name__}: {type(e).__name__}: {e}")
                stop.set()

        return threading.Thread(target=run, name=fn.__name__)

    rng = random.Random(8)

    def capture() -> None:
        n = counts["captures"]
        words = " ".join(rng.sample(WORDS, 3))
        mid_media = media.put(f"pixels {n}".encode(), mime="image/webp", time=time.time())
        (mid,) = memory.add(
            [
                NewMemory(
                    kind=SCREEN,
                    text=f"screen {n} {words}",
                    time=time.time(),
                    app="Term",
                    media_id=mid_media,
                )
            ]
        )
        with lock:
            added.append(mid)
            counts["captures"] += 1
        time.sleep(0.01)

    def search() -> None:
        memory.search(rng.choice(WORDS), k=20)
        counts["searches"] += 1

    def eraser() -> None:
        time.sleep(2)
        with lock:
            victims, added[:5] = added[:5], []
        if victims:
            counts["erased"] += erase.erase_ids(victims).memories

    def backup() -> None:
        time.sleep(10)
        out = tmp_path / "backups"
        out.mkdir(exist_ok=True)
        s.backup(out)
        counts["backups"] += 1

    threads = [guarded(f) for f in (capture, search, search, eraser, backup)]
    for t in threads:
        t.start()
    stop.wait(SECONDS)
    stop.set()
    for t in threads:
        t.join(120)
    try:
        assert not errors, errors
        assert counts["captures"] > 100 and counts["searches"] > 100, counts
        assert counts["erased"] >= 5 * (SECONDS // 4) and counts["backups"] >= SECONDS // 15
        total = s.store.reader().execute("SELECT count(*) FROM memories").fetchone()[0]
        assert total == counts["captures"] - counts["erased"] == len(added)
        conn = s.store.reader()
        assert pages_ok(conn) == (True, "ok") and integrity_ok(conn) == (True, "ok")
        agree = stores_agree(s)
    finally:
        s.close()
    print(f"R8: {SECONDS} s, {counts}, after: {agree}")
