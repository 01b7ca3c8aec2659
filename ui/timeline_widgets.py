"""The two halves of the visual timeline: the frame viewer (a captured screen, large, with its
OCR text selectable and a search's words boxed) and the time strip under it (thumbnails along
time, gaps, chat and note markers, a cursor to drag). Both paint only what is in view."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime

from PySide6.QtCore import QLineF, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.timeline_service import Frame, Gap, Marker, TextBox
from ui.result_list import ACCENT, MUTED

MATCH = QColor("#f0a000")
BACKDROP = QColor("#1d2029")
Rect = tuple[int, int, int, int]

# Visible spans of the strip, widest first: a day down to five minutes.
ZOOM_SPANS = (24 * 3600.0, 6 * 3600.0, 3600.0, 15 * 60.0, 5 * 60.0)
ZOOM_NAMES = ("Day", "6 hours", "Hour", "15 minutes", "5 minutes")
TILE_W, TILE_H = 128, 72
MAX_TILES = 600  # strip pictures kept (about 37 KB each at this size)


class FrameView(QWidget):
    """A frame scaled to fit, its matched words boxed in orange. Dragging selects the OCR lines
    it crosses (shown in blue); Ctrl+C copies their text, Ctrl+A selects all."""

    selection_changed = Signal(str)
    resized = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("frameView")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 200)
        self.setAccessibleName("Captured screen")
        self.image = QImage()
        self.image_size = QSize()  # the stored frame's size (a preview is smaller)
        self.frame_id: int | None = None
        self.full = False
        self.matches: list[Rect] = []
        self.boxes: list[TextBox] = []
        self.selected: list[int] = []
        self.message = ""
        self.painted: list[tuple[int | None, bool]] = []  # (frame, full) of recent paints
        self.decoded_size = QSize()  # the picture's size as decoded, before it was fitted
        # Every pixel is painted here: Qt need not paint the page under it first.
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._drag_from: QPointF | None = None
        self._drag_to: QPointF | None = None

    def sizeHint(self) -> QSize:
        return QSize(1280, 720)

    def set_frame(
        self, frame_id: int, image: QImage, full: bool, size: QSize, decoded: QSize | None = None
    ) -> None:
        """Show `image` (best already fitted: see `fit_size`) for the stored frame of `size`;
        `decoded` is the picture's size before it was fitted (the preview's or the frame's)."""
        if frame_id != self.frame_id:
            self.boxes, self.selected, self.matches = [], [], []
        self.frame_id, self.image, self.full = frame_id, image, full
        self.image_size = size if size.isValid() else image.size()
        self.decoded_size = decoded if decoded is not None else image.size()
        self.message = ""
        self.update()

    def show_message(self, text: str) -> None:
        self.frame_id, self.image, self.message = None, QImage(), text
        self.boxes, self.selected, self.matches = [], [], []
        self.decoded_size = QSize()
        self.update()

    def fit_size(self, size: QSize) -> tuple[int, int]:
        """The size a stored frame of `size` is painted at in this view now."""
        if size.isEmpty():
            return (0, 0)
        scale = min(self.width() / size.width(), self.height() / size.height())
        return (round(size.width() * scale), round(size.height() * scale))

    def set_text(self, frame_id: int, boxes: list[TextBox]) -> None:
        if frame_id == self.frame_id:
            self.boxes = boxes
            self.selected = []
            self.update()

    def set_matches(self, frame_id: int, rects: Sequence[Rect]) -> None:
        if frame_id == self.frame_id:
            self.matches = list(rects)
            self.update()

    # -- geometry: stored-image pixels <-> widget -------------------------------------------
    def image_rect(self) -> QRectF:
        size = self.image_size if self.image_size.isValid() else self.image.size()
        w, h = self.fit_size(size)
        if not w or not h:
            return QRectF()
        # Whole pixels: a fitted picture is then copied 1:1, not scaled again while painting.
        return QRectF((self.width() - w) // 2, (self.height() - h) // 2, w, h)

    def to_widget(self, r: Rect) -> QRectF:
        ir = self.image_rect()
        s = ir.width() / max(1, self.image_size.width())
        return QRectF(ir.left() + r[0] * s, ir.top() + r[1] * s, r[2] * s, r[3] * s)

    def selected_text(self) -> str:
        lines: list[str] = []
        last_y: int | None = None
        for i in self.selected:
            b = self.boxes[i]
            if last_y is not None and abs(b.y - last_y) < b.h / 2 and lines:
                lines[-1] += " " + b.text
            else:
                lines.append(b.text)
            last_y = b.y
        return "\n".join(lines)

    def select_all(self) -> None:
        self.selected = list(range(len(self.boxes)))
        self.selection_changed.emit(self.selected_text())
        self.update()

    def copy(self) -> str:
        text = self.selected_text() or "\n".join(b.text for b in self.boxes)
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    # -- painting ---------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.resized.emit()  # the page fits the picture to the new size off the GUI thread

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        if self.image.isNull():
            p.fillRect(self.rect(), BACKDROP)
            p.setPen(QColor("#c9cedb"))
            p.drawText(
                self.rect().adjusted(24, 24, -24, -24),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.message,
            )
            p.end()
            return
        target = self.image_rect()
        for bar in _margins(QRectF(self.rect()), target):
            p.fillRect(bar, BACKDROP)
        if self.image.size() == target.size().toSize():
            p.drawImage(target.topLeft(), self.image)  # fitted on a worker: a plain copy
        else:
            # Not fitted (yet): scaled while painting until the fitted picture arrives.
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.full)
            p.drawImage(target, self.image)
        self.painted.append((self.frame_id, self.full))
        del self.painted[:-5000]
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.selected:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(47, 111, 222, 80))
            for i in self.selected:
                b = self.boxes[i]
                p.drawRect(self.to_widget((b.x, b.y, b.w, b.h)))
        if self.matches:
            p.setPen(QPen(MATCH, 3))
            p.setBrush(QColor(240, 160, 0, 40))
            for r in self.matches:
                p.drawRoundedRect(self.to_widget(r).adjusted(-3, -3, 3, 3), 3, 3)
        if self._drag_from is not None and self._drag_to is not None:
            p.setPen(QPen(ACCENT, 1, Qt.PenStyle.DashLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(QRectF(self._drag_from, self._drag_to).normalized())
        focus_ring(p, self)
        p.end()

    # -- selecting text ---------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.boxes:
            self._drag_from = self._drag_to = event.position()
            self._select_between(event.position(), event.position())
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is not None:
            self._drag_to = event.position()
            self._select_between(self._drag_from, self._drag_to)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is not None:
            self._drag_from = self._drag_to = None
            self.selection_changed.emit(self.selected_text())
            self.update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self._select_between(event.position(), event.position())
        self.selection_changed.emit(self.selected_text())

    def _select_between(self, a: QPointF, b: QPointF) -> None:
        area = QRectF(a, b).normalized().adjusted(-1, -1, 1, 1)
        self.selected = [
            i
            for i, box in enumerate(self.boxes)
            if self.to_widget((box.x, box.y, box.w, box.h)).intersects(area)
        ]
        self.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy()
            return
        if event.matches(QKeySequence.StandardKey.SelectAll):
            self.select_all()
            return
        super().keyPressEvent(event)


class TimeStrip(QWidget):
    """Time runs left to right over `span` seconds from `view_start`. Each tile shows the frame
    nearest its middle; every frame is a tick under the tiles; gaps are hatched with their reason;
    chats and notes are dots above. Drag, click, wheel or arrow keys move the cursor."""

    scrubbed = Signal(int)  # index into frames, while dragging or stepping
    settled = Signal(int)  # the drag ended here
    zoom_changed = Signal(int)
    marker_activated = Signal(object)  # a Marker

    def __init__(self, want_tile: Callable[[int], None] | None = None) -> None:
        super().__init__()
        self.setObjectName("timeStrip")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(TILE_H + 62)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # its picture covers it all
        self.setAccessibleName("Time strip: drag or use the arrow keys to move through time")
        self.want_tile = want_tile
        self.frames: list[Frame] = []
        self.times: list[float] = []
        self.markers: list[Marker] = []
        self.gaps: list[Gap] = []
        self.day_start = 0.0
        self.day_end = 24 * 3600.0
        self.zoom = 0
        self.view_start = 0.0
        self.current: int | None = None
        self.tiles: OrderedDict[int, QPixmap] = OrderedDict()
        self._asked: set[int] = set()
        self._dragging = False
        self.tiles_painted = 0
        self._static: QPixmap | None = None  # what paintEvent draws the cursor over
        self._static_key: object = None
        self._version = 0  # bumped when what the static layer shows changes
        self.static_paints = 0

    def sizeHint(self) -> QSize:
        return QSize(1280, TILE_H + 62)

    @property
    def span(self) -> float:
        return min(ZOOM_SPANS[self.zoom], self.day_end - self.day_start)

    def set_data(
        self,
        day_start: float,
        day_end: float,
        frames: list[Frame],
        markers: list[Marker],
        gaps: list[Gap],
    ) -> None:
        self.day_start, self.day_end = day_start, day_end
        self.frames = frames
        self.times = [f.time for f in frames]
        self.markers, self.gaps = markers, gaps
        self.current = None
        self._asked.clear()
        self.view_start = day_start
        self._version += 1
        self.update()

    def set_tile(self, media_id: int, image: QImage) -> None:
        """A frame's picture for the strip, best already scaled to fit a tile (on a worker)."""
        if image.width() > TILE_W or image.height() > TILE_H:
            image = image.scaled(
                TILE_W,
                TILE_H,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        self.tiles[media_id] = QPixmap.fromImage(image)
        while len(self.tiles) > MAX_TILES:
            old, _ = self.tiles.popitem(last=False)
            self._asked.discard(old)
        self._version += 1
        self.update()

    # -- geometry -----------------------------------------------------------------------------
    def x_of(self, t: float) -> float:
        return (t - self.view_start) / self.span * self.width()

    def time_at(self, x: float) -> float:
        return self.view_start + x / max(1, self.width()) * self.span

    def index_near(self, t: float) -> int | None:
        if not self.times:
            return None
        i = bisect_left(self.times, t)
        if i == 0:
            return 0
        if i >= len(self.times):
            return len(self.times) - 1
        return i if self.times[i] - t < t - self.times[i - 1] else i - 1

    def set_current(self, index: int | None, notify: bool = False) -> None:
        if index is not None and self.frames:
            index = max(0, min(len(self.frames) - 1, index))
        self.current = index
        if index is not None:
            self._keep_visible(self.times[index])
            if notify:
                self.scrubbed.emit(index)
        self.update()

    def _keep_visible(self, t: float) -> None:
        margin = self.span * 0.08
        if t < self.view_start + margin or t > self.view_start + self.span - margin:
            self.view_start = t - self.span / 2
        self.view_start = max(self.day_start, min(self.view_start, self.day_end - self.span))

    def set_zoom(self, zoom: int) -> None:
        zoom = max(0, min(len(ZOOM_SPANS) - 1, zoom))
        if zoom == self.zoom:
            return
        centre = self.times[self.current] if self.current is not None else self.view_start
        self.zoom = zoom
        self.view_start = centre - self.span / 2
        self._keep_visible(centre)
        self.zoom_changed.emit(zoom)
        self.update()

    # -- painting (only what is in view) --------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        """The strip as it stands (tiles, ticks, gaps, markers, labels) is drawn once into a
        picture and kept until the view or its data change; dragging only moves the cursor
        over it, so each step of a drag costs a copy, not a redraw of every frame's tick."""
        key = (self.size(), self.view_start, self.span, self._version, self.font().key())
        if self._static is None or self._static_key != key:
            ratio = self.devicePixelRatioF()
            static = QPixmap(self.size() * ratio)
            static.setDevicePixelRatio(ratio)
            painter = QPainter(static)
            self._paint_static(painter)
            painter.end()
            self._static, self._static_key = static, key
            self.static_paints += 1
        p = QPainter(self)
        p.drawPixmap(0, 0, self._static)
        if self.current is not None:
            x = self.x_of(self.times[self.current])
            p.setPen(QPen(ACCENT, 3))
            p.drawLine(QPointF(x, 2), QPointF(x, self.height() - 2))
        focus_ring(p, self)
        p.end()

    def _paint_static(self, p: QPainter) -> None:
        p.fillRect(self.rect(), QColor("#f4f5f8"))
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.85))
        p.setFont(small)
        fm = QFontMetrics(small)
        top = fm.height() + 6  # markers and the time labels live above the tiles
        tiles = QRectF(0, top, self.width(), TILE_H)
        lo, hi = self.view_start, self.view_start + self.span
        # Tiles: one per TILE_W of width, the frame nearest its middle if it falls inside.
        first, last = bisect_left(self.times, lo), bisect_right(self.times, hi)
        self.tiles_painted = 0
        if last > first:
            slot_t = self.span * TILE_W / max(1, self.width())
            k0 = int((lo - self.day_start) // slot_t)
            k1 = int((hi - self.day_start) // slot_t) + 1
            for k in range(k0, k1):
                s0 = self.day_start + k * slot_t
                i = self.index_near(s0 + slot_t / 2)
                if i is None or not s0 <= self.times[i] < s0 + slot_t:
                    continue
                frame = self.frames[i]
                x = self.x_of(s0)
                pm = self.tiles.get(frame.media_id)
                cell = QRectF(x + 1, tiles.top(), TILE_W - 2, TILE_H)
                if pm is None:
                    p.fillRect(cell, QColor("#dfe3eb"))
                    if self.want_tile is not None and frame.media_id not in self._asked:
                        self._asked.add(frame.media_id)
                        self.want_tile(frame.media_id)
                else:
                    self.tiles.move_to_end(frame.media_id)
                    p.drawPixmap(
                        QPointF(
                            cell.left() + (cell.width() - pm.width()) / 2,
                            cell.top() + (cell.height() - pm.height()) / 2,
                        ),
                        pm,
                    )
                    self.tiles_painted += 1
            # Every frame: a tick under the tiles (at a day's zoom, many share a pixel).
            p.setPen(QColor("#8d9ab3"))
            y0, y1 = int(tiles.bottom()) + 3, int(tiles.bottom()) + 9
            scale = self.width() / self.span
            xs = sorted({int((t - lo) * scale) for t in self.times[first:last]})
            p.drawLines([QLineF(x, y0, x, y1) for x in xs])
        # Gaps over the tiles (a tile stands for a stretch of time): hatched, with the reason
        # when there is room and as a tooltip.
        for g in self.gaps:
            if g.end < lo or g.start > hi:
                continue
            x0, x1 = self.x_of(g.start), self.x_of(g.end)
            r = QRectF(x0, tiles.top(), max(3.0, x1 - x0), TILE_H)
            p.fillRect(r, QColor(244, 245, 248, 235))
            p.fillRect(r, QBrush(QColor("#aab1c2"), Qt.BrushStyle.BDiagPattern))
            p.setPen(MUTED)
            if r.width() > fm.horizontalAdvance(g.reason) + 8:
                p.drawText(r, Qt.AlignmentFlag.AlignCenter, g.reason)
        # Chats and notes: dots above the tiles.
        for m in self.markers:
            if lo <= m.time <= hi:
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(QColor("#1f9d63") if m.kind == "note" else QColor("#8a4fd8"))
                p.drawEllipse(QPointF(self.x_of(m.time), top - 5), 4, 4)
        # Time labels along the bottom.
        p.setPen(MUTED)
        step = _label_step(self.span)
        t = (lo // step + 1) * step
        while t < hi:
            x = self.x_of(t)
            p.drawLine(QPointF(x, tiles.bottom()), QPointF(x, tiles.bottom() + 12))
            p.drawText(QPointF(x + 3, self.height() - 6), _clock(t, step))
            t += step

    # -- moving through time ---------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        marker = self._marker_at(event.position())
        if marker is not None:
            self.marker_activated.emit(marker)
            return
        self._dragging = True
        self.set_current(self.index_near(self.time_at(event.position().x())), notify=True)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._dragging:
            i = self.index_near(self.time_at(event.position().x()))
            if i != self.current:
                self.current = i
                self.update()
                if i is not None:
                    self.scrubbed.emit(i)
            return
        marker = self._marker_at(event.position())
        t = self.time_at(event.position().x())
        gap = next((g for g in self.gaps if g.start <= t <= g.end), None)
        if marker is not None:
            tip = f"{marker.label} · {datetime.fromtimestamp(marker.time):%H:%M}"
        elif gap is not None:
            tip = (
                f"{gap.reason}: {datetime.fromtimestamp(gap.start):%H:%M}–"
                f"{datetime.fromtimestamp(gap.end):%H:%M}, nothing captured"
            )
        else:
            tip = ""
        self.setToolTip(tip)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._dragging:
            self._dragging = False
            if self.current is not None:
                self._keep_visible(self.times[self.current])
                self.settled.emit(self.current)
            self.update()

    def _marker_at(self, pos: QPointF) -> Marker | None:
        fm = QFontMetrics(self.font())
        if pos.y() > fm.height() + 8:
            return None
        near = [m for m in self.markers if abs(self.x_of(m.time) - pos.x()) <= 6]
        return near[0] if near else None

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() // 120 or (1 if event.angleDelta().y() > 0 else -1)
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.set_zoom(self.zoom + steps)
        elif self.current is not None:
            self.step(-steps)
        event.accept()

    def step(self, frames: int) -> None:
        if self.current is None:
            if self.frames:
                self.set_current(len(self.frames) - 1, notify=True)
                self.settled.emit(len(self.frames) - 1)
            return
        self.set_current(self.current + frames, notify=True)
        if self.current is not None:
            self.settled.emit(self.current)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = Qt.Key(event.key())
        mods = event.modifiers()
        if mods & Qt.KeyboardModifier.AltModifier:
            super().keyPressEvent(event)  # Alt+Left/Right: the page's previous/next day
            return
        big = 10 if mods & Qt.KeyboardModifier.ShiftModifier else 1
        moves = {
            Qt.Key.Key_Left: -big,
            Qt.Key.Key_Right: big,
            Qt.Key.Key_PageUp: -25,
            Qt.Key.Key_PageDown: 25,
        }
        if key in moves:
            self.step(moves[key])
        elif key == Qt.Key.Key_Home and self.frames:
            self.set_current(0, notify=True)
            self.settled.emit(0)
        elif key == Qt.Key.Key_End and self.frames:
            self.set_current(len(self.frames) - 1, notify=True)
            self.settled.emit(len(self.frames) - 1)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.set_zoom(self.zoom + 1)
        elif key == Qt.Key.Key_Minus:
            self.set_zoom(self.zoom - 1)
        else:
            super().keyPressEvent(event)


def _margins(outer: QRectF, inner: QRectF) -> list[QRectF]:
    """The bands of `outer` around `inner` (which is centred in it)."""
    bands = [
        QRectF(outer.left(), outer.top(), outer.width(), inner.top() - outer.top()),
        QRectF(outer.left(), inner.bottom(), outer.width(), outer.bottom() - inner.bottom()),
        QRectF(outer.left(), inner.top(), inner.left() - outer.left(), inner.height()),
        QRectF(inner.right(), inner.top(), outer.right() - inner.right(), inner.height()),
    ]
    return [b for b in bands if b.width() > 0 and b.height() > 0]


def focus_ring(p: QPainter, widget: QWidget) -> None:
    if widget.hasFocus():
        p.setPen(QPen(ACCENT, 2))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(QRectF(widget.rect()).adjusted(1, 1, -1, -1))


def _label_step(span: float) -> float:
    for step in (60.0, 300.0, 900.0, 1800.0, 3600.0, 3 * 3600.0):
        if span / step <= 12:
            return step
    return 6 * 3600.0


def _clock(t: float, step: float) -> str:
    return datetime.fromtimestamp(t).strftime("%H:%M")
