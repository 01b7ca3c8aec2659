"""A crash (SIGKILL) with a full backlog loses nothing from it: a child process captures eight
screen changes that the OCR cannot keep up with (they wait in the encrypted backlog), is killed,
and after a restart every queued change is read into the window's memory."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from app.capture_service import CaptureService
from app.services import Services
from tests.app.test_capture_service import EDITOR, LEDGER, FakeGrabber
from tests.capture_fakes import FakeOcrEngine, FakeWindowContext
from tests.fakes import FakeEmbedder
from tests.storehelp import PASSPHRASE, ROOT, kill_child_when

CHANGES = 8

CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from app.capture_service import CaptureService, CaptureSettings
    from app.services import Services
    from tests.capture_fakes import FakeOcrEngine, FakeWindowContext
    from tests.fakes import FakeEmbedder
    from core.keys import TEST_KDF
    from tests.app.test_capture_service import EDITOR, LEDGER, FakeGrabber, lines_on_screen

    services = Services({data!r}, embedder=FakeEmbedder())
    services.create({passphrase!r}, kdf=TEST_KDF)
    grabber = FakeGrabber()
    service = CaptureService(
        services,
        grabber_factory=lambda: grabber,
        context_factory=lambda: FakeWindowContext([EDITOR]),
        ocr=FakeOcrEngine(list(LEDGER)),
        free_bytes=lambda: 10**12,
    )
    service._running = True
    service._open_devices()
    settings = CaptureSettings.read(services.settings.get)
    # No worker runs: as if OCR were far behind. Each change is queued, 10 s apart.
    for n in range({changes}):
        grabber.time = 1_800_000_000.0 + 10 * n
        lines_on_screen(grabber, n + 1)
        service._tick(settings)
    assert service.backlog.summary().count == {changes}, service.backlog.summary()
    print("queued", flush=True)
    time.sleep(600)
    """
)


def test_sigkill_with_a_full_backlog_loses_no_queued_frame(tmp_path: Path) -> None:
    data = tmp_path / "store"
    script = CHILD.format(root=str(ROOT), data=str(data), passphrase=PASSPHRASE, changes=CHANGES)
    kill_child_when(script, "queued")
    services = Services(data, embedder=FakeEmbedder())
    services.unlock(PASSPHRASE)
    try:
        grabber = FakeGrabber()
        service = CaptureService(
            services,
            grabber_factory=lambda: grabber,
            context_factory=lambda: FakeWindowContext([EDITOR]),
            ocr=FakeOcrEngine(list(LEDGER)),
            free_bytes=lambda: 10**12,
        )
        # The restarted service finds the eight frames waiting and reads them all.
        assert service.backlog.summary().count == CHANGES
        service._running = True
        service._start_threads(loop=False)
        t0 = time.monotonic()
        assert service.wait_idle(60), "the backlog was not drained"
        assert time.monotonic() - t0 < 60
        service.stop()
        assert service.stats.processed == CHANGES
        rows = services.store.reader().execute("SELECT id, text FROM memories").fetchall()
        assert len(rows) == 1  # one window, one memory
        (mid, text), lines = rows[0], [f"line {n} of the ledger" for n in range(CHANGES)]
        assert text.split("\n") == lines
        versions = services.store.reader().execute(
            "SELECT count(*) FROM memory_versions WHERE memory_id = ?", (mid,)
        )
        assert versions.fetchone()[0] == CHANGES
        assert list((data / "backlog").iterdir()) == []
    finally:
        services.close()
