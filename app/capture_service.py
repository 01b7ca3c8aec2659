"""The screen capture service: a grab loop on its own thread (grab, change detection, window
context, exclusion decision, blacking out excluded windows) queues every changed frame in the
durable encrypted backlog (core.capture.backlog); one compute worker reads it oldest first (OCR,
redaction, suspicion, encrypted screenshot, ingest) within a CPU budget while the screen keeps
changing and at full speed once it is quiet. Each window's text is one memory, updated (with
versions) as the window changes. Started, paused and resumed from the tray; the status says
what it is doing, with counts only (never captured text)."""

from __future__ import annotations

import errno
import logging
import shutil
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.capture_config import SELF_APP, CaptureSettings
from app.session import Changes
from app.window_memories import (
    WindowMemories,
    drop_media,
    inspect_hidden_text,
    rgb_view,
    stale_vectors,
    store_screenshot,
)
from core import audit
from core.capture.backlog import BacklogSummary, FrameBacklog, QueuedFrame
from core.capture.change import ChangeDetector, RegionTextCache
from core.capture.exclusions import DropReason, black_out, decide
from core.capture.frame import group_by_window, process_frame
from core.capture.geometry import Rect
from core.capture.window_text import ScreenText, window_key
from core.errors import DiskFull, StoreDamaged, StoreLocked, StoreReadOnly, UserFacingError
from core.lanes import LANES, Lane
from core.types import QUARANTINED, NewMemory

if TYPE_CHECKING:
    from app.session import Session

log = logging.getLogger(__name__)

# Pauses the tray offers, in seconds (None: until tomorrow, computed when chosen).
PAUSE_CHOICES: tuple[tuple[str, float | None], ...] = (
    ("15 minutes", 15 * 60.0),
    ("1 hour", 3600.0),
    ("Until tomorrow", None),
)
MIN_TEXT_CHARS = 3
# CPU the compute worker may use on average while the screen keeps changing (CPU seconds per
# wall second), with a burst allowance: one change is read at once; changes beyond the budget
# wait in the backlog (nothing is dropped) and are read once the screen is quiet.
# Measured on the active benchmark (machine load ~10 on 2 cores): the grab loop costs ~0.008
# CPU/s, and the whole process stayed at 0.047 with the worker's 0.036 plus the one-off burst.
CPU_BUDGET = 0.036
CPU_BURST = 4.0
# The screen counts as quiet (the user idle: read the backlog at full speed) when no frame
# changed for this long, or while it is locked.
QUIET_S = 30.0
# On battery the budget is this much smaller and a quiet screen does not lift it.
BATTERY_FACTOR = 0.5
# A queued frame shown for less than this before the next one replaced it was not readable by
# anyone: only the newer frame is read (with the older one's changed tiles merged in).
VISIBLE_MOMENT_S = 2.0
RESUME_FREE_BYTES = 200 * 1024 * 1024  # capture resumes after disk full once this much is free
# Skip reasons besides exclusions.DropReason.
SKIP_BACKLOG = "coalesced"  # on screen only a moment; its changes are read from the next frame
SKIP_BACKLOG_FULL = "backlog_full"  # the backlog reached its size cap: oldest frames dropped
SKIP_BAD_EXCLUSIONS = "exclusion_settings_invalid"
SKIP_SCREEN_UNAVAILABLE = "screen_unavailable"
SKIP_FAILED = "failed"
SKIP_LABELS = {
    DropReason.WINDOW_INFO_UNAVAILABLE.value: "window info unavailable",
    DropReason.SCREEN_LOCKED.value: "screen locked",
    DropReason.EXCLUDED_WINDOW_UNLOCATED.value: "excluded window not located",
    DropReason.EXCLUDED_WINDOW_FILLS_SCREEN.value: "excluded window fills the screen",
    SKIP_BACKLOG: "shown only a moment",
    SKIP_BACKLOG_FULL: "backlog full",
    SKIP_BAD_EXCLUSIONS: "exclusion settings invalid",
    SKIP_SCREEN_UNAVAILABLE: "screen unavailable",
    SKIP_FAILED: "failed",
}

_ocr_lock = threading.Lock()
_shared_ocr: Any = None


def shared_ocr() -> Any:
    """One RapidOCR engine for the process (loads on first use). threads=1 leaves a core free."""
    global _shared_ocr
    with _ocr_lock:
        if _shared_ocr is None:
            from models.ocr import RapidOcrEngine

            _shared_ocr = RapidOcrEngine(threads=1)
        return _shared_ocr


_malloc_tuned = False


