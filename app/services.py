"""The application's services in one place, shared by the CLI and the GUI: the store and its
settings now; search, capture, the assistant, erasure and trust attach here as they arrive.

Everything here may block (SQL, key derivation): the GUI calls it through app.tasks, never on
its own thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.security import UnlockThrottle, keyring_store
from app.session import Changes
from core import audit
from core import backup as backups
from core.capture.exclusions import ExclusionRules
from core.clock import Clock, SystemClock
from core.errors import BadInput, StoreDamaged, StoreLocked, WrongPassphrase
from core.fsutil import folder_bytes, loosened_modes
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
    from app.assistant import AssistantService, ModelHost
    from app.capture_service import CaptureService
    from app.erase_service import ErasureService
    from app.import_service import ImportService
    from app.memory_service import MemoryService
    from app.timeline_service import TimelineService
    from app.trust_service import TrustService

log = logging.getLogger(__name__)

MAX_NOTE_CHARS = 100_000
CAPTURE_STOP_WAIT_S = 1.0  # how long lock waits for the capture threads


class UnlockedSession:
    """The services that exist only while the store is unlocked, made together by unlock (in
    the order they need each other) and ended together by lock: nothing of a session outlives
    it. `Services` reaches them as `services.memory`, `services.capture`, ... (None while
    locked)."""

    __slots__ = ("assistant", "capture", "erase", "imports", "media", "memory", "timeline", "trust")

    memory: MemoryService
    imports: ImportService
    erase: ErasureService
    media: MediaStore
    trust: TrustService
    capture: CaptureService
    assistant: AssistantService
    timeline: TimelineService

    def end(self, *, save: bool) -> None:
        """Stop what runs (capture, a running answer), save the index if `save` (the store is
        still open), and forget what is held in memory (decoded frames)."""
        capture = getattr(self, "capture", None)
        if capture is not None:
            # Lock and quit do not wait for a frame being read (OCR of a dense screen takes
            # seconds): it stays in the backlog, its write fails as locked, and it is read
            # again after unlock.
            capture.stop(timeout=CAPTURE_STOP_WAIT_S)
        assistant = getattr(self, "assistant", None)
        if assistant is not None:
            assistant.on_lock()  # stops a running answer
        memory = getattr(self, "memory", None)
        if memory is not None:
            try:
                memory.close(save=save)
            except Exception:
                log.exception("saving the vector index failed; it will be rebuilt on unlock")
        timeline = getattr(self, "timeline", None)
        if timeline is not None:
            timeline.forget()  # no decoded frame outlives the lock


def _part(name: str) -> property:
    """A part of the unlocked session, None while locked (settable: tests swap in fakes)."""

    def get(self: Services) -> Any:
        return getattr(self.session, name, None) if self.session is not None else None

    def put(self: Services, value: Any) -> None:
        if self.session is None:
            raise StoreLocked()
        setattr(self.session, name, value)

    return property(get, put, doc=f"The session's {name} (None while locked).")


class Services:
    memory: MemoryService | None = _part("memory")  # type: ignore[assignment]
    imports: ImportService | None = _part("imports")  # type: ignore[assignment]
    erase: ErasureService | None = _part("erase")  # type: ignore[assignment]
    media: MediaStore | None = _part("media")  # type: ignore[assignment]
    trust: TrustService | None = _part("trust")  # type: ignore[assignment]
    capture: CaptureService | None = _part("capture")  # type: ignore[assignment]
    assistant: AssistantService | None = _part("assistant")  # type: ignore[assignment]
    timeline: TimelineService | None = _part("timeline")  # type: ignore[assignment]

    def __init__(
        self, data_dir: Path, clock: Clock | None = None, embedder: Embedder | None = None
    ) -> None:
        self.data_dir = Path(data_dir)
        self.clock = clock or SystemClock()
        self._embedder = embedder
        # What exists only while unlocked (memory, imports, erase, media, trust, capture, the
        # assistant, the timeline): one session, started by unlock and ended by lock.
        self.session: UnlockedSession | None = None
        self.store = Store(self.data_dir, self.clock)
        self.settings = self._make_settings(None, None)
        # The model host the assistant uses is created on first need and outlives lock and
        # unlock (the model stays loaded); closed in close().
        self.llm_host: ModelHost | None = None
        self._llm_lock = threading.Lock()
        self._listeners: list[Callable[[Changes], None]] = []
        self.throttle = UnlockThrottle(self.data_dir)
        self.loosened: list[str] = []
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

    def require_unlocked(self) -> None:
        """Entry points that reach data call this first (R15: locked means locked)."""
        if not self.store.unlocked:
            raise StoreLocked()

    def on_lock(self, listener: Callable[[], None]) -> None:
        """Called (on the locking thread) after connections closed and keys were wiped: drop
        in-memory state (index, caches, queues)."""
        self.store.on_lock(listener)

    def unlock(self, passphrase: str) -> None:
        if self.store.unlocked:
            return
        # Repeated wrong passphrases wait longer, whoever calls (GUI, CLI, a script).
        self.throttle.before_attempt()
        t0 = time.perf_counter()
        try:
            self.store.unlock(passphrase)
        except WrongPassphrase:
            self.throttle.failed()
            raise
        self.throttle.succeeded()
        try:
            self._after_unlock(created=False)
        except BaseException:
            self.lock()  # e.g. a damaged page met on the way: nothing stays half-open
            raise
        log.info("unlocked in %.0f ms", (time.perf_counter() - t0) * 1000)

    @property
    def embedder(self) -> Embedder:
        """The sentence embedder, created on first use (the model itself loads on first embed)."""
        if self._embedder is None:
            from models.embedder import MiniLMEmbedder

            self._embedder = MiniLMEmbedder()
        return self._embedder

    def _after_unlock(self, created: bool) -> None:
        from app.assistant import AssistantService
        from app.capture_service import CaptureService
        from app.import_service import ImportService
        from app.memory_service import MemoryService
        from app.screen_media import ScreenMedia
        from app.timeline_service import TimelineService
        from app.trust_service import TrustService

        self.settings = self._make_settings(self.store.reader, self.store.write)
        # The session's parts are reachable as they are made: trust review attaches to the
        # memory service through it, erase resumes through it.
        session = self.session = UnlockedSession()
        media = session.media = ScreenMedia(self.store)
        media.sweep_orphans()
        session.timeline = TimelineService(self.store, media)
        if not created:
            self.store.on_damaged(self._on_damaged)
        session.capture = CaptureService(self)
        memory = session.memory = MemoryService(
            self.store,
            self.embedder,
            on_added=lambda n: self.announce(Changes(memories_added=n)),
        )
        self._attach_erase(session)
        # The index loads (or rebuilds) on the load lane; searches wait for it.
        memory.open(wait=False)
        session.trust = TrustService(self)
        session.trust.attach()
        session.imports = ImportService(memory)
        session.assistant = AssistantService(self, self.model_host)
        # Window vectors a crash or a quit left stale, now rather than when capture next starts.
        session.capture.refresh_stored_vectors()
        now = self.clock.now()
        event = "created" if created else "unlocked"
        # Queued behind the integrity check, like every write: unlock does not wait for it.
        self._after_verified(lambda c: audit.record(c, event, now))
        # Media files without a row are removed only once the database is known to be whole,
        # and only those from before this unlock (captures may be writing new ones by then).
        unlocked_at = time.time() - 1.0
        self._after_verified(lambda c: media.sweep_orphans(older_than=unlocked_at))
        loose = loosened_modes(self.data_dir)
        self.loosened = loose
        if loose:
            log.warning("%d files in the data folder are readable by others", len(loose))
        self.announce(Changes(locked=False))

    def _after_verified(self, fn: Callable[[Any], Any]) -> None:
        def done(fut: Any) -> None:
            err = fut.exception()
            if err is not None and not isinstance(err, StoreDamaged | StoreLocked):
                log.error("a job after unlock failed: %s", type(err).__name__)

        self.store.submit_write(fn).add_done_callback(done)

    def _on_damaged(self, damage: StoreDamaged) -> None:
        """The background check found damage: capture stops (nothing more to write) and the
        windows show that the store is read-only."""
        capture = self.capture
        if capture is not None:
            try:
                capture.stop()
            except Exception:
                log.exception("stopping capture on a damaged store failed")
        self.announce(Changes(damaged=str(damage)))

    @property
    def notices(self) -> list[str]:
        """What the user must be told about the last unlock (a repaired key file)."""
        return list(self.store.notices)

    @property
    def damage(self) -> StoreDamaged | None:
        """The damage the integrity check found in the open store (it is then read-only)."""
        return self.store.damage if self.store.unlocked else None

    def _attach_erase(self, session: UnlockedSession) -> None:
        """Before the index loads and before anything is searchable: finish any erase a crash
        interrupted (R12), so nothing erased can reappear."""
        from app.erase_service import ErasureService

        session.erase = ErasureService(
            self.store,
            session.media,
            self.settings,
            lambda: self.memory,
            announce=lambda n: self.announce(Changes(memories_removed=n)),
        )
        session.erase.resume_pending(with_index=False)

    def lock(self, *, save: bool = True) -> None:
        """End the session (its index saved while the store is still open, unless `save` is
        False: what a crash leaves, for tests and benches), then lock."""
        session, self.session = self.session, None
        if session is not None:
            session.end(save=save and self.store.unlocked)
        self.store.lock()

    def _make_settings(self, reader: Any, writer: Any) -> Settings:
        settings = Settings(self.data_dir, reader, writer)
        settings.on_change(self._setting_changed)
        return settings

    def _setting_changed(self, key: str, value: Any) -> None:
        if key == "device.autostart":
            from app.autostart import apply_autostart

            try:
                apply_autostart(bool(value), data_dir=self.data_dir)
            except Exception:
                # The entry could not be changed: the setting says what is really there.
                self.settings.set(key, not value)
                raise

    def _after_lock(self) -> None:
        """The store locked (by lock(), or underneath: damage, another caller): whatever of
        the session is left ends without saving, and the settings forget the store."""
        session, self.session = self.session, None
        if session is not None:
            session.end(save=False)
        self.settings = self._make_settings(None, None)
        self.announce(Changes(locked=True))

    def change_passphrase(self, old: str, new: str) -> None:
        require_acceptable(new)
        self.store.change_passphrase(old, new)
        log.info("passphrase changed")
        if self.settings.get("device.use_keyring"):
            try:
                keyring_store(self.data_dir, new)
            except Exception:
                log.warning("could not update the passphrase in the system keyring")
        if self.store.unlocked:
            now = self.clock.now()
            self.store.write(lambda c: audit.record(c, "passphrase_changed", now))

    def check_integrity(self, timeout: float | None = None) -> None:
        """Wait for the integrity check every unlock starts (it reads every page before the
        first write; see core.store._Writer) and raise StoreDamaged when it failed. The store
        then stays unlocked but read-only, so the user can still search and copy things out."""
        damage = self.store.wait_verified(timeout)
        if damage is not None:
            raise damage

    # -- backup ------------------------------------------------------------------------------
    def backup(self, path: Path) -> backups.BackupInfo:
        """One encrypted backup file, taken while capture and other writers carry on."""
        self.require_unlocked()
        info = backups.create_backup(self.data_dir, self.store.reader(), self.store.key, Path(path))
        now = self.clock.now()
        self.store.write(lambda c: audit.record(c, "backup", now))
        return info

    def close(self) -> None:
        self.lock()
        with self._llm_lock:
            host, self.llm_host = self.llm_host, None
        if host is not None:
            host.close()

    def model_host(self) -> ModelHost:
        """The language model host, created on first use from the models.* settings."""
        with self._llm_lock:
            if self.llm_host is None:
                from app.assistant import make_host

                # Its state changes (loading, ready, failed) are announced like any change:
                # the chat's status line follows them without asking again and again.
                self.llm_host = make_host(
                    self.settings, on_status=lambda _status: self.announce(Changes(model=True))
                )
            return self.llm_host

    @staticmethod
    def check_exclusions(apps: list[str], titles: list[str], domains: list[str]) -> None:
        """Raises BadInput naming the exclusion the user typed that cannot be used."""
        ExclusionRules.from_user(apps, titles, domains)

    def require_memory(self) -> MemoryService:
        if self.memory is None:
            from core.errors import StoreLocked

            raise StoreLocked()
        return self.memory

    def autolock_config(self) -> tuple[int, bool]:
        """(minutes of inactivity, lock with the screen): read on a worker by the auto-lock."""
        return (
            int(self.settings.get("security.autolock_minutes")),
            bool(self.settings.get("security.lock_with_screen")),
        )

    def run_scheduled_backup(self) -> str | None:
        """Back up to backup.folder when the newest backup there is older than the interval,
        then keep only the newest backup.keep. Returns what happened, or None."""
        if not self.unlocked:
            return None
        folder_text = str(self.settings.get("backup.folder")).strip()
        if not folder_text:
            return None
        folder = Path(folder_text).expanduser()
        if not folder.is_dir():
            raise BadInput(
                f"The backup folder {folder} does not exist (is the disk plugged in?). "
                "Scheduled backups wait until it is back."
            )
        if not backups.backup_due(folder, self.settings.get("backup.every_hours"), time.time()):
            return None
        info = self.backup(folder)
        removed = backups.prune(folder, int(self.settings.get("backup.keep")))
        log.info("scheduled backup done; %d old backups removed", len(removed))
        return f"Backed up to {info.path.name}."

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

    def _file_modes(self) -> dict[str, Any]:
        if self.data_dir.exists():
            self.loosened = loosened_modes(self.data_dir)
        return {"ok": not self.loosened, "loosened": self.loosened[:20]}

    # -- status -----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        files = {}
        for name in ("mnemo.db", "mnemo.db-wal", "mnemo.key", "index.snapshot"):
            p = self.data_dir / name
            files[name] = p.stat().st_size if p.exists() else 0
        media_bytes = folder_bytes(self.store.media_dir)
        doc: dict[str, Any] = {
            "data_dir": str(self.data_dir),
            "initialised": self.initialised,
            "unlocked": self.unlocked,
            "file_modes": self._file_modes(),
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
            if self.capture is not None:
                st = self.capture.status()
                doc["capture"].update(
                    state=st.state,
                    backlog={
                        "frames": st.backlog,
                        "bytes": st.backlog_bytes,
                        "oldest_age_s": None
                        if st.backlog_oldest_s is None
                        else round(st.backlog_oldest_s, 1),
                    },
                )
            from app.window_memories import stale_vectors

            # Window memories whose text changed since their vector was written.
            doc["capture"]["stale_vectors"] = stale_vectors(conn)
            if self.memory is not None:
                self.memory.wait_ready(timeout=120)
                doc["index"] = self.memory.index_health()
        if self.assistant is not None and self.llm_host is not None:
            state, message = self.assistant.model_status()
            doc["model"] = {"state": state, "message": message}
        else:
            doc["model"] = {"state": "not_loaded", "message": ""}
        return doc
