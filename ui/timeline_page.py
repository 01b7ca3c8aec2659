"""The timeline page: rewind the screen. A captured frame large on top, the day's frames along a
time strip under it; drag, scroll or use the arrow keys to move through time. A search hit opens
here at its frame with its words boxed. Frames come decoded from app.timeline_service (on the
compute lane, cached in memory only). One picture is decoded at a time, always the one the
cursor is on when the last one is in (newest wins: a fast drag skips frames, it never queues
them): its preview, fitted to the view on the worker, while the cursor moves; the full frame once
it rests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from PySide6.QtCore import QDate, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
)

from app.services import Changes, Services
from app.tasks import Lane, TaskRunner
from app.timeline_service import Frame, Marker, Picture, TimelineSpan
from ui.memory_viewer import MemoryViewer, ServiceAccessor, media_of, memory_of
from ui.page import Page
from ui.result_list import day_bounds, drop_down_arrows, run_guarded
from ui.timeline_widgets import TILE_H, TILE_W, ZOOM_NAMES, FrameView, TimeStrip

SETTLE_MS = 90  # the cursor rests this long before the full frame is decoded
PREFETCH = 3  # previews decoded ahead of a resting cursor (the way it last moved)


def timeline_of(services: object) -> ServiceAccessor:
    return lambda: getattr(services, "timeline", None)


class TimelinePage(Page):
    title = "Timeline"
    shortcuts = ("Ctrl+T",)

    day_shown = Signal(object)  # the date whose frames are on the strip
    frame_shown = Signal(int)  # media id of the frame now in the viewer (full or preview)
    viewer_opened = Signal(object)

    def __init__(
        self,
        services: Services,
        tasks: TaskRunner,
        memory: ServiceAccessor | None = None,
        media: ServiceAccessor | None = None,
        timeline: ServiceAccessor | None = None,
        now: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(services, tasks)
        self.memory = memory or memory_of(services)
        self.media = media or media_of(services)
        self.timeline = timeline or timeline_of(services)
        self.now = now or time.time
        self.day: date = date.fromtimestamp(self.now())
        self.span: TimelineSpan | None = None
        self._day_request = 0
        self._decoding = False  # one picture at a time on the compute lane
        self._resting = True  # the cursor rests: the full frame is wanted, not the preview
        self._last_done: tuple[int, bool, tuple[int, int]] | None = None  # not asked twice
        self._direction = 1  # the way the cursor last moved, for prefetching
        self._index_of: dict[int, int] = {}
        self._pending_focus: tuple[int | None, float] | None = None  # frame, time to open at
        self._highlight: tuple[int, int, list[str]] | None = None  # media, memory, terms
        self.viewer: MemoryViewer | None = None
        self.loaded_at: float | None = None

        self.setStyleSheet(drop_down_arrows())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 10)
        layout.setSpacing(8)
        top = QHBoxLayout()
        self.prev_button = QPushButton("‹")
        self.prev_button.setObjectName("dayStep")
        self.prev_button.setToolTip("Previous day (Alt+Left)")
        self.prev_button.clicked.connect(lambda: self.step_day(-1))
        self.next_button = QPushButton("›")
        self.next_button.setObjectName("dayStep")
        self.next_button.setToolTip("Next day (Alt+Right)")
        self.next_button.clicked.connect(lambda: self.step_day(1))
        self.date_edit = QDateEdit()
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("dddd d MMMM yyyy")
        self.date_edit.setAccessibleName("Day")
        self.date_edit.setMinimumWidth(250)
        self.date_edit.dateChanged.connect(self._date_edited)
        self.now_button = QPushButton("Now")
        self.now_button.setToolTip("The latest frame (End)")
        self.now_button.clicked.connect(self.show_now)
        self.zoom_box = QComboBox()
        self.zoom_box.addItems(list(ZOOM_NAMES))
        self.zoom_box.setAccessibleName("Zoom")
        self.zoom_box.setToolTip("How much time the strip shows (+ and - on the strip)")
        top.addWidget(self.prev_button)
        top.addWidget(self.date_edit)
        top.addWidget(self.next_button)
        top.addWidget(self.now_button)
        top.addSpacing(12)
        top.addWidget(QLabel("Show"))
        top.addWidget(self.zoom_box)
        top.addSpacing(12)
        self.caption = QLabel()
        self.caption.setObjectName("frameCaption")
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        # A long window title must not widen the window: the caption takes what is left.
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top.addWidget(self.caption, 1)
        self.copy_button = QPushButton("Copy text")
        self.copy_button.setToolTip("Copy the selected text of the frame, or all of it (Ctrl+C)")
        self.copy_button.clicked.connect(self.copy_text)
        self.open_button = QPushButton("Open memory")
        self.open_button.setToolTip("Open what was read from this frame (Enter)")
        self.open_button.clicked.connect(self.open_current)
        top.addWidget(self.copy_button)
        top.addWidget(self.open_button)
        layout.addLayout(top)

        self.view = FrameView()
        self.view.selection_changed.connect(self._selection_changed)
        self.view.resized.connect(self._want_picture)
        layout.addWidget(self.view, 1)
        self.strip = TimeStrip(self._want_tile)
        self.strip.scrubbed.connect(self._scrubbed)
        self.strip.settled.connect(self._settled)
        self.strip.zoom_changed.connect(self._zoom_changed)
        self.strip.marker_activated.connect(self._marker_activated)
        self.zoom_box.currentIndexChanged.connect(self.strip.set_zoom)
        layout.addWidget(self.strip)
        self.hint = QLabel(
            "Drag the strip, scroll, or use ←/→ (Shift: 10 frames, PgUp/PgDn: 25) · +/− zoom · "
            "Alt+←/→ another day · select text on the frame and Ctrl+C copies it"
        )
        self.hint.setObjectName("hint")
        layout.addWidget(self.hint)

        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._rest)
        for seq, step in (("Alt+Left", -1), ("Alt+Right", 1)):
            act = QAction(self)
            act.setShortcut(QKeySequence(seq))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(lambda _=False, s=step: self.step_day(s))
            self.addAction(act)
        for seq, fn in (("Ctrl+C", self.copy_text), ("Return", self.open_current)):
            act = QAction(self)
            act.setShortcut(QKeySequence(seq))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(fn)
            self.addAction(act)
        self.setFocusProxy(self.strip)
        self._sync_date_edit()

    def sizeHint(self) -> QSize:
        return QSize(1400, 900)

    # -- days ---------------------------------------------------------------------------------
    def refresh(self, changes: Changes | None = None) -> None:
        if self.timeline() is None:
            self.span = None
            self._last_done = None
            self.strip.set_data(*day_bounds(self.day), [], [], [])
            self.view.show_message("Mnemo is locked. Unlock it to rewind your screen.")
            self.caption.clear()
            return
        if changes is not None and changes.memories_removed:
            service = self.timeline()
            if service is not None:
                service.forget()
        if changes is None or changes.memories_added or changes.memories_removed:
            # Coming back to the page, or new captures: stay on the frame on screen.
            self.load_day(keep_position=self.span is not None)

    def step_day(self, days: int) -> None:
        self.set_day(self.day + timedelta(days=days))

    def set_day(self, day: date) -> None:
        today = date.fromtimestamp(self.now())
        self.day = min(day, today)
        self._sync_date_edit()
        self.load_day()

    def show_now(self) -> None:
        """Today's latest frame (Ctrl+T and the global shortcut open the timeline here). The
        day is read again: a load started before (the page being shown) is superseded."""
        self._pending_focus = None
        self._highlight = None
        self.set_day(date.fromtimestamp(self.now()))
        self.strip.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _sync_date_edit(self) -> None:
        today = date.fromtimestamp(self.now())
        self.date_edit.blockSignals(True)
        self.date_edit.setMaximumDate(QDate(today.year, today.month, today.day))
        self.date_edit.setDate(QDate(self.day.year, self.day.month, self.day.day))
        self.date_edit.blockSignals(False)
        self.next_button.setEnabled(self.day < today)

    def _date_edited(self, qdate: QDate) -> None:
        d = qdate.toPython()
        if isinstance(d, date) and d != self.day:
            self.set_day(d)

    def load_day(self, keep_position: bool = False) -> None:
        service = self.timeline()
        if service is None:
            return
        self._day_request += 1
        rid, day = self._day_request, self.day
        start, end = day_bounds(day)
        keep = self.current_frame() if keep_position else None
        run_guarded(
            self.tasks,
            self,
            lambda: service.span(start, end),
            lambda span: self._day_loaded(rid, day, span, keep),
            lambda e: self._failed(rid),
        )

    def _failed(self, rid: int) -> None:
        if rid == self._day_request:
            self.view.show_message("This day could not be loaded. Try again.")

    def _day_loaded(self, rid: int, day: date, span: TimelineSpan, keep: Frame | None) -> None:
        if rid != self._day_request:
            return
        self.span = span
        self._last_done = None
        self._index_of = {f.media_id: i for i, f in enumerate(span.frames)}
        self.strip.set_data(span.start, span.end, span.frames, span.markers, span.gaps)
        self.day_shown.emit(day)
        if not span.frames:
            self._pending_focus = None
            self.caption.clear()
            capture = getattr(self.services, "capture", None)
            on = capture is not None and getattr(capture, "running", False)
            self.view.show_message(
                "No screens were captured on this day."
                + (
                    ""
                    if on or day != date.fromtimestamp(self.now())
                    else " Turn on screen capture from the tray icon or in Settings → Capture."
                )
                + (
                    f"\n{len(span.markers)} chat and note messages are marked on the strip."
                    if span.markers
                    else ""
                )
            )
            return
        index = len(span.frames) - 1
        if self._pending_focus is not None:
            media_id, when = self._pending_focus
            self._pending_focus = None
            near = self.strip.index_near(when)
            index = self._index_of.get(media_id, near) if media_id is not None else near
            index = index if index is not None else len(span.frames) - 1
        elif keep is not None:
            index = next(
                (i for i, f in enumerate(span.frames) if f.media_id == keep.media_id), index
            )
        self.strip.set_current(index)
        self._show(index, settle_now=True)

    # -- frames -------------------------------------------------------------------------------
    def current_frame(self) -> Frame | None:
        if self.span is None or self.strip.current is None:
            return None
        if not 0 <= self.strip.current < len(self.span.frames):
            return None
        return self.span.frames[self.strip.current]

    def _scrubbed(self, index: int) -> None:
        shown = self._index_of.get(self.view.frame_id or -1)
        if shown is not None and index != shown:
            self._direction = 1 if index > shown else -1
        self._show(index, settle_now=False)

    def _settled(self, index: int) -> None:
        self._show(index, settle_now=True)

    def _show(self, index: int, settle_now: bool) -> None:
        """Move the viewer to the cursor's frame: its preview while the cursor moves, the full
        frame once it has rested SETTLE_MS, or at once when it was put there (a click, a
        search hit, the drag let go). A key press onto a frame whose preview is decoded shows
        that first: held down, the key steps at the speed of previews, not of full frames."""
        frame = self.current_frame()
        service = self.timeline()
        if frame is None or service is None:
            return
        self._caption(frame)
        quick = (
            self.view.frame_id != frame.media_id
            and service.cached_full(frame.media_id) is None
            and service.cached_preview(frame.media_id) is not None
        )
        if settle_now and not quick:
            self._settle.stop()
            self._rest()
        else:
            self._resting = False
            self._settle.start()
            self._want_picture()

    def _rest(self) -> None:
        self._resting = True
        self._want_picture()

    def _wanted(self, service: Any) -> tuple[Frame, bool, tuple[int, int]] | None:
        """The picture the viewer should show now and is not showing: (frame, full, size)."""
        frame = self.current_frame()
        if frame is None:
            return None
        view = self.view
        full = self._resting or service.cached_full(frame.media_id) is not None
        fit = view.fit_size(self._stored_size(frame))
        if view.frame_id == frame.media_id and (view.full or not full):
            size = (view.image.width(), view.image.height())
            if size == fit or min(fit) <= 0:
                return None  # on screen already
        if self._last_done == (frame.media_id, full, fit):
            return None  # asked already: erased, unreadable, or a picture that does not fit
        return frame, full, fit

    def _want_picture(self) -> None:
        """Start decoding what the cursor is on, unless a decode runs: when it is in, this is
        asked again, for where the cursor is by then."""
        service = self.timeline()
        if service is None or self._decoding:
            return
        wanted = self._wanted(service)
        if wanted is None:
            if self._resting:
                self._prefetch(service)
            return
        frame, full, fit = wanted
        self._decoding = True

        def done(picture: Picture | None) -> None:
            self._decoding = False
            current = self.current_frame()
            if current is not None and current.media_id == frame.media_id:
                self._last_done = (frame.media_id, full, fit)
            if picture is None:
                if current is not None and current.media_id == frame.media_id:
                    self.view.show_message("This screen was erased.")
            elif self._worth_showing(frame, full):
                self._put(frame, picture)
            self._want_picture()

        def failed(err: BaseException) -> None:
            self._decoding = False
            current = self.current_frame()
            if current is not None and current.media_id == frame.media_id:
                self._last_done = (frame.media_id, full, fit)  # not asked for again
                self.view.show_message(str(err) or "This screen could not be read.")
            self._want_picture()

        self.tasks.op(
            lambda _ctx: service.picture(frame.media_id, full, fit),
            done,
            failed,
            lane=Lane.COMPUTE,
            owner=self,
            on_dropped=self._decode_dropped,
        )

    def _decode_dropped(self) -> None:
        self._decoding = False

    def _worth_showing(self, frame: Frame, full: bool) -> bool:
        """A picture of the cursor's frame, or (while dragging) of a frame nearer to it than
        the one on screen: a fast drag shows every frame it can decode."""
        here = self.strip.current
        index = self._index_of.get(frame.media_id)
        if here is None or index is None:
            return False
        if index == here:
            return full or not (self.view.frame_id == frame.media_id and self.view.full)
        shown = self._index_of.get(self.view.frame_id or -1)
        return not full and (shown is None or abs(index - here) < abs(shown - here))

    def _prefetch(self, service: Any) -> None:
        """While the cursor rests, decode the previews of the next frames the way it last
        moved (a key press then shows its frame at once), one at a time."""
        if self.span is None or self.strip.current is None:
            return
        frames, here = self.span.frames, self.strip.current
        for k in range(1, PREFETCH + 1):
            i = here + self._direction * k
            if not 0 <= i < len(frames):
                return
            mid = frames[i].media_id
            if service.cached_preview(mid) is None and service.cached_full(mid) is None:
                break
        else:
            return
        self._decoding = True

        def done(_image: Any) -> None:
            self._decoding = False
            self._want_picture()

        self.tasks.op(
            lambda _ctx: service.preview(mid),
            done,
            lambda _e: done(None),
            lane=Lane.COMPUTE,
            owner=self,
            on_dropped=self._decode_dropped,
        )

    def _stored_size(self, frame: Frame) -> QSize:
        return QSize(frame.width or 0, frame.height or 0)

    def _put(self, frame: Frame, picture: Picture) -> None:
        size = self._stored_size(frame)
        if size.isEmpty():
            size = QSize(*picture.decoded)
        new_frame = frame.media_id != self.view.frame_id
        self.view.set_frame(
            frame.media_id, picture.image, picture.full, size, QSize(*picture.decoded)
        )
        self._caption(frame)
        self.frame_shown.emit(frame.media_id)
        if picture.full and (new_frame or not self.view.boxes):
            self._load_text(frame)

    def _load_text(self, frame: Frame) -> None:
        service = self.timeline()
        if service is None:
            return
        highlight = (
            self._highlight if self._highlight and self._highlight[0] == frame.media_id else None
        )

        def fetch() -> tuple[list[Any], list[Any]]:
            boxes = service.frame_text(frame.media_id)
            matches = (
                service.match_boxes(frame.media_id, highlight[1], highlight[2]) if highlight else []
            )
            return boxes, matches

        def done(result: tuple[list[Any], list[Any]]) -> None:
            boxes, matches = result
            self.view.set_text(frame.media_id, boxes)
            if matches:
                self.view.set_matches(frame.media_id, matches)

        run_guarded(self.tasks, self, fetch, done, lambda e: None)

    def _want_tile(self, media_id: int) -> None:
        service = self.timeline()
        if service is None:
            return

        def done(image: Any) -> None:
            if image is not None:
                self.strip.set_tile(media_id, image)

        run_guarded(
            self.tasks, self, lambda: service.tile(media_id, (TILE_W, TILE_H)), done, lambda e: None
        )

    def _caption(self, frame: Frame) -> None:
        when = datetime.fromtimestamp(frame.time).strftime("%H:%M:%S")
        n = len(self.span.frames) if self.span else 0
        i = self._index_of.get(frame.media_id, self.strip.current or 0) + 1
        parts = [when, f"frame {i:,} of {n:,}", frame.app or "Unknown app"]
        if frame.title:
            parts.append(frame.title)
        self.caption.setText(" · ".join(parts))  # the title last: it is what gets cut
        self.caption.setToolTip(frame.title or "")

    def _zoom_changed(self, zoom: int) -> None:
        self.zoom_box.blockSignals(True)
        self.zoom_box.setCurrentIndex(zoom)
        self.zoom_box.blockSignals(False)

    # -- from search, to the viewer ------------------------------------------------------------
    def open_at(self, memory_id: int, terms: list[str] | None = None) -> None:
        """Show the frame a memory was read from, its words in `terms` boxed; a memory without
        a frame (a chat, a note) opens the strip at its time."""
        service = self.timeline()
        if service is None:
            return

        def find() -> tuple[Frame | None, float | None]:
            frame = service.locate(memory_id)
            return frame, frame.time if frame else service.time_of(memory_id)

        def located(found: tuple[Frame | None, float | None]) -> None:
            frame, when = found
            if when is None:
                self.view.show_message("This memory is gone (it was erased).")
                return
            if frame is not None:
                self._highlight = (frame.media_id, memory_id, list(terms or []))
            self._pending_focus = (frame.media_id if frame else None, when)
            self.day = date.fromtimestamp(when)
            self._sync_date_edit()
            self.strip.setFocus(Qt.FocusReason.OtherFocusReason)
            self.load_day()

        run_guarded(self.tasks, self, find, located, lambda e: None)

    def _marker_activated(self, marker: Marker) -> None:
        self.open_memory(marker.memory_id)

    def open_current(self) -> None:
        frame = self.current_frame()
        if frame is None:
            return
        ids = {b.memory_id for b in self.view.boxes}
        if self._highlight and self._highlight[0] == frame.media_id:
            self.open_memory(self._highlight[1])
        elif ids:
            self.open_memory(min(ids))

    def open_memory(self, memory_id: int) -> MemoryViewer:
        viewer = MemoryViewer(
            self.memory, self.media, self.tasks, memory_id, [], self.window(), self.now
        )
        viewer.forgotten.connect(lambda _: self.refresh(Changes(memories_removed=1)))
        viewer.finished.connect(lambda _: (self.window().activateWindow(), self.strip.setFocus()))
        self.viewer = viewer
        viewer.present()
        self.viewer_opened.emit(viewer)
        return viewer

    def copy_text(self) -> None:
        self.view.copy()

    def _selection_changed(self, text: str) -> None:
        self.copy_button.setText("Copy selection" if text else "Copy text")
