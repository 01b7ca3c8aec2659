"""The screen capture service: a grab loop on its own thread (grab, change detection, window
context, exclusion decision) handing frames to one compute worker (OCR, redaction, suspicion,
encrypted screenshot, ingest), newest frame wins. Started, paused and resumed from the tray; the
status says what it is doing, with counts only (never captured text)."""

from __future__ import annotations

import errno
import logging
import shutil
import sys
import threading
import time
import traceback
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import audit, suspicion
from core.capture.change import ChangeDetector, FrameChange, RegionTextCache
from core.capture.exclusions import CaptureDecision, DropReason, ExclusionRules, decide
from core.capture.frame import process_frame
from core.errors import BadInput, DiskFull, StoreLocked, UserFacingError
from core.redaction import RedactionSettings
from core.types import QUARANTINED, NewMemory

if TYPE_CHECKING:
    from app.grabber import Frame, Monitor
    from app.services import Services

log = logging.getLogger(__name__)

# Pauses the tray offers, in seconds (None: until tomorrow, computed when chosen).
PAUSE_CHOICES: tuple[tuple[str, float | None], ...] = (
    ("15 minutes", 15 * 60.0),
    ("1 hour", 3600.0),
    ("Until tomorrow", None),
)
# Mnemo's own windows show memories: capturing them would feed memories back in. The process
# names itself this (Linux /proc/self/comm, what the window context reads) and is excluded.
SELF_APP = "mnemo"
MIN_TEXT_CHARS = 3
# CPU the compute worker may use on average (CPU seconds per wall second), with a burst
# allowance: one change is read at once; a screen that keeps changing is read less often
# (newer frames replace the waiting one, and what they changed is merged).
CPU_BUDGET = 0.04
CPU_BURST = 4.0
RESUME_FREE_BYTES = 200 * 1024 * 1024  # capture resumes after disk full once this much is free
# Skip reasons besides exclusions.DropReason.
SKIP_BACKLOG = "ocr_backlog"  # replaced in the queue by a newer frame of the same monitor
SKIP_BAD_EXCLUSIONS = "exclusion_settings_invalid"
SKIP_SCREEN_UNAVAILABLE = "screen_unavailable"
SKIP_FAILED = "failed"
SKIP_LABELS = {
    DropReason.WINDOW_INFO_UNAVAILABLE.value: "window info unavailable",
    DropReason.SCREEN_LOCKED.value: "screen locked",
    DropReason.EXCLUDED_WINDOW_UNLOCATED.value: "excluded window not located",
    DropReason.EXCLUDED_WINDOW_FILLS_SCREEN.value: "excluded window fills the screen",
    SKIP_BACKLOG: "OCR busy",
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
class CaptureSettings:
    interval: float
    primary_only: bool
    rules: ExclusionRules | None  # None: the stored exclusions do not parse (fail closed)
    redaction: RedactionSettings
    quality: int
    max_width: int
    keep_screenshots: bool

    @classmethod
    def read(cls, get: Callable[[str], Any]) -> CaptureSettings:
        try:
            rules: ExclusionRules | None = ExclusionRules.from_user(
                [*get("privacy.excluded_apps"), SELF_APP],
                get("privacy.excluded_titles"),
                get("privacy.excluded_domains"),
            )
        except BadInput:
            rules = None
        return cls(
            interval=float(get("capture.interval_s")),
            primary_only=get("capture.monitors") == "primary",
            rules=rules,
            redaction=RedactionSettings.from_settings(get),
            quality=int(get("capture.image_quality")),
            max_width=int(get("capture.image_max_width")),
            keep_screenshots=bool(get("capture.keep_screenshots")),
        )


@dataclass(slots=True)
class CaptureStats:
    frames: int = 0  # monitor frames grabbed
    changed: int = 0
    processed: int = 0  # frames that went through OCR
    memories_added: int = 0
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
    skipped: dict[str, int]
    last_capture: float | None
    problem: str | None


@dataclass(slots=True)
class _Job:
    monitor: Monitor
    frame: Frame
    change: FrameChange
    decision: CaptureDecision
    settings: CaptureSettings
    forced: bool = False  # "Capture now": not held back by the CPU budget


class CaptureService:
    """Create while unlocked (app.services attaches one); nothing runs until `start()`.
    `grabber_factory`, `context_factory` and `ocr` are the real ones unless a test passes
    fakes; the grabber and window context are created on the capture thread that uses them."""

    def __init__(
        self,
        services: Services,
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
        self._cond = threading.Condition()
        self._pending: OrderedDict[str, _Job] = OrderedDict()
        self._busy = False
        self._running = False
        self._paused_until: float | None = None  # inf: until resumed
        self._disk_full = False
        self._problem: str | None = None
        self._screen_locked = False
        self._active_excluded = False
        self._clear_cache = False
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

    # -- control ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Start capturing (threads start on first call; a paused service resumes)."""
        with self._cond:
            self._running = True
            self._paused_until = None
            self._start_threads(loop=True)
        self._wake.set()
        log.info("capture started")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and the worker; queued frames are discarded."""
        with self._cond:
            self._running = False
            self._pending.clear()
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
            if worker is None or not worker.is_alive():
                self.cache.clear()  # no text stays in memory while stopped
            else:
                self._clear_cache = True  # the worker owns the cache while it runs
        log.info("capture stopped")

    def pause(self, seconds: float | None = None) -> None:
        """Pause for `seconds` (None: until resumed). Cached region text is forgotten."""
        with self._cond:
            self._paused_until = float("inf") if seconds is None else self._now() + seconds
            self._pending.clear()
            self._clear_cache = True
        log.info("capture paused for %s", "ever" if seconds is None else f"{seconds:.0f} s")

    def resume(self) -> None:
        with self._cond:
            self._paused_until = None
        self._wake.set()
        log.info("capture resumed")

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
    def status(self) -> CaptureStatus:
        with self._cond:
            backlog = len(self._pending) + (1 if self._busy else 0)
            skipped = dict(self.stats.skipped)
            until = self._paused_until
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
        if backlog > 1:
            extras.append(f"OCR backlog {backlog}")
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
        """Wait until no frame is queued or being processed."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

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
            after, locked = _snapshot(ctx)
            if isinstance(before, BaseException):
                windows: Any = before
            elif isinstance(after, BaseException):
                windows = after
            else:
                windows = before + after
            if settings.rules is None:
                self._skip(SKIP_BAD_EXCLUSIONS, m.key)
                continue
            decision = decide(windows, m.rect, settings.rules, locked)
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
            own = any(w.active and w.app == SELF_APP for w in windows)
            active_excluded = active_excluded or (decision.active_excluded and not own)
            self._submit(_Job(m, frame, change, decision, settings, forced))
        self._active_excluded = active_excluded

    def _skip(self, reason: str, monitor_key: str) -> None:
        self.stats.skipped[reason] += 1
        # Content shown while frames were dropped must not count as "seen" later.
        self._detector.invalidate(monitor_key)

    def _submit(self, job: _Job) -> None:
        with self._cond:
            old = self._pending.pop(job.monitor.key, None)
            if old is not None:
                # Newest wins; what the replaced frame changed is read from the newer pixels.
                job.change = self._detector.merge(old.change, job.change)
                job.forced = job.forced or old.forced
                self.stats.skipped[SKIP_BACKLOG] += 1
            self._pending[job.monitor.key] = job
            self._cond.notify_all()

    def _work(self, stopping: threading.Event) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending) or stopping.is_set())
                # Over the CPU budget: wait (newer frames merge into the waiting one).
                while (
                    not stopping.is_set()
                    and self._pending
                    and not any(j.forced for j in self._pending.values())
                    and (deficit := -self._refill()) > 0
                ):
                    self._cond.wait(min(1.0, deficit / max(self.cpu_budget, 1e-6)))
                if stopping.is_set():
                    self._pending.clear()
                    self._cond.notify_all()
                    return
                if not self._pending:
                    continue
                _, job = self._pending.popitem(last=False)
                self._busy = True
                if self._clear_cache:
                    self.cache.clear()
                    self._clear_cache = False
            spent = time.thread_time()
            try:
                self._process(job)
            except (DiskFull, OSError) as e:
                if isinstance(e, OSError) and e.errno not in (errno.ENOSPC, errno.EDQUOT):
                    _log_failure("capture frame", e)
                    self.stats.skipped[SKIP_FAILED] += 1
                else:
                    self._on_disk_full()
            except StoreLocked:
                pass  # locked while this frame was read: it is dropped with the keys
            except Exception as e:
                _log_failure("capture frame", e)
                self.stats.skipped[SKIP_FAILED] += 1
            finally:
                with self._cond:
                    self._tokens -= time.thread_time() - spent
                    self._busy = False
                    self._cond.notify_all()

    def _refill(self) -> float:
        """The CPU seconds the worker may spend now (under self._cond)."""
        now = time.monotonic()
        self._tokens = min(CPU_BURST, self._tokens + (now - self._tokens_at) * self.cpu_budget)
        self._tokens_at = now
        return self._tokens

    def _on_disk_full(self) -> None:
        self._disk_full = True
        with self._cond:
            self._pending.clear()
        self.stats.skipped["disk_full"] += 1
        log.warning("disk full: screen capture paused until space returns")
        self._notice(
            "The disk is full: screen capture is paused. Free some space (or lower the "
            "screenshot quality in Settings); capture resumes by itself."
        )

    def _notice(self, text: str) -> None:
        with self._cond:
            self._notices.append(text)

    def _set_problem(self, text: str) -> None:
        if text != self._problem:
            self._problem = text
            self._notice(text)
            log.warning("capture unavailable: %s", text)

    # -- one frame (compute worker) ----------------------------------------------------------
    def _process(self, job: _Job) -> None:
        ocr = self._ocr if self._ocr is not None else shared_ocr()
        s = job.settings
        pixels = job.frame.pixels
        result = process_frame(
            pixels, job.change, job.decision, ocr, self.cache, s.redaction, job.frame.time
        )
        self.stats.processed += 1
        self.stats.regions_ocred += result.regions_ocred
        self.stats.regions_reused += result.regions_reused
        self.stats.regions_skipped += result.regions_skipped
        self.stats.redactions += sum(result.redactions.values())
        self._last_capture = job.frame.time
        # A lone glyph (an icon read as "M") is not worth remembering.
        result.memories = [m for m in result.memories if len(m.text.strip()) >= MIN_TEXT_CHARS]
        if not result.memories:
            return
        active = job.decision.active
        added, nbytes, quarantined = store_memories(
            self.services,
            result.memories,
            pixels,
            job.frame.time,
            s,
            app=active.app if active else None,
            title=active.title if active else None,
        )
        self.stats.media_bytes += nbytes
        self.stats.memories_added += added
        self.stats.quarantined += quarantined
        log.info(
            "frame of monitor %d: %d memories added, %d regions OCR'd, %d reused, %d redactions",
            job.monitor.index,
            added,
            result.regions_ocred,
            result.regions_reused,
            sum(result.redactions.values()),
        )