def tune_malloc() -> None:
    """glibc only: OCR and frame buffers are large and short-lived. By default glibc raises its
    mmap threshold after such a block is freed, so later ones come from the heap and stay
    resident (fragmented) long after use; and each thread gets its own arena. A fixed 1 MB
    threshold returns big buffers to the system when freed; two arenas are enough here."""
    global _malloc_tuned
    if _malloc_tuned or not sys.platform.startswith("linux"):
        return
    _malloc_tuned = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        log.info("malloc tuning is not available on this C library")


def trim_memory() -> None:
    """Give freed heap back to the system (after a frame: its buffers are gone)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def name_this_process() -> None:
    """Call the process SELF_APP so its windows are excluded (X11 reports /proc/<pid>/comm)."""
    comm = Path("/proc/self/comm")
    if sys.platform.startswith("linux") and comm.exists():
        try:
            if comm.read_text().strip() != SELF_APP:
                comm.write_text(SELF_APP)
        except OSError:
            log.warning("could not name the process %s; its windows may be captured", SELF_APP)


def until_tomorrow(now: float) -> float:
    """Seconds from `now` to the next local midnight."""
    dt = datetime.fromtimestamp(now).astimezone()
    midnight = (dt + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(60.0, midnight.timestamp() - now)


@dataclass(slots=True)
class CaptureStats:
    frames: int = 0  # monitor frames grabbed
    changed: int = 0
    processed: int = 0  # frames that went through OCR
    memories_added: int = 0
    memories_updated: int = 0  # window memories that took a new version
    quarantined: int = 0
    redactions: int = 0
    media_bytes: int = 0
    regions_ocred: int = 0
    regions_reused: int = 0
    regions_skipped: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "changed": self.changed,
            "processed": self.processed,
            "dropped": dict(self.skipped),
            "memories_added": self.memories_added,
            "memories_updated": self.memories_updated,
            "quarantined": self.quarantined,
            "redactions": self.redactions,
            "media_bytes": self.media_bytes,
            "regions": {
                "ocred": self.regions_ocred,
                "reused": self.regions_reused,
                "skipped": self.regions_skipped,
            },
        }


@dataclass(frozen=True, slots=True)
class CaptureStatus:
    """For the tray: `state` is one of off, capturing, paused, excluded, attention, locked
    (the tray icon's states); `line` is the menu's status text."""

    state: str
    line: str
    running: bool
    paused_until: float | None
    backlog: int
    backlog_oldest_s: float | None  # age of the oldest queued frame
    backlog_bytes: int
    skipped: dict[str, int]
    last_capture: float | None
    problem: str | None


@dataclass(slots=True)
class _Queued:
    """What the grab thread remembers of the last frame it queued for a monitor."""

    id: int
    time: float
    frame: QueuedFrame


class CaptureService:
    """Create while unlocked (app.services attaches one); nothing runs until `start()`.
    `grabber_factory`, `context_factory` and `ocr` are the real ones unless a test passes
    fakes; the grabber and window context are created on the capture thread that uses them."""

    def __init__(
        self,
        services: Session,
        *,
        grabber_factory: Callable[[], Any] | None = None,
        context_factory: Callable[[], Any] | None = None,
        ocr: Any | None = None,
        now: Callable[[], float] = time.time,
        free_bytes: Callable[[], int] | None = None,
    ) -> None:
        self.services = services
        self._grabber_factory = grabber_factory
        self._context_factory = context_factory
        self._ocr = ocr
        self._now = now
        self._free_bytes = free_bytes or (lambda: shutil.disk_usage(services.data_dir).free)
        self.stats = CaptureStats()
        self.cache = RegionTextCache()
        self.backlog = FrameBacklog(services.store)
        self.windows = WindowMemories(services)
        self._cond = threading.Condition()
        self._last_queued: dict[str, _Queued] = {}  # per monitor (grab thread, under _cond)
        self._forced_ids: set[int] = set()
        self._has_work = True  # the backlog may hold frames (a previous run's, on start)
        self._current: int | None = None  # the frame the worker is reading
        self._gaps: set[str] = set()  # monitors whose frames were dropped: read whole next
        self._screens: dict[str, ScreenText] = {}  # worker-owned
        self._last_change = time.monotonic()
        self._battery = False
        self._battery_checked = 0.0
        self._backlog_summary = BacklogSummary(0, 0, None)
        self._busy = False
        self._running = False
        self._paused_until: float | None = None  # inf: until resumed
        self._disk_full = False
        self._problem: str | None = None
        self._screen_locked = False
        self._active_excluded = False
        self._clear_cache = False
        self._reread = False  # set by the worker: the next frames are read whole
        self._last_capture: float | None = None
        self._now_requested = False
        self._notices: list[str] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self._detector = ChangeDetector()
        self.cpu_budget = CPU_BUDGET
        self._tokens = CPU_BURST  # CPU seconds the worker may spend now
        self._tokens_at = time.monotonic()
        self._grabber: Any = None
        self._context: Any = None
        self._recorded_state: str | None = None  # last state written for the timeline's gaps
        self._announced: tuple[Any, ...] | None = None  # the status last announced
        self.stored_refresh: Future[int] | None = None  # refresh_stored_vectors' last job

    # -- control ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Start capturing (threads start on first call; a paused service resumes). Frames
        left in the backlog by an earlier run (quit, crash, lock) are read first."""
        self.backlog_summary()
        with self._cond:
            self._running = True
            self._paused_until = None
            self._start_threads(loop=True)
        self._wake.set()
        log.info("capture started")
        self._announce_status()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and the worker; queued frames stay in the backlog (encrypted) and are
        read when capture runs again."""
        with self._cond:
            self._running = False
            self._stopping.set()  # under the lock: the worker's wait_for sees it when woken
            self._cond.notify_all()
        self._wake.set()
        worker = self._worker
        for t in (self._thread, worker):
            if t is not None and t is not threading.current_thread():
                t.join(timeout)
        self._thread = self._worker = None
        self._record_state("off")
        with self._cond:
            # The region cache is dropped; what the screen shows now (`_screens`) is kept
            # while the store is unlocked (it is in the store anyway): started again, an
            # unchanged screen is not read again. Pausing and locking forget it too.
            if worker is None or not worker.is_alive():
                self.cache.clear()
            else:
                self._clear_cache = True  # the worker owns the cache while it runs
        log.info("capture stopped")
        self._announce_status()

    def pause(self, seconds: float | None = None) -> None:
        """Pause for `seconds` (None: until resumed). Cached region text is forgotten; frames
        queued before the pause are still read."""
        with self._cond:
            self._paused_until = float("inf") if seconds is None else self._now() + seconds
            self._clear_cache = True
        log.info("capture paused for %s", "ever" if seconds is None else f"{seconds:.0f} s")
        self._announce_status()

    def resume(self) -> None:
        with self._cond:
            self._paused_until = None
        self._wake.set()
        log.info("capture resumed")
        self._announce_status()

    def capture_now(self) -> None:
        """One capture of the whole screen now, even when paused (not while locked)."""
        with self._cond:
            self._now_requested = True
            self._start_threads(loop=True)
        self._wake.set()

    def take_notices(self) -> list[str]:
        """Messages for the user (disk full, screen unavailable), each returned once."""
        with self._cond:
            out, self._notices = self._notices, []
        return out

    @property
    def paused(self) -> bool:
        until = self._paused_until
        return until is not None and self._now() < until

    # -- status ----------------------------------------------------------------------------
    def backlog_summary(self) -> BacklogSummary:
        """Frames waiting in the backlog, read from the store (not on the GUI thread; the last
        figure when the store is locked)."""
        try:
            self._backlog_summary = self.backlog.summary()
        except StoreLocked:
            pass
        return self._backlog_summary

    def status(self) -> CaptureStatus:
        """Cheap enough for the GUI thread: the backlog figures are the last ones the capture
        threads read (no SQL here)."""
        summary = self._backlog_summary
        with self._cond:
            backlog = summary.count
            skipped = dict(self.stats.skipped)
            until = self._paused_until
        oldest = None if summary.oldest is None else max(0.0, self._now() - summary.oldest)
        paused = until is not None and self._now() < until
        if not self._running and not paused:
            state, line = "off", "Capture is off"
        elif self._disk_full:
            state, line = "attention", "Paused: the disk is full"
        elif self._problem:
            state, line = "attention", self._problem
        elif paused:
            state, line = "paused", "Paused " + _until_text(until, self._now())
        elif self._screen_locked:
            state, line = "paused", "Paused while the screen is locked"
        elif self._active_excluded:
            state, line = "excluded", "Excluded window in front: not capturing it"
        else:
            state, line = "capturing", "Capturing"
        extras = []
        if backlog > 0 and oldest is not None:
            extras.append(f"to read {backlog} (oldest {_age_text(oldest)})")
        total = sum(skipped.values())
        if total:
            top = sorted(skipped.items(), key=lambda kv: -kv[1])[:2]
            why = ", ".join(f"{n} {SKIP_LABELS.get(k, k)}" for k, n in top)
            extras.append(f"skipped {total} ({why}{', …' if len(skipped) > 2 else ''})")
        if self._last_capture is not None and state != "off":
            extras.append("last " + datetime.fromtimestamp(self._last_capture).strftime("%H:%M"))
        if extras:
            line = line + " · " + " · ".join(extras)
        return CaptureStatus(
            state=state,
            line=line,
            running=self._running,
            paused_until=until if paused else None,
            backlog=backlog,
            backlog_oldest_s=oldest,
            backlog_bytes=summary.bytes,
            skipped=skipped,
            last_capture=self._last_capture,
            problem=self._problem,
        )

    def skipped_text(self) -> str:
        """'3 screen locked, 1 OCR busy' (counts only)."""
        skipped = self.status().skipped
        return ", ".join(f"{n} {SKIP_LABELS.get(k, k)}" for k, n in sorted(skipped.items()))

    # -- headless --------------------------------------------------------------------------
    def run_headless(self, duration: float | None, interval: float | None = None) -> None:
        """The same pipeline on the calling thread (the CLI): one capture (`duration` None), or
        capture for `duration` seconds every `interval` (default: the setting); returns when
        the queued frames are processed."""
        self._running = True
        self._start_threads(loop=False)
        self.backlog_summary()
        try:
            self._open_devices()
            end = self._now() + (duration or 0.0)
            while True:
                t0 = time.monotonic()
                settings = CaptureSettings.read(self.services.settings.get)
                self._tick(settings)
                if duration is None or self._now() >= end:
                    break
                step = interval if interval is not None else settings.interval
                time.sleep(max(0.0, min(step - (time.monotonic() - t0), end - self._now())))
            self.wait_idle()
        finally:
            self._close_devices()
            self.stop()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the backlog is empty and no frame is being read."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._cond:
                if self._disk_full and not self._busy:
                    return True  # nothing can be stored until space returns; frames wait
                if not self._busy and not self._has_work and self._current is None:
                    if self.backlog_summary().count == 0:
                        return True
                    self._has_work = True  # frames the worker has not seen yet
                    self._cond.notify_all()
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.2 if left is None else min(0.2, left))

    # -- threads -----------------------------------------------------------------------------
    def _start_threads(self, loop: bool) -> None:
        if loop:
            name_this_process()
        if self._stopping.is_set():
            # A fresh event per run: a thread of the last run that outlived stop()'s join
            # keeps seeing its own (set) event and ends.
            self._stopping = threading.Event()
        stopping = self._stopping
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(
                target=self._work, args=(stopping,), name="capture-ocr", daemon=True
            )
            self._worker.start()
        if loop and (self._thread is None or not self._thread.is_alive()):
            self._thread = threading.Thread(
                target=self._loop, args=(stopping,), name="capture", daemon=True
            )
            self._thread.start()

    def _open_devices(self) -> None:
        if self._grabber is None:
            if self._grabber_factory is not None:
                self._grabber = self._grabber_factory()
            else:
                from app.grabber import ScreenGrabber

                self._grabber = ScreenGrabber()
        if self._context is None:
            if self._context_factory is not None:
                self._context = self._context_factory()
            else:
                from app.window_context import window_context_for_platform

                self._context = window_context_for_platform()

    def _close_devices(self) -> None:
        for dev in (self._grabber, self._context):
            close = getattr(dev, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    log.warning("closing a capture device failed")
        self._grabber = self._context = None

    def _loop(self, stopping: threading.Event) -> None:
        try:
            while not stopping.is_set():
                t0 = time.monotonic()
                interval = 5.0
                try:
                    settings = CaptureSettings.read(self.services.settings.get)
                    interval = settings.interval
                    self._step(settings)
                except StoreLocked:
                    break
                except UserFacingError as e:
                    self._set_problem(str(e))
                    self._close_devices()
                except Exception as e:
                    _log_failure("capture loop", e)
                    self.stats.skipped[SKIP_FAILED] += 1
                self._announce_status()
                self._wake.wait(max(0.05, interval - (time.monotonic() - t0)))
                self._wake.clear()
        finally:
            self._close_devices()

    def _step(self, settings: CaptureSettings) -> None:
        with self._cond:
            if self._paused_until is not None and self._now() >= self._paused_until:
                self._paused_until = None
                log.info("pause ended; capture resumed")
            forced, self._now_requested = self._now_requested, False
            active = self._running and self._paused_until is None
        if self._disk_full:
            if self._free_bytes() < RESUME_FREE_BYTES:
                self._record_state("disk_full")
                return
            self._disk_full = False
            self._notice("There is disk space again: screen capture resumed.")
        if not (active or forced):
            self._record_state("paused" if self._running else "off")
            return
        self._open_devices()
        if forced:
            self._detector.invalidate()
        self._tick(settings, forced=forced)
        self._problem = None
        if not forced:
            self._record_state(
                "screen_locked"
                if self._screen_locked
                else "excluded"
                if self._active_excluded
                else "capturing"
            )

    def _record_state(self, state: str) -> None:
        """Write each change of state to the audit log (a code, no content): the timeline shows
        a pause, a locked screen or an excluded window as a gap with its reason."""
        if state == self._recorded_state:
            return
        store = getattr(self.services, "store", None)
        if store is None or not getattr(self.services, "unlocked", False):
            return
        now = self._now()
        try:
            store.write(lambda c: audit.record(c, "capture_state", now, state=state))
        except (StoreLocked, StoreReadOnly):
            return  # locked meanwhile, or a damaged store open read-only: nothing to record
        except Exception as e:  # the timeline loses a label; capture goes on
            _log_failure("recording the capture state", e)
            return
        self._recorded_state = state

    def _tick(self, settings: CaptureSettings, forced: bool = False) -> None:
        """Grab every monitor once and queue the frames worth reading."""
        grabber, ctx = self._grabber, self._context
        monitors = grabber.monitors()
        if settings.primary_only and monitors:
            monitors = [next((m for m in monitors if m.primary), monitors[0])]
        active_excluded = False
        if self._reread:
            self._reread = False
            self._detector.invalidate()
        for m in monitors:
            try:
                before: Any = ctx.windows()
            except Exception as e:
                before = e
            frame = grabber.grab(m)
            self.stats.frames += 1
            change = self._detector.detect(m.key, frame.pixels)
            if not change.changed or change.blank:
                continue
            self.stats.changed += 1
            self._last_change = time.monotonic()
            after, locked = _snapshot(ctx)
            if settings.rules is None:
                self._skip(SKIP_BAD_EXCLUSIONS, m.key)
                continue
            if isinstance(before, BaseException):
                decision = decide(before, m.rect, settings.rules, locked)
            else:
                decision = decide(before, m.rect, settings.rules, locked, after=after)
            if decision.drop:
                assert decision.reason is not None
                self._skip(decision.reason.value, m.key)
                if decision.reason is DropReason.SCREEN_LOCKED:
                    self._screen_locked = True
                    with self._cond:
                        self._clear_cache = True
                continue
            self._screen_locked = False
            # Mnemo's own window in front is excluded too, but that is not worth a warning.
            seen = [*_listed(before), *_listed(after)]
            own = any(w.active and w.app == SELF_APP for w in seen)
            active_excluded = active_excluded or (decision.active_excluded and not own)
            # Excluded windows are black before the frame is queued: they never reach the
            # disk, not even encrypted.
            black_out(frame.pixels, decision.blackout)
            queued = QueuedFrame(
                frame.time, str(m.key), m.index, frame.pixels, change, decision, forced
            )
            try:
                self._submit(queued, settings)
            except (DiskFull, OSError) as e:
                if isinstance(e, OSError) and e.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                self._on_disk_full()
                self._detector.invalidate(m.key)
                return
        self._active_excluded = active_excluded

    def _skip(self, reason: str, monitor_key: str) -> None:
        self.stats.skipped[reason] += 1
        # Content shown while frames were dropped must not count as "seen" later.
        self._detector.invalidate(monitor_key)

    def _submit(self, frame: QueuedFrame, settings: CaptureSettings) -> None:
        """Queue a frame in the backlog. The previous frame of its monitor, if still waiting
        and shown only a moment, is folded into it (its changed tiles are read from this one)."""
        key = frame.monitor_key
        with self._cond:
            last = self._last_queued.get(key)
            fold = last is not None and frame.time - last.time < VISIBLE_MOMENT_S
        if fold:
            assert last is not None
            frame.change = self._detector.merge(last.frame.change, frame.change)
            frame.forced = frame.forced or last.frame.forced
        entry = self.backlog.put(frame)
        with self._cond:
            self._last_queued[key] = _Queued(entry.id, frame.time, frame)
            if frame.forced:
                self._forced_ids.add(entry.id)
            self._has_work = True
            self._cond.notify_all()
        if fold:
            assert last is not None
            if self.backlog.drop([last.id]):
                self.stats.skipped[SKIP_BACKLOG] += 1
        self._enforce_cap(settings.backlog_max_bytes)
        self.backlog_summary()

    def _enforce_cap(self, max_bytes: int) -> None:
        """Over the cap, the oldest frames go (counted, and said once): the newest are the
        likeliest still to matter, and the next read of their monitor is a whole-frame read."""
        summary = self.backlog.summary()
        if summary.bytes <= max_bytes:
            return
        excess = summary.bytes - max_bytes
        drop: list[int] = []
        monitors: set[str] = set()
        for e in self.backlog.entries(limit=10_000):
            if excess <= 0:
                break
            if e.id == self._current:
                continue
            drop.append(e.id)
            monitors.add(e.monitor)
            excess -= e.bytes
        n = self.backlog.drop(drop)
        with self._cond:
            self._gaps |= monitors
        if n:
            first = self.stats.skipped[SKIP_BACKLOG_FULL] == 0
            self.stats.skipped[SKIP_BACKLOG_FULL] += n
            log.warning("capture backlog over its cap: %d oldest frames dropped", n)
            if first:
                self._notice(
                    "Screen changes are waiting to be read faster than they can be: the oldest "
                    f"{n} were dropped to keep the backlog under its size limit. Raise the "
                    "limit in Settings → Capture to keep more."
                )

    def _on_battery(self) -> bool:
        now = time.monotonic()
        if now - self._battery_checked > 60.0:
            self._battery_checked = now
            self._battery = on_battery()
        return self._battery

    def _quiet(self) -> bool:
        """The user is away or idle: the screen has been still for a while, or is locked."""
        return self._screen_locked or time.monotonic() - self._last_change >= QUIET_S

    def _budget(self) -> float:
        return self.cpu_budget * (BATTERY_FACTOR if self._on_battery() else 1.0)

    def _held_back(self, frame_id: int) -> float:
        """Seconds to wait before reading `frame_id` (0: read now). Under self._cond."""
        if frame_id in self._forced_ids:
            return 0.0
        if self._quiet() and not self._on_battery():
            return 0.0
        deficit = -self._refill()
        if deficit <= 0:
            return 0.0
        return min(1.0, deficit / max(self._budget(), 1e-6))

    def _work(self, stopping: threading.Event) -> None:
        tune_malloc()
        try:
            self.backlog.sweep_orphans()  # files of frames whose row never committed
        except StoreLocked:
            return
        # Vectors a crash or a quit left stale are brought up to date first.
        self._refresh_vectors(stored=True)
        while not stopping.is_set():
            with self._cond:
                self._cond.wait_for(lambda: self._has_work or stopping.is_set(), 5.0)
                if stopping.is_set():
                    break
            try:
                entries = self.backlog.entries(limit=1)
            except StoreLocked:
                with self._cond:
                    self._has_work = False
                    self._cond.notify_all()
                    self._cond.wait(1.0)
                continue
            if not entries:
                with self._cond:
                    self._has_work = False
                    self._cond.notify_all()
                    idle = self.windows.stale_count > 0 and self._quiet()
                if idle:  # the user is idle: every stale vector now
                    self._refresh_vectors(everything=True)
                continue
            entry = entries[0]
            with self._cond:
                wait = 2.0 if self._disk_full else self._held_back(entry.id)
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                self._current = entry.id
                self._busy = True
                # Being read now: a newer frame can no longer be folded into it.
                for k in [k for k, q in self._last_queued.items() if q.id == entry.id]:
                    del self._last_queued[k]
                if self._clear_cache:
                    self.cache.clear()
                    self._screens.clear()
                    self.windows.forget()
                    self._clear_cache = False
                    self._reread = True  # the screen's text is forgotten: read it whole
            spent = time.thread_time()
            done = False
            try:
                frame = self.backlog.load(entry.id)
                if frame is not None:
                    self._process(frame)
                done = True
            except (DiskFull, OSError) as e:
                if isinstance(e, OSError) and e.errno not in (errno.ENOSPC, errno.EDQUOT):
                    _log_failure("capture frame", e)
                    self.stats.skipped[SKIP_FAILED] += 1
                    done = True
                else:
                    self._on_disk_full()
            except StoreLocked:
                pass  # locked while this frame was read: it stays queued for after unlock
            except Exception as e:
                _log_failure("capture frame", e)
                self.stats.skipped[SKIP_FAILED] += 1
                done = True  # a frame that cannot be read is not retried forever
            finally:
                try:
                    if done:
                        self.backlog.drop([entry.id])
                    self.backlog_summary()
                except StoreLocked:
                    pass
                trim_memory()
                with self._cond:
                    self._tokens -= time.thread_time() - spent
                    self._forced_ids.discard(entry.id)
                    self._current = None
                    self._busy = False
                    self._cond.notify_all()
                self._announce_status()
                if not done:
                    stopping.wait(1.0)
        # Capture stops (quit, pause, lock): the windows are left, their vectors written now.
        self._refresh_vectors(everything=True)
        with self._cond:
            self._busy = False
            self._cond.notify_all()

    def refresh_stored_vectors(self) -> Future[int]:
        """Bring the vectors the store has marked stale (left so by a crash or a quit) up to
        date on the compute lane, unless capture's worker runs (it starts by them). Called at
        unlock: with capture off they would wait for its next start, searches by meaning
        finding the windows' older states meanwhile. The embedding model, if not loaded yet,
        loads first on the load lane (the compute lane stays free meanwhile). Resolves to the
        number of vectors written."""
        done: Future[int] = Future()
        self.stored_refresh = done

        def capture_runs() -> bool:
            worker = self._worker
            return worker is not None and worker.is_alive()

        def guarded(fn: Callable[[], Any]) -> Any:
            try:
                return fn()
            except (StoreLocked, StoreReadOnly, StoreDamaged):
                return None  # locked meanwhile (the marks stay for the next unlock), or damaged
            except Exception as e:
                _log_failure("re-embedding window memories at unlock", e)
                return None

        def reembed() -> None:
            # Its own WindowMemories (the worker's is the worker's only); a vector written
            # twice is harmless (each write checks the mark it read).
            windows = WindowMemories(self.services)
            n = 0 if capture_runs() else guarded(lambda: windows.refresh_stored(self._now()))
            done.set_result(n or 0)

        def start() -> None:
            marked = (
                0
                if capture_runs()
                else guarded(lambda: stale_vectors(self.services.store.reader()))
            )
            memory = guarded(lambda: self.services.memory) if marked else None
            if memory is None:
                done.set_result(0)
                return
            loading = guarded(memory.warm_up)
            if loading is None:
                reembed()
            else:
                loading.add_done_callback(
                    lambda _f: LANES.submit(Lane.COMPUTE, reembed, label="stale window vectors")
                )

        LANES.submit(Lane.COMPUTE, start, label="stale window vectors")
        return done

    def _refresh_vectors(self, *, stored: bool = False, everything: bool = False) -> None:
        """Re-embed stale window vectors on the worker (counted in its CPU budget); a locked
        store keeps them marked for later."""
        if not stored and self.windows.stale_count == 0:
            return
        spent = time.thread_time()
        try:
            if stored:
                self.windows.refresh_stored(self._now())
            else:
                self.windows.refresh(self._now(), everything=everything)
        except StoreLocked:
            pass  # the marks stay in the store: the next start or refresh after unlock takes them
        except Exception as e:
            _log_failure("re-embedding window memories", e)
        finally:
            with self._cond:
                self._tokens -= time.thread_time() - spent

    def _refill(self) -> float:
        """The CPU seconds the worker may spend now (under self._cond)."""
        now = time.monotonic()
        self._tokens = min(CPU_BURST, self._tokens + (now - self._tokens_at) * self._budget())
        self._tokens_at = now
        return self._tokens

    def _on_disk_full(self) -> None:
        first = not self._disk_full
        self._disk_full = True
        self.stats.skipped["disk_full"] += 1
        if not first:
            return
        log.warning("disk full: screen capture paused until space returns")
        self._notice(
            "The disk is full: screen capture is paused. Free some space (or lower the "
            "screenshot quality in Settings); capture resumes by itself."
        )

    def _notice(self, text: str) -> None:
        with self._cond:
            self._notices.append(text)
        self._announce_status()

    def _announce_status(self) -> None:
        """Tell the windows (the tray) that what `status()` shows changed, from any thread; the
        tray redraws on that instead of asking every second. Ages and clock times in the line
        are redrawn whenever the menu opens."""
        st = self.status()
        last = None if st.last_capture is None else int(st.last_capture // 60)
        with self._cond:
            key: tuple[Any, ...] = (st.state, st.line.split(" · ")[0], st.backlog)
            key += (sum(st.skipped.values()), last, bool(self._notices))
            if key == self._announced:
                return
            self._announced = key
        try:
            self.services.announce(Changes(capture=True))
        except Exception:
            log.exception("capture status could not be announced")

    def _set_problem(self, text: str) -> None:
        if text != self._problem:
            self._problem = text
            self._notice(text)
            log.warning("capture unavailable: %s", text)

    # -- one frame (compute worker) ----------------------------------------------------------
    def _process(self, frame: QueuedFrame) -> None:
        ocr = self._ocr if self._ocr is not None else shared_ocr()
        s = CaptureSettings.read(self.services.settings.get)
        pixels = frame.pixels
        height, width = pixels.shape[:2]
        bounds = Rect(0, 0, width, height)
        screen = self._screens.setdefault(frame.monitor_key, ScreenText())
        with self._cond:
            gap = frame.monitor_key in self._gaps
            self._gaps.discard(frame.monitor_key)
        if frame.change.first or gap:
            regions = [bounds]
        else:
            regions = screen.expand(frame.change.regions, bounds)
        result = process_frame(
            pixels, frame.change, frame.decision, ocr, self.cache, s.redaction, frame.time,
            regions=regions,
        )  # fmt: skip
        self.stats.processed += 1
        self.stats.regions_ocred += result.regions_ocred
        self.stats.regions_reused += result.regions_reused
        self.stats.regions_skipped += result.regions_skipped
        self.stats.redactions += sum(result.redactions.values())
        self._last_capture = frame.time
        if frame.change.changed and not frame.change.blank:
            screen.update(regions, result.boxes, hidden=frame.decision.blackout)
        # The whole text of every window now on screen, not only what this frame re-read.
        memories = group_by_window(screen.boxes, frame.decision.windows, frame.time)
        # A lone glyph (an icon read as "M") is not worth remembering.
        memories = [m for m in memories if len(m.text.strip()) >= MIN_TEXT_CHARS]
        # Windows that left the screen, or kept changing for REEMBED_S, get their vector now.
        on_screen = {window_key(m.app, m.title, m.domain) for m in memories}
        if not memories:
            self.windows.refresh(frame.time, on_screen=on_screen)
            return
        active = frame.decision.active
        outcome = self.windows.remember(
            memories,
            pixels,
            frame.time,
            s,
            app=active.app if active else None,
            title=active.title if active else None,
        )
        self.stats.media_bytes += outcome.media_bytes
        self.stats.memories_added += outcome.added
        self.stats.memories_updated += outcome.updated
        self.stats.quarantined += outcome.quarantined
        log.info(
            "frame of monitor %d: %d memories added, %d updated, %d regions OCR'd, %d reused, "
            "%d redactions",
            frame.monitor_index,
            outcome.added,
            outcome.updated,
            result.regions_ocred,
            result.regions_reused,
            sum(result.redactions.values()),
        )
        self.windows.refresh(frame.time, on_screen=on_screen)


def store_memories(
    services: Session,
    memories: list[NewMemory],
    pixels: Any,
    when: float,
    s: CaptureSettings,
    *,
    app: str | None = None,
    title: str | None = None,
) -> tuple[int, int, int]:
    """Quarantine hidden text, store the (blacked-out, redacted) screenshot encrypted, point the
    memories at it with scaled boxes, ingest. Returns (added, media bytes, quarantined)."""
    memory = services.memory
    if memory is None:
        raise StoreLocked()
    # An RGB view of the frame for the contrast checks: a PIL image would be copied whole
    # (6 MB at 1080p) for every box.
    rgb = rgb_view(pixels)
    for m in memories:
        inspect_hidden_text(m, rgb)
    media = services.media
    media_id, nbytes = store_screenshot(
        services, memories, pixels, when, s, app or memories[0].app, title or memories[0].title
    )
    try:
        report = memory.add_many(memories)
    except BaseException:
        if media_id is not None and media is not None and services.unlocked:
            drop_media(media, media_id)
        raise
    if report.added == 0 and media_id is not None and media is not None:
        drop_media(media, media_id)  # every memory was a duplicate: keep no orphan image
    quarantined = sum(1 for m in memories if m.status == QUARANTINED)
    return report.added, nbytes, quarantined


def _snapshot(ctx: Any) -> tuple[Any, Any]:
    """(windows, locked) read after the grab; an exception stands in for what failed."""
    snap = getattr(ctx, "snapshot", None)
    try:
        if snap is not None:
            windows, locked = snap()
            return windows, locked
        windows = ctx.windows()
    except Exception as e:
        return e, e
    try:
        return windows, ctx.screen_locked()
    except Exception as e:
        return windows, e


def _listed(windows: Any) -> list[Any]:
    return list(windows) if isinstance(windows, list) else []


def _age_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def on_battery(root: Path = Path("/sys/class/power_supply")) -> bool:
    """True when a battery reports discharging (Linux sysfs; False when unknown)."""
    try:
        for supply in root.iterdir():
            kind = (supply / "type").read_text().strip()
            if kind == "Battery" and (supply / "status").read_text().strip() == "Discharging":
                return True
    except OSError:
        return False
    return False


def _until_text(until: float | None, now: float) -> str:
    if until is None or until == float("inf"):
        return "until you resume"
    when = datetime.fromtimestamp(until)
    if when.date() != datetime.fromtimestamp(now).date():
        return (
            "until tomorrow"
            if when.hour == 0 and when.minute == 0
            else when.strftime("until %a %H:%M")
        )
    return when.strftime("until %H:%M")


def _log_failure(what: str, e: BaseException) -> None:
    # The traceback without the exception's message: messages could quote captured text.
    tb = "".join(traceback.format_tb(e.__traceback__))
    log.error("%s failed: %s\n%s", what, type(e).__name__, tb)


def attach(services: Session) -> CaptureService:
    """The service for `services` while unlocked (stopped until the user or the app starts it)."""
    return CaptureService(services)
