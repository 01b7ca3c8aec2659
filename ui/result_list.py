"""The list of memories shared by the search and timeline pages: plain-text highlight handling,
time formatting, and a fast model + painted delegate (no memory text is ever read as HTML)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPen,
    QPixmap,
    QTextCharFormat,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from core.types import HL_END, HL_START, IMPORT_PREFIX, OK, Memory, SearchHit

ACCENT = QColor("#3d6fd8")
INK = QColor("#1d2433")
MUTED = QColor("#5f6880")
MARK_BG = QColor("#ffe58a")
SELECTED_BG = QColor("#e6edfc")
HOVER_BG = QColor("#f1f3f8")
RULE = QColor("#e3e6ed")

_WS = re.compile(r"\s")

Ranges = list[tuple[int, int]]


def run_guarded(
    tasks: Any,
    widget: QWidget,
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
) -> None:
    """fn on the task runner, with both callbacks dropped if the widget is gone by the time
    they arrive (the runner's `owner`)."""
    tasks.op(lambda _ctx: fn(), on_done, on_error, owner=widget)


def thumbnail_loader(
    widget: QWidget, tasks: Any, media: Callable[[], Any], model: ResultsModel
) -> Callable[[int], None]:
    """A `want_thumbnail` for ResultsModel: fetches `media.thumbnail(id)` bytes on the task
    runner (decoding there too) and hands the picture to the model. No media service, or one
    without thumbnails, means rows simply show no picture."""
    from PySide6.QtGui import QImage

    def want(media_id: int) -> None:
        service = media()
        if service is None or not hasattr(service, "thumbnail"):
            return

        def fetch() -> QImage:
            return QImage.fromData(service.thumbnail(media_id))

        def show(image: QImage) -> None:
            if not image.isNull():
                model.set_thumbnail(media_id, QPixmap.fromImage(image))

        run_guarded(tasks, widget, fetch, show, lambda e: None)

    return want


def drop_down_arrows() -> str:
    """Style sheet giving combo boxes and date fields a drawn chevron; the app style sheet
    removes the platform's drop-down frame, and an image url must be absolute to work from
    any working directory."""
    from app.paths import assets_dir

    arrow = (assets_dir() / "icons" / "chevron-down.svg").as_posix()
    return (
        "QComboBox::drop-down, QDateEdit::drop-down { border: none; width: 24px; }\n"
        f"QComboBox::down-arrow, QDateEdit::down-arrow {{ image: url({arrow}); "
        "width: 12px; height: 12px; }\n"
    )


# -- text -------------------------------------------------------------------------------------
def split_highlights(snippet: str, collapse_space: bool = True) -> tuple[str, Ranges]:
    """Plain text and (start, length) ranges of the words wrapped in HL_START/HL_END. With
    collapse_space, runs of whitespace (newlines included) become one space."""
    out: list[str] = []
    ranges: Ranges = []
    start: int | None = None
    for ch in snippet:
        if ch == HL_START:
            start = len(out)
        elif ch == HL_END:
            if start is not None and len(out) > start:
                ranges.append((start, len(out) - start))
            start = None
        elif collapse_space and _WS.match(ch):
            if out and out[-1] != " ":
                out.append(" ")
        else:
            out.append(ch)
    if start is not None and len(out) > start:
        ranges.append((start, len(out) - start))
    return "".join(out), ranges


def highlighted_terms(snippet: str) -> list[str]:
    """The distinct words the engine marked in a snippet, lower-cased, longest first."""
    plain, ranges = split_highlights(snippet)
    terms = {plain[s : s + n].strip().lower() for s, n in ranges}
    return sorted((t for t in terms if t), key=lambda t: (-len(t), t))


def find_terms(text: str, terms: list[str]) -> Ranges:
    """Where the terms occur in text (case-insensitive), as (start, length), left to right."""
    words = [t for t in terms if t.strip()]
    if not words:
        return []
    pattern = re.compile("|".join(re.escape(t) for t in words), re.IGNORECASE)
    return [(m.start(), m.end() - m.start()) for m in pattern.finditer(text) if m.end() > m.start()]


# -- time -------------------------------------------------------------------------------------
def local(ts: float) -> datetime:
    return datetime.fromtimestamp(ts).astimezone()


def relative_time(ts: float, now: float) -> str:
    delta = now - ts
    if delta < 0:
        return "in the future"
    if delta < 60:
        return "just now"
    if delta < 3600:
        return f"{int(delta // 60)} min ago"
    day_now, day_ts = local(now).date(), local(ts).date()
    if day_ts == day_now:
        return f"{int(delta // 3600)} h ago"
    days = (day_now - day_ts).days
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{days} days ago"
    if days < 14:
        return "1 week ago"
    if days < 60:
        return f"{days // 7} weeks ago"
    if days < 730:
        return f"{days // 30} months ago"
    return f"{days // 365} years ago"


def absolute_time(ts: float, now: float | None = None) -> str:
    """Short and unambiguous: weekday, day, month, (year when not this year), time."""
    dt = local(ts)
    year = "" if now is not None and local(now).year == dt.year else f" {dt.year}"
    return f"{dt:%a} {dt.day} {dt:%b}{year}, {dt:%H:%M}"


def day_label(dt: datetime, today: datetime) -> str:
    days = (today.date() - dt.date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "yesterday"
    year = "" if dt.year == today.year else f" {dt.year}"
    return f"{dt:%a} {dt.day} {dt:%b}{year}"


def describe_range(since: float | None, until: float | None, now: float) -> str:
    """'yesterday', 'Mon 16 Nov – Fri 20 Nov', 'since Mon 16 Nov', 'until 3 Oct'."""
    today = local(now)
    if since is not None and until is not None:
        a, b = local(since), local(until - 1e-3)
        if a.date() == b.date():
            return day_label(a, today)
        return f"{day_label(a, today)} – {day_label(b, today)}"
    if since is not None:
        return f"since {day_label(local(since), today)}"
    if until is not None:
        return f"until {day_label(local(until - 1e-3), today)}"
    return ""


def day_bounds(day: date) -> tuple[float, float]:
    """Epoch seconds of local midnight starting `day` and the next one (DST-correct: naive
    datetimes are read as local time)."""
    start = datetime(day.year, day.month, day.day)
    end = start + timedelta(days=1)
    return start.timestamp(), end.timestamp()


SOURCE_NAMES = {"screen": "Screen", "chat": "Chat", "note": "Note", "api": "API"}


def source_label(kind: str) -> str:
    if kind.startswith(IMPORT_PREFIX):
        fmt = kind[len(IMPORT_PREFIX) :]
        return f"Import ({fmt})" if fmt else "Import"
    return SOURCE_NAMES.get(kind, kind.capitalize())


# -- rows -------------------------------------------------------------------------------------
@dataclass(slots=True)
class ResultRow:
    """What one line of the list shows; built from a search hit or a memory."""

    id: int
    time: float
    kind: str
    app: str | None
    title: str | None
    snippet: str  # may hold HL_START/HL_END
    author: str | None = None
    conversation: str | None = None
    count: int = 1
    media_id: int | None = None
    status: str = OK
    match: str = "words"  # words | meaning (core.types.SearchHit.match)
    plain: str = ""
    ranges: Ranges = field(default_factory=list)

    def __post_init__(self) -> None:
        self.plain, self.ranges = split_highlights(self.snippet)

    @classmethod
    def from_hit(cls, hit: SearchHit) -> ResultRow:
        return cls(
            id=hit.id,
            time=hit.time,
            kind=hit.source,
            app=hit.app,
            title=hit.title,
            snippet=hit.snippet,
            author=hit.author,
            conversation=hit.conversation,
            count=max(1, hit.count),
            media_id=hit.media_id,
            status=hit.status,
            match=hit.match,
        )

    @classmethod
    def from_memory(cls, m: Memory, max_chars: int = 400) -> ResultRow:
        text = m.text.replace(HL_START, "").replace(HL_END, "")
        return cls(
            id=m.id,
            time=m.time,
            kind=m.kind,
            app=m.app,
            title=m.title,
            snippet=text[:max_chars],
            author=m.author,
            conversation=m.conversation,
            media_id=m.media_id,
            status=m.status,
        )

    def heading(self) -> str:
        """The bold line: the window title, else the conversation, else the app or kind."""
        if self.title:
            return self.title
        if self.conversation:
            return self.conversation
        return self.app or source_label(self.kind)

    def origin(self) -> str:
        parts = ["by meaning"] if self.match == "meaning" else []
        parts.append(source_label(self.kind))
        if self.app:
            parts.append(self.app)
        if self.author:
            parts.append(self.author)
        return " · ".join(parts)


MAX_THUMBNAILS = 400  # decoded pictures kept in memory (never on disk)
ROW_ROLE = Qt.ItemDataRole.UserRole + 1
THUMB_ROLE = Qt.ItemDataRole.UserRole + 2


class ResultsModel(QAbstractListModel):
    """Rows plus a thumbnail cache. `want_thumbnail(media_id)` is called (once per id) when a
    visible row has a picture that is not loaded yet; call `set_thumbnail` when it arrives."""

    def __init__(
        self,
        want_thumbnail: Callable[[int], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.rows: list[ResultRow] = []
        self.want_thumbnail = want_thumbnail
        self._thumbs: dict[int, QPixmap | None] = {}
        self.now: float = 0.0

    def set_rows(self, rows: list[ResultRow], now: float) -> None:
        same = len(rows) == len(self.rows) and all(
            (a.id, a.count, a.snippet) == (b.id, b.count, b.snippet)
            for a, b in zip(rows, self.rows)
        )
        if same and rows:
            # A refresh that found the same hits keeps the scroll position and selection.
            self.rows = rows
            self.now = now
            self.dataChanged.emit(self.index(0), self.index(len(rows) - 1))
            return
        self.beginResetModel()
        self.rows = rows
        self.now = now
        self.endResetModel()

    def clear(self) -> None:
        self.set_rows([], self.now)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        if parent is not None and parent.isValid():
            return 0
        return len(self.rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == ROW_ROLE:
            return row
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            when = absolute_time(row.time, self.now)
            return f"{when} · {row.origin()} · {row.heading()}: {row.plain}"
        if role == Qt.ItemDataRole.ToolTipRole and row.count > 1:
            return f"{row.count} near-identical memories, shown once"
        if role == THUMB_ROLE and row.media_id is not None:
            if row.media_id not in self._thumbs:
                self._thumbs[row.media_id] = None
                if self.want_thumbnail is not None:
                    self.want_thumbnail(row.media_id)
            return self._thumbs.get(row.media_id)
        return None

    def set_thumbnail(self, media_id: int, pixmap: QPixmap | None) -> None:
        self._thumbs[media_id] = pixmap
        while len(self._thumbs) > MAX_THUMBNAILS:  # oldest first (dicts keep insertion order)
            del self._thumbs[next(iter(self._thumbs))]
        for i, row in enumerate(self.rows):
            if row.media_id == media_id:
                idx = self.index(i)
                self.dataChanged.emit(idx, idx, [THUMB_ROLE])

    def row_at(self, i: int) -> ResultRow | None:
        return self.rows[i] if 0 <= i < len(self.rows) else None


# Big enough to recognise the screen (a 640 px thumbnail made at capture, shown at 224 px).
THUMB_W, THUMB_H = 224, 126
PAD = 10
PICTURE_LINES = 4  # rows with a picture have room for more of the snippet


class ResultDelegate(QStyledItemDelegate):
    """Paints a row: meta line (time, origin, ×N), heading, two lines of snippet with the
    matched words marked, and a thumbnail on the left when there is a picture."""

    snippet_lines = 2

    def _fonts(self, base: QFont) -> tuple[QFont, QFont, QFont]:
        small = QFont(base)
        small.setPointSizeF(max(7.0, base.pointSizeF() * 0.88))
        bold = QFont(base)
        bold.setWeight(QFont.Weight.DemiBold)
        return small, bold, QFont(base)

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        small, bold, body = self._fonts(option.font)  # type: ignore[attr-defined]
        row = index.data(ROW_ROLE)
        picture = isinstance(row, ResultRow) and row.media_id is not None
        h = (
            PAD
            + QFontMetrics(small).height()
            + 3
            + QFontMetrics(bold).height()
            + 3
            + QFontMetrics(body).lineSpacing() * (PICTURE_LINES if picture else self.snippet_lines)
            + PAD
        )
        return QSize(400, max(h, THUMB_H + 2 * PAD) if picture else h)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        row = index.data(ROW_ROLE)
        if not isinstance(row, ResultRow):
            return
        rect: QRect = option.rect  # type: ignore[attr-defined]
        state = option.state  # type: ignore[attr-defined]
        model = index.model()
        now = model.now if isinstance(model, ResultsModel) else 0.0
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, SELECTED_BG)
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), ACCENT)
        elif state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(rect, HOVER_BG)
        else:
            painter.fillRect(rect, QColor("white"))
        painter.setPen(RULE)
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())

        small, bold, body = self._fonts(option.font)  # type: ignore[attr-defined]
        x = rect.left() + PAD + 6
        right = rect.right() - PAD - 6
        top = rect.top() + PAD

        if row.media_id is not None:
            thumb_rect = QRect(x, top, THUMB_W, THUMB_H)
            pm = index.data(THUMB_ROLE)
            painter.setPen(QPen(RULE))
            painter.setBrush(QBrush(QColor("#eef0f4")))
            painter.drawRoundedRect(QRectF(thumb_rect), 4, 4)
            if isinstance(pm, QPixmap) and not pm.isNull():
                scaled = pm.scaled(
                    thumb_rect.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
                px = thumb_rect.left() + (THUMB_W - scaled.width()) // 2
                py = thumb_rect.top() + (THUMB_H - scaled.height()) // 2
                painter.drawPixmap(px, py, scaled)
            x += THUMB_W + PAD + 2

        # Meta line: "2 h ago · Fri 20 Nov, 14:05" on the left, origin and ×N on the right.
        fm_small = QFontMetrics(small)
        painter.setFont(small)
        badge_w = 0
        if row.count > 1:
            badge = f"×{row.count}"
            badge_w = fm_small.horizontalAdvance(badge) + 12
            b = QRectF(right - badge_w, top, badge_w, fm_small.height())
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QBrush(QColor("#d3def8")))
            painter.drawRoundedRect(b, b.height() / 2, b.height() / 2)
            painter.setPen(ACCENT)
            painter.drawText(b, Qt.AlignmentFlag.AlignCenter, badge)
            badge_w += 8
        when = f"{relative_time(row.time, now)} · {absolute_time(row.time, now)}"
        origin = row.origin()
        painter.setPen(MUTED)
        when_w = fm_small.horizontalAdvance(when)
        painter.drawText(QPointF(x, top + fm_small.ascent()), when)
        origin_room = right - badge_w - (x + when_w + 16)
        if origin_room > 30:
            origin_text = fm_small.elidedText(origin, Qt.TextElideMode.ElideRight, origin_room)
            ow = fm_small.horizontalAdvance(origin_text)
            painter.drawText(QPointF(right - badge_w - ow, top + fm_small.ascent()), origin_text)
        y = top + fm_small.height() + 3

        fm_bold = QFontMetrics(bold)
        painter.setFont(bold)
        painter.setPen(INK)
        heading = fm_bold.elidedText(row.heading(), Qt.TextElideMode.ElideRight, right - x)
        painter.drawText(QPointF(x, y + fm_bold.ascent()), heading)
        y += fm_bold.height() + 3

        lines = PICTURE_LINES if row.media_id is not None else self.snippet_lines
        draw_marked_text(painter, body, row.plain, row.ranges, x, y, right - x, lines)
        painter.restore()


def mark_format() -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setBackground(QBrush(MARK_BG))
    fmt.setFontWeight(QFont.Weight.Bold)
    return fmt


def draw_marked_text(
    painter: QPainter,
    font: QFont,
    text: str,
    ranges: Ranges,
    x: float,
    y: float,
    width: float,
    max_lines: int,
) -> None:
    """Wrap plain text into at most max_lines lines, marking ranges; an ellipsis shows that
    more text follows. The text is laid out as characters, never parsed as markup."""
    if width <= 10 or not text:
        return
    fm = QFontMetrics(font)
    ell = "…"
    ell_w = fm.horizontalAdvance(ell)
    layout = QTextLayout(text, font)
    fmt = mark_format()
    formats = []
    for start, length in ranges:
        fr = QTextLayout.FormatRange()
        fr.start = start
        fr.length = length
        fr.format = fmt
        formats.append(fr)
    layout.setFormats(formats)
    opt = QTextOption()
    opt.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(opt)
    layout.beginLayout()
    ly = 0.0
    lines = []
    while len(lines) < max_lines:
        line = layout.createLine()
        if not line.isValid():
            break
        last = len(lines) == max_lines - 1
        line.setLineWidth(width - (ell_w + 2 if last else 0))
        line.setPosition(QPointF(0, ly))
        ly += fm.lineSpacing()
        lines.append(line)
    layout.endLayout()
    painter.setPen(INK)
    layout.draw(painter, QPointF(x, y))
    if lines:
        tail = lines[-1]
        if tail.textStart() + tail.textLength() < len(text):
            painter.setFont(font)
            painter.setPen(MUTED)
            painter.drawText(
                QPointF(x + tail.naturalTextWidth() + 1, y + tail.y() + tail.ascent()), ell
            )