def store_memories(
    services: Services,
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
    from app.screen_media import encode_screenshot, rgb_image, scale_boxes

    image = rgb_image(pixels)
    # An RGB view of the frame for the contrast checks: a PIL image would be copied whole
    # (6 MB at 1080p) for every box.
    rgb = _rgb_view(pixels)
    for m in memories:
        _inspect_hidden_text(m, rgb)
    media_id = None
    nbytes = 0
    media = services.media
    if s.keep_screenshots and media is not None:
        shot = encode_screenshot(image, s.max_width, s.quality)
        media_id = media.put(
            shot.data,
            mime=shot.mime,
            time=when,
            width=shot.width,
            height=shot.height,
            thumbnail=shot.thumbnail,
            app=app or memories[0].app,
            title=title or memories[0].title,
        )
        nbytes = len(shot.data) + len(shot.thumbnail)
        for m in memories:
            m.media_id = media_id
            m.boxes = scale_boxes(m.boxes, shot.scale)
            if m.region is not None:
                (m.region,) = scale_boxes([m.region], shot.scale) or [m.region]
    else:
        for m in memories:
            m.boxes, m.region = None, None
    try:
        report = memory.add_many(memories)
    except BaseException:
        if media_id is not None and media is not None and services.unlocked:
            _drop_media(media, media_id)
        raise
    if report.added == 0 and media_id is not None and media is not None:
        _drop_media(media, media_id)  # every memory was a duplicate: keep no orphan image
    quarantined = sum(1 for m in memories if m.status == QUARANTINED)
    return report.added, nbytes, quarantined


def _inspect_hidden_text(m: NewMemory, image: Any) -> None:
    """Tiny or low-contrast text is a way to plant instructions: quarantine such memories
    before ingest (boxes are still in frame pixels, matching `image`)."""
    # Redacted boxes are black in `image` on purpose: they would read as "invisible text".
    boxes = [b for b in m.boxes or [] if "[redacted " not in str(b.get("text", ""))]
    flags = suspicion.inspect(m.text, boxes=boxes, image=image, kind="screen")
    if suspicion.should_quarantine(flags):
        m.status = QUARANTINED
        m.reasons = [*m.reasons, *suspicion.reasons(flags)]


def _rgb_view(pixels: Any) -> Any:
    """RGB channels of a BGRA/BGR frame as a view (no copy); other arrays as they are."""
    if getattr(pixels, "ndim", 0) == 3 and pixels.shape[2] in (3, 4):
        return pixels[..., 2::-1]
    return pixels


def _drop_media(media: Any, media_id: int) -> None:
    files = media.store.write(lambda c: media.destroy_keys(c, [media_id]))
    media.remove_files(files)


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


def attach(services: Services) -> CaptureService:
    """The service for `services` while unlocked (stopped until the user or the app starts it)."""
    return CaptureService(services)
