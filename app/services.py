"""The application's services in one place, shared by the CLI and the GUI: the store and its
settings now; search, capture, the assistant, erasure and trust attach here as they arrive.

Everything here may block (SQL, key derivation): the GUI calls it through app.tasks, never on
its own thread."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import audit
from core.clock import Clock, SystemClock
from core.errors import BadInput
from core.fsutil import loosened_modes
from core.interfaces import Embedder
from core.keys import DEFAULT_KDF, KdfParams
from core.media import MediaStore
from core.memories import count_memories
from core.migrations import LATEST, schema_version
from core.passphrase import require_acceptable
from core.settings import Settings
from core.store import Store
from core.types import NOTE, NewMemory

if TYPE_CHECKING:
    from app.memory_service import MemoryService

log = logging.getLogger(__name__)

MAX_NOTE_CHARS = 100_000


@dataclass(slots=True)
class Changes:
    """What changed, so views refresh only what they show."""

    memories_added: int = 0
    memories_removed: int = 0
    locked: bool | None = None
    settings: list[str] = field(default_factory=list)


class Services:
    def __init__(
        self, data_dir: Path, clock: Clock | None = None, embedder: Embedder | None = None
    ) -> None:
        self.data_dir = Path(data_dir)
        self.clock = clock or SystemClock()
        self._embedder = embedder
        # Present while unlocked: adding, searching, the vector index (app.memory_service).
        self.memory: MemoryService | None = None
        self.store = Store(self.data_dir, self.clock)
        self.settings = Settings(self.data_dir, None, None)
        self.media: MediaStore | None = None
        self._listeners: list[Callable[[Changes], None]] = []
        self.store.on_lock(self._after_lock)

    # -- change notifications ---------------------------------------------------------------
    def subscribe(self, listener: Callable[[Changes], None]) -> None:
        self._listeners.append(listener)

    def announce(self, changes: Changes) -> None:
        for listener in list(self._listeners):
            try:
                listener(changes)
            except Exception:
                log.exception("change listener failed")

    # -- life cycle -------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return self.store.exists()

    @property
    def unlocked(self) -> bool:
        return self.store.unlocked

    def create(self, passphrase: str, kdf: KdfParams = DEFAULT_KDF) -> None:
        require_acceptable(passphrase)
        self.store.create(passphrase, kdf)
        self._after_unlock(created=True)

    def unlock(self, passphrase: str) -> None:
        t0 = time.perf_counter()
        self.store.unlock(passphrase)
        self._after_unlock(created=False)
        log.info("unlocked in %.0f ms", (time.perf_counter() - t0) * 1000)

    @property
    def embedder(self) -> Embedder:
        """The sentence embedder, created on first use (the model itself loads on first embed)."""
        if self._embedder is None:
            from models.embedder import MiniLMEmbedder

            self._embedder = MiniLMEmbedder()
        return self._embedder

    def _after_unlock(self, created: bool) -> None:
        from app.memory_service import MemoryService

        self.settings = Settings(self.data_dir, self.store.reader, self.store.write)
        self.media = MediaStore(self.store)
        self.media.sweep_orphans()
        self.memory = MemoryService(
            self.store,
            self.embedder,
            on_added=lambda n: self.announce(Changes(memories_added=n)),
        )
        # The index loads (or rebuilds) on its own thread; searches wait for it.
        self.memory.open(wait=False)
        now = self.clock.now()
        self.store.write(lambda c: audit.record(c, "created" if created else "unlocked", now))
        loose = loosened_modes(self.data_dir)
        if loose:
            log.warning("%d files in the data folder are readable by others", len(loose))
        self.announce(Changes(locked=False))

    def lock(self) -> None:
        self._close_memory(save=True)
        self.store.lock()

    def _close_memory(self, *, save: bool) -> None:
        memory, self.memory = self.memory, None
        if memory is not None:
            try:
                memory.close(save=save and self.store.unlocked)
            except Exception:
                log.exception("saving the vector index failed; it will be rebuilt on unlock")

    def _after_lock(self) -> None:
        self._close_memory(save=False)
        self.settings = Settings(self.data_dir, None, None)
        self.media = None
        self.announce(Changes(locked=True))

    def change_passphrase(self, old: str, new: str) -> None:
        require_acceptable(new)
        self.store.change_passphrase(old, new)
        if self.store.unlocked:
            now = self.clock.now()
            self.store.write(lambda c: audit.record(c, "passphrase_changed", now))

    def close(self) -> None:
        self.lock()

    def require_memory(self) -> MemoryService:
        if self.memory is None:
            from core.errors import StoreLocked

            raise StoreLocked()
        return self.memory

    # -- memories ---------------------------------------------------------------------------
    def add_note(self, text: str) -> int:
        text = text.strip()
        if not text:
            raise BadInput("The note is empty.")
        if len(text) > MAX_NOTE_CHARS:
            raise BadInput(
                f"The note is too long ({len(text)} characters; at most "
                f"{MAX_NOTE_CHARS}). Split it, or import it as a file."
            )
        now = self.clock.now()
        (mid,) = self.require_memory().add([NewMemory(kind=NOTE, text=text, time=now)])
        return mid

    # -- status -----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        files = {}
        for name in ("mnemo.db", "mnemo.db-wal", "mnemo.key", "index.snapshot"):
            p = self.data_dir / name
            files[name] = p.stat().st_size if p.exists() else 0
        media_bytes = (
            sum(p.stat().st_size for p in self.store.media_dir.rglob("*") if p.is_file())
            if self.store.media_dir.exists()
            else 0
        )
        doc: dict[str, Any] = {
            "data_dir": str(self.data_dir),
            "initialised": self.initialised,
            "unlocked": self.unlocked,
            "sizes": {
                "database": files["mnemo.db"] + files["mnemo.db-wal"],
                "media": media_bytes,
                "index": files["index.snapshot"],
            },
        }
        if self.unlocked:
            conn = self.store.reader()
            counts = count_memories(conn)
            doc["memories"] = {"total": sum(counts.values()), "by_source": counts}
            doc["schema"] = {"version": schema_version(conn), "supported": LATEST}
            doc["capture"] = {"enabled": self.settings.get("capture.enabled"), "state": "off"}
            if self.memory is not None:
                self.memory.wait_ready(timeout=120)
                doc["index"] = self.memory.index_health()
        return doc
