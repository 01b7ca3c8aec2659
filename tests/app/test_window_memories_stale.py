"""Stale window vectors (schema v16): an update of a window memory marks its vector stale in the
same transaction as the text instead of re-embedding it; the vector is brought up to date from
the window's latest state when the window leaves the screen, after REEMBED_S of changes, when
everything is due (idle, capture stopping) and from the store's marks after a restart, a crash
(SIGKILL) or a restore. Erasing removes the mark with the memory."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.capture_config import CaptureSettings
from app.services import Services
from app.window_memories import REEMBED_S, WindowMemories
from core.backup import restore_backup
from core.capture.window_text import window_key
from core.types import SCREEN, NewMemory
from tests.fakes import FakeEmbedder
from tests.storehelp import PASSPHRASE, ROOT, kill_child_when

T0 = 1_790_000_000.0
FIRST = "quarterly planning meeting\nharbour crane schedule"
SECOND = "quarterly planning meeting\nharbour crane schedule\nlighthouse zebracanary invoice"


def state(text: str, when: float, title: str = "notes.txt - gedit") -> NewMemory:
    return NewMemory(kind=SCREEN, text=text, time=when, app="gedit", title=title)


def remember(windows: WindowMemories, services: Services, text: str, when: float,
             title: str = "notes.txt - gedit") -> None:  # fmt: skip
    settings = CaptureSettings.read(services.settings.get)
    windows.remember([state(text, when, title)], np.zeros((60, 80, 4), np.uint8), when, settings)


def stale_marks(services: Services) -> dict[int, float | None]:
    rows = services.store.reader().execute("SELECT memory_id, stale FROM vectors")
    return {int(r[0]): r[1] for r in rows}


def stored_vector(services: Services, mid: int) -> np.ndarray:
    vec = services.require_memory().vector_of(mid)
    assert vec is not None
    return vec


def embedder(services: Services) -> FakeEmbedder:
    e = services.require_memory().embedder
    assert isinstance(e, FakeEmbedder)
    return e


def the_memory(services: Services) -> int:
    ((mid,),) = services.store.reader().execute("SELECT id FROM memories").fetchall()
    return int(mid)


def test_an_update_marks_the_vector_stale_and_words_still_find_the_new_text(services) -> None:
    windows = WindowMemories(services)
    remember(windows, services, FIRST, T0)
    mid = the_memory(services)
    fake = embedder(services)
    calls = fake.calls
    remember(windows, services, SECOND, T0 + 10)
    assert fake.calls == calls  # no embedding on the update
    assert stale_marks(services) == {mid: T0 + 10}
    assert windows.stale_count == 1
    assert services.status()["capture"]["stale_vectors"] == 1
    # The older vector stays (it still finds the memory); the new line is found by its words.
    assert np.allclose(stored_vector(services, mid), fake.embed_one(FIRST))
    assert mid in {h.id for h in services.require_memory().search("zebracanary").hits}
    # A third state keeps the time of the oldest change not in the vector.
    remember(windows, services, SECOND + "\nvendor contract draft", T0 + 20)
    assert stale_marks(services) == {mid: T0 + 10}


def test_a_window_on_screen_is_re_embedded_once_per_interval_and_when_it_leaves(
    services,
) -> None:
    windows = WindowMemories(services)
    remember(windows, services, FIRST, T0)
    mid = the_memory(services)
    key = {window_key("gedit", "notes.txt - gedit", None)}
    remember(windows, services, SECOND, T0 + 10)
    assert windows.refresh(T0 + 10, on_screen=key) == 0  # still on screen, not due yet
    assert windows.refresh(T0 + REEMBED_S - 1, on_screen=key) == 0
    assert windows.refresh(T0 + REEMBED_S, on_screen=key) == 1  # a minute after its embedding
    assert stale_marks(services) == {mid: None}
    fake = embedder(services)
    # The vector is of the window's latest state, in the table and in the index.
    assert np.allclose(stored_vector(services, mid), fake.embed_one(SECOND))
    labels, _ = services.require_memory().index.index.search(fake.embed_one(SECOND), 1)
    assert labels == [mid]
    third = SECOND + "\nvendor contract draft"
    remember(windows, services, third, T0 + REEMBED_S + 5)
    assert windows.refresh(T0 + REEMBED_S + 6, on_screen=key) == 0
    assert windows.refresh(T0 + REEMBED_S + 7, on_screen=set()) == 1  # the window left
    assert np.allclose(stored_vector(services, mid), fake.embed_one(third))
    assert windows.stale_count == 0 and stale_marks(services) == {mid: None}


def test_erasing_a_stale_memory_removes_its_mark_and_refresh_does_not_bring_it_back(
    services,
) -> None:
    windows = WindowMemories(services)
    remember(windows, services, FIRST, T0)
    mid = the_memory(services)
    remember(windows, services, SECOND, T0 + 10)
    assert stale_marks(services) == {mid: T0 + 10}
    services.erase.erase_ids([mid])
    assert stale_marks(services) == {}
    assert windows.refresh(T0 + 1000, everything=True) == 0
    assert windows.stale_count == 0
    assert mid not in services.require_memory().index.index
    assert windows.refresh_stored(T0 + 1000) == 0


def test_stale_marks_survive_restart_and_backup_restore(services, tmp_path: Path) -> None:
    windows = WindowMemories(services)
    remember(windows, services, FIRST, T0)
    mid = the_memory(services)
    remember(windows, services, SECOND, T0 + 10)
    services.backup(tmp_path / "b.mnemo-backup")
    assert services.status()["capture"]["stale_vectors"] == 1
    # The store keeps the mark: a fresh worker (nothing known in memory) finds it there.
    assert WindowMemories(services).refresh_stored(T0 + 20) == 1
    assert stale_marks(services) == {mid: None}
    assert services.status()["capture"]["stale_vectors"] == 0
    assert np.allclose(stored_vector(services, mid), FakeEmbedder().embed_one(SECOND))
    # Unlocking a restored copy brings its vector up to date at once, capture off.
    restore_backup(tmp_path / "b.mnemo-backup", tmp_path / "restored", PASSPHRASE)
    s = Services(tmp_path / "restored", embedder=FakeEmbedder())
    s.unlock(PASSPHRASE)
    try:
        assert s.capture is not None and not s.capture.running
        refresh = s.capture.stored_refresh
        assert refresh is not None and refresh.result(30) == 1
        assert stale_marks(s) == {mid: None} and s.status()["capture"]["stale_vectors"] == 0
        assert np.allclose(stored_vector(s, mid), FakeEmbedder().embed_one(SECOND))
    finally:
        s.close()


class LoadingEmbedder(FakeEmbedder):
    """An embedder that must be loaded first (as the real one), saying on which thread."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded = False
        self.threads: list[str] = []

    def load(self) -> None:
        self.threads.append("load:" + threading.current_thread().name)
        self.loaded = True

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        assert self.loaded, "embedded before the model was loaded"
        self.threads.append("embed:" + threading.current_thread().name)
        return super().embed(texts)


