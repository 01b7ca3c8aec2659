"""The Import page: pick or drop chat exports and note folders, watch the progress (Cancel stores
nothing from the file being read), read the per-file report, browse imported conversations.
All work runs on the task runner through `services.imports` (app.import_service)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.import_service import Conversation, ImportProgress, ImportResult, format_names
from app.services import Changes, Services
from app.tasks import TaskRunner
from core.errors import UserFacingError
from ui.memory_viewer import MemoryViewer, media_of, memory_of
from ui.page import Page, start_folder
from ui.result_list import absolute_time, source_label

FORMAT_LABELS = {
    "auto": "Detect automatically",
    "chatgpt": "ChatGPT export",
    "claude": "Claude export",
    "whatsapp": "WhatsApp chat",
    "telegram": "Telegram export",
    "jsonl": "JSONL (one message per line)",
    "markdown": "Markdown / text notes",
}
EXPORT_FILTER = "Chat exports (*.json *.zip *.txt *.jsonl *.md *.markdown);;All files (*)"


def dropped_paths(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    """The local files and folders being dragged, if that is what it is."""
    mime = event.mimeData()
    if not mime.hasUrls():
        return []
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]


class _Relay(QObject):
    """Carries progress from the worker thread to the page (queued onto the GUI thread)."""

    progressed = Signal(object)


class ImportPage(Page):
    title = "Import"
    # Fired after each import, with the result (tests and the tray notification use it).
    finished = Signal(object)

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__(services, tasks)
        self.setAcceptDrops(True)
        self._cancel = threading.Event()
        self._running = False
        self._relay = _Relay()
        self._relay.progressed.connect(self._show_progress)
        self.viewer: MemoryViewer | None = None
        self.result: ImportResult | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(10)
        heading = QLabel("Import chats and notes")
        heading.setObjectName("title")
        layout.addWidget(heading)
        intro = QLabel(
            "ChatGPT and Claude exports (conversations.json or the .zip), WhatsApp chats (.txt "
            "or .zip), Telegram Desktop (result.json), JSONL, or a folder of Markdown/text "
            "notes. Each file is imported whole or not at all, and nothing is imported twice."
        )
        intro.setObjectName("subtitle")
        intro.setWordWrap(True)
        layout.addWidget(intro)

        self.drop_zone = QLabel("Drop export files or folders here")
        self.drop_zone.setObjectName("dropZone")
        self.drop_zone.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_zone.setMinimumHeight(64)
        layout.addWidget(self.drop_zone)

        row = QHBoxLayout()
        self.files_button = QPushButton("Choose files…")
        self.files_button.setObjectName("primary")
        self.files_button.clicked.connect(self.choose_files)
        self.folder_button = QPushButton("Choose a folder…")
        self.folder_button.clicked.connect(self.choose_folder)
        self.format_combo = QComboBox()
        for name in format_names():
            self.format_combo.addItem(FORMAT_LABELS.get(name, name.capitalize()), name)
        self.format_combo.setToolTip(
            "The format is detected from each file; choose one to force it."
        )
        fmt_label = QLabel("Format:")
        fmt_label.setBuddy(self.format_combo)
        row.addWidget(self.files_button)
        row.addWidget(self.folder_button)
        row.addSpacing(16)
        row.addWidget(fmt_label)
        row.addWidget(self.format_combo)
        row.addStretch(1)
        layout.addLayout(row)

        self.progress_box = QWidget()
        prow = QHBoxLayout(self.progress_box)
        prow.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress_label = QLabel()
        self.progress_label.setObjectName("hint")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("danger")
        self.cancel_button.clicked.connect(self.cancel)
        pcol = QVBoxLayout()
        pcol.addWidget(self.progress_label)
        pcol.addWidget(self.progress)
        prow.addLayout(pcol, 1)
        prow.addWidget(self.cancel_button)
        self.progress_box.hide()
        layout.addWidget(self.progress_box)

        self.summary = QLabel()
        self.summary.setObjectName("sectionTitle")
        self.summary.setWordWrap(True)
        self.summary.hide()
        layout.addWidget(self.summary)
        self.report = QTreeWidget()
        self.report.setObjectName("importReport")
        self.report.setHeaderLabels(["File", "Imported", "Already there", "Rejected", "Time"])
        self.report.setRootIsDecorated(True)
        self.report.setWordWrap(True)
        self._stretch_first(self.report)
        self.report.hide()
        layout.addWidget(self.report, 1)

        conv_title = QLabel("Imported conversations")
        conv_title.setObjectName("sectionTitle")
        layout.addWidget(conv_title)
        self.conversations = QTreeWidget()
        self.conversations.setObjectName("conversations")
        self.conversations.setHeaderLabels(["Conversation", "File", "Messages", "From", "To"])
        self.conversations.setRootIsDecorated(False)
        self.conversations.setToolTip("Open a conversation at its first message")
        self._stretch_first(self.conversations)
        header = self.conversations.header()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(1, 230)
        self.conversations.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.conversations.itemActivated.connect(self._open_conversation)
        self.conversations.itemClicked.connect(self._open_conversation)
        layout.addWidget(self.conversations, 2)
        self.no_conversations = QLabel("Nothing imported yet.")
        self.no_conversations.setObjectName("hint")
        layout.addWidget(self.no_conversations)
        # Takes the spare height while neither list is shown, so the parts above stay together
        # instead of being spread over the page.
        self.filler = QWidget()
        self.filler.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        layout.addWidget(self.filler, 1)

    def _fill(self) -> None:
        self.filler.setVisible(self.report.isHidden() and self.conversations.isHidden())

    @staticmethod
    def _stretch_first(tree: QTreeWidget) -> None:
        header = tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for i in range(1, tree.columnCount()):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)

    # -- choosing ------------------------------------------------------------------------------
    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Import chat exports", str(start_folder()), EXPORT_FILTER
        )
        if paths:
            self.start([Path(p) for p in paths])

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Import a folder of notes or exports", str(start_folder())
        )
        if path:
            self.start([Path(path)])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_paths(event) and not self._running:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = dropped_paths(event)
        if paths and not self._running:
            event.acceptProposedAction()
            self.start(paths)
        else:
            event.ignore()

    @property
    def running(self) -> bool:
        return self._running

    # -- importing -----------------------------------------------------------------------------
    def start(self, paths: list[Path], fmt: str | None = None) -> bool:
        """Import on the task runner. False when one is already running or the store is locked."""
        imports = self.services.imports if self.services.unlocked else None
        if self._running or imports is None or not paths:
            return False
        fmt = fmt or str(self.format_combo.currentData())
        self._running = True
        self._cancel.clear()
        self._set_busy(True)
        self.progress.setRange(0, 0)  # busy until the first count arrives
        self.progress_label.setText(f"Reading {paths[0].name}…")
        self.summary.hide()
        self.report.clear()
        self.report.hide()
        relay, cancel = self._relay, self._cancel

        def work() -> ImportResult:
            return imports.import_paths(
                paths, fmt, progress=relay.progressed.emit, cancelled=cancel.is_set
            )

        self.tasks.run(work, self._done, self._failed, owner=self)
        return True

    def cancel(self) -> None:
        if self._running:
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText("Cancelling — nothing from the current file will be kept…")

    def _set_busy(self, busy: bool) -> None:
        self.progress_box.setVisible(busy)
        self.cancel_button.setEnabled(busy)
        for w in (self.files_button, self.folder_button, self.format_combo):
            w.setEnabled(not busy)
        self.drop_zone.setText(
            "An import is running…" if busy else "Drop export files or folders here"
        )

    @Slot(object)
    def _show_progress(self, p: ImportProgress) -> None:
        if not self._running or self._cancel.is_set():
            return
        self.progress.setRange(0, p.files_total)
        self.progress.setValue(p.files_done)
        self.progress_label.setText(
            f"{p.file} — file {p.file_number} of {p.files_total} · "
            f"{p.messages_total:,} messages so far · {p.files_done} files done"
        )

    def _done(self, result: object) -> None:
        assert isinstance(result, ImportResult)
        self._running = False
        self._set_busy(False)
        self.result = result
        self._show_report(result)
        self.refresh()
        self.finished.emit(result)

    def _failed(self, err: BaseException) -> None:
        self._running = False
        self._set_busy(False)
        self.finished.emit(err)
        if isinstance(err, UserFacingError):
            self.summary.setText(f"Nothing was imported. {err}")
            self.summary.show()
            return
        self.summary.setText("The import stopped because of a problem inside Mnemo.")
        self.summary.show()  # the runner sends the bug to the log and the crash dialog

    def _show_report(self, result: ImportResult) -> None:
        t = result.totals()
        parts = [f"{t['imported']:,} messages imported"]
        if t["duplicates"]:
            parts.append(f"{t['duplicates']:,} were already there")
        if t["rejected"]:
            parts.append(f"{t['rejected']:,} could not be read")
        head = ", ".join(parts) + f" — {t['files']} file{'s' if t['files'] != 1 else ''}"
        if t["failed"]:
            head += f", {t['failed']} not imported"
        if result.cancelled:
            head = "Cancelled. " + head + ". Nothing from the cancelled file was kept."
        self.summary.setText(head + ".")
        self.summary.show()
        self.report.clear()
        for f in result.files:
            if f.cancelled:
                item = QTreeWidgetItem([f"{f.file} — cancelled, nothing kept", "", "", "", ""])
            elif f.error is not None:
                item = QTreeWidgetItem([f"{f.file} — not imported", "", "", "", ""])
                why = QTreeWidgetItem([f.error])
                why.setToolTip(0, f.error)
                item.addChild(why)
                item.setForeground(0, Qt.GlobalColor.darkRed)
            else:
                kind = FORMAT_LABELS.get(f.format or "", f.format or "")
                item = QTreeWidgetItem(
                    [
                        f"{f.file} ({kind})",
                        f"{f.imported:,}",
                        f"{f.duplicates:,}",
                        f"{f.rejected:,}",
                        f"{f.seconds:.1f} s",
                    ]
                )
                for r in f.rejections[:200]:
                    child = QTreeWidgetItem([f"Rejected {r['where']}: {r['reason']}"])
                    child.setToolTip(0, child.text(0))
                    item.addChild(child)
                if f.rejected > len(f.rejections[:200]):
                    item.addChild(QTreeWidgetItem([f"… and {f.rejected - 200:,} more rejected"]))
                for reason, n in sorted(f.skipped.items()):
                    item.addChild(QTreeWidgetItem([f"Skipped {n:,} × {reason}"]))
            for col in range(1, 5):
                item.setTextAlignment(col, Qt.AlignmentFlag.AlignRight)
            self.report.addTopLevelItem(item)
            item.setExpanded(f.error is not None or f.rejected > 0)
        self.report.show()
        self._fill()

    # -- browsing ------------------------------------------------------------------------------
    def refresh(self, changes: Changes | None = None) -> None:
        imports = self.services.imports if self.services.unlocked else None
        if imports is None or (changes is not None and self._running):
            return
        self.tasks.run(
            imports.conversations, self._show_conversations, lambda err: None, owner=self
        )

    def _show_conversations(self, convs: object) -> None:
        assert isinstance(convs, list)
        self.conversations.clear()
        for c in convs:
            assert isinstance(c, Conversation)
            item = QTreeWidgetItem(
                [
                    c.conversation or "(no conversation)",
                    c.file or "",
                    f"{c.messages:,}",
                    absolute_time(c.first),
                    absolute_time(c.last),
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, c.first_id)
            item.setToolTip(0, c.conversation or "")
            item.setToolTip(1, f"{c.file or ''} · {source_label(c.kind)}")
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight)
            self.conversations.addTopLevelItem(item)
        self.conversations.setVisible(bool(convs))
        self.no_conversations.setVisible(not convs)
        self._fill()

    def _open_conversation(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        mid = item.data(0, Qt.ItemDataRole.UserRole)
        if isinstance(mid, int):
            self.open_memory(mid)

    def open_memory(self, memory_id: int) -> MemoryViewer:
        if self.viewer is not None:
            self.viewer.close()
        viewer = MemoryViewer(
            memory_of(self.services),
            media_of(self.services),
            self.tasks,
            memory_id,
            None,
            self.window(),
        )
        viewer.setWindowFlag(Qt.WindowType.Dialog)
        viewer.destroyed.connect(lambda *_: setattr(self, "viewer", None))
        self.viewer = viewer
        viewer.show()
        return viewer


class DropToImport(QObject):
    """Lets files be dropped anywhere on the main window: they go to the Import page."""

    def __init__(self, window: QWidget, page: Callable[[], Any]) -> None:
        super().__init__(window)
        self._page = page
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.DragEnter:
            assert isinstance(event, QDragEnterEvent)
            page = self._page()
            if page is not None and dropped_paths(event) and not page.running:
                event.acceptProposedAction()
                return True
        elif event.type() == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            page = self._page()
            paths = dropped_paths(event)
            if page is not None and paths:
                event.acceptProposedAction()
                window = watched
                show = getattr(window, "show_page", None)
                if show is not None:
                    show(ImportPage.title)
                page.start(paths)
                return True
        return False


def accept_drops_on(window: Any) -> DropToImport:
    """Called once on the main window (ui.controller)."""
    return DropToImport(window, lambda: window.page(ImportPage.title))