def test_unlock_loads_the_model_on_the_load_lane_before_re_embedding(tmp_path: Path) -> None:
    from core.keys import TEST_KDF

    data = tmp_path / "store"
    first = Services(data, embedder=FakeEmbedder())
    first.create(PASSPHRASE, kdf=TEST_KDF)
    try:
        first.require_memory().wait_ready(30)
        windows = WindowMemories(first)
        remember(windows, first, FIRST, T0)
        remember(windows, first, SECOND, T0 + 10)
        mid = the_memory(first)
    finally:
        first.close()
    embedder = LoadingEmbedder()
    again = Services(data, embedder=embedder)
    again.unlock(PASSPHRASE)
    try:
        refresh = again.capture.stored_refresh if again.capture else None
        assert refresh is not None and refresh.result(30) == 1
        assert stale_marks(again) == {mid: None}
        loads = [t for t in embedder.threads if t.startswith("load:")]
        embeds = [t for t in embedder.threads if t.startswith("embed:")]
        assert loads == ["load:mnemo-lane-load-" + loads[0].rsplit("-", 1)[1]]
        assert embeds and all(t.startswith("embed:mnemo-lane-compute-") for t in embeds)
    finally:
        again.close()


def test_unlock_brings_stale_vectors_up_to_date_with_capture_off(services) -> None:
    windows = WindowMemories(services)
    remember(windows, services, FIRST, T0)
    mid = the_memory(services)
    remember(windows, services, SECOND, T0 + 10)
    services.lock()  # quit with the mark in the store (capture never ran)
    services.unlock(PASSPHRASE)
    assert services.capture is not None and not services.capture.running
    refresh = services.capture.stored_refresh
    assert refresh is not None and refresh.result(30) == 1
    assert stale_marks(services) == {mid: None}
    assert np.allclose(stored_vector(services, mid), FakeEmbedder().embed_one(SECOND))
    assert mid in {h.id for h in services.require_memory().search("zebracanary").hits}


CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    import numpy as np
    from app.services import Services
    from app.window_memories import WindowMemories
    from core.keys import TEST_KDF
    from tests.app.test_window_memories_stale import FIRST, SECOND, T0, remember
    from tests.fakes import FakeEmbedder

    services = Services({data!r}, embedder=FakeEmbedder())
    services.create({passphrase!r}, kdf=TEST_KDF)
    services.require_memory().wait_ready(30)
    windows = WindowMemories(services)
    remember(windows, services, FIRST, T0)
    remember(windows, services, SECOND, T0 + 10)
    print("updated", flush=True)
    import time
    time.sleep(600)
    """
)


def test_sigkill_after_a_text_update_then_unlock_and_capture_bring_vectors_up_to_date(
    tmp_path: Path,
) -> None:
    from app.capture_service import CaptureService
    from tests.capture_fakes import FakeOcrEngine, FakeWindowContext

    data = tmp_path / "store"
    script = CHILD.format(root=str(ROOT), data=str(data), passphrase=PASSPHRASE)
    kill_child_when(script, "updated")
    services = Services(data, embedder=FakeEmbedder())
    services.unlock(PASSPHRASE)
    try:
        services.require_memory().wait_ready(30)
        mid = the_memory(services)
        # The update and its mark committed before the kill: unlock re-embeds it, capture off.
        refresh = services.capture.stored_refresh if services.capture else None
        assert refresh is not None and refresh.result(30) == 1
        assert stale_marks(services) == {mid: None}
        assert np.allclose(stored_vector(services, mid), FakeEmbedder().embed_one(SECOND))
        # A mark left while capture was off is taken by its worker when it starts.
        third = SECOND + "\nvendor contract draft"
        windows = WindowMemories(services)
        remember(windows, services, SECOND, T0 + 20)
        remember(windows, services, third, T0 + 30)
        assert stale_marks(services) == {mid: T0 + 30}
        service = CaptureService(
            services,
            context_factory=lambda: FakeWindowContext([]),
            ocr=FakeOcrEngine([]),
            free_bytes=lambda: 10**12,
        )
        service._running = True
        service._start_threads(loop=False)  # the worker alone: it starts by the stored marks
        assert service.wait_idle(30)
        service.stop()
        assert stale_marks(services) == {mid: None}
        assert np.allclose(stored_vector(services, mid), FakeEmbedder().embed_one(third))
    finally:
        services.close()


def test_capture_re_embeds_a_window_when_it_leaves_the_screen(services) -> None:
    """Through the service: the first window's memory is updated (stale), then a frame shows
    another window only; the first one's vector is written from its latest state."""
    from app.capture_service import CaptureService
    from core.interfaces import OcrBox, WindowInfo
    from tests.app.test_capture_service import FakeGrabber, ticks
    from tests.capture_fakes import FakeOcrEngine, FakeWindowContext

    editor = WindowInfo("gedit", "notes.txt - gedit", 0, 0, 250, 300, None, True)
    other = WindowInfo("xterm", "shell", 0, 0, 400, 300, None, True)
    hello = OcrBox(20, 40, 120, 16, "quarterly planning meeting", 0.99)
    later = OcrBox(20, 200, 120, 16, "lighthouse zebracanary invoice", 0.99)
    shell = OcrBox(20, 100, 200, 16, "shell prompt ready", 0.99)
    grabber = FakeGrabber()
    grabber.time = T0
    ctx = FakeWindowContext([editor])
    service = CaptureService(
        services,
        grabber_factory=lambda: grabber,
        context_factory=lambda: ctx,
        ocr=FakeOcrEngine([hello, later, shell]),
        free_bytes=lambda: 10**12,
    )
    try:
        grabber.draw(hello)
        ticks(service)
        mid = the_memory(services)
        grabber.draw(later)
        grabber.time = T0 + 10
        ticks(service)
        assert stale_marks(services) == {mid: T0 + 10}
        ctx.windows_list = [other]
        grabber.pixels[:] = 0
        grabber.draw(shell)
        grabber.time = T0 + 20
        ticks(service)
        assert service.stats.memories_added == 2  # the shell's memory: the editor is gone
        assert stale_marks(services)[mid] is None
        text = "quarterly planning meeting\nlighthouse zebracanary invoice"
        assert np.allclose(stored_vector(services, mid), FakeEmbedder().embed_one(text))
    finally:
        service.stop()


def test_forgetting_the_windows_keeps_their_stale_vectors_due(services) -> None:
    """Pausing or locking forgets the windows; their stale vectors are still written later."""
    windows = WindowMemories(services)
    remember(windows, services, FIRST, T0)
    mid = the_memory(services)
    remember(windows, services, SECOND, T0 + 10)
    windows.forget()
    assert windows.refresh(T0 + 11, everything=True) == 1
    assert stale_marks(services) == {mid: None}
