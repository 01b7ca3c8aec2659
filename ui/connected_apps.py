"""Settings → Connected apps: the local AI apps that asked to use Mnemo's memory. Allow one (its
token is shown once, with the config to paste), set what it may read and whether it may write,
cut it off at once, see what it read and wrote, erase it. All work runs on the task runner."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.clients_service import ClientsService, ClientView
from app.services import Services
from app.tasks import TaskRunner, user_message
from core import clients as cl
from core.errors import UserFacingError

STATUS_WORDS = {
    cl.PENDING: "Asked to connect — not allowed yet",
    cl.ALLOWED: "Allowed",
    cl.CUT_OFF: "Cut off — refused at its next call",
}
STATUS_MARK = {cl.PENDING: "?", cl.ALLOWED: "●", cl.CUT_OFF: "⊘"}


def launch_command() -> list[str]:
    """How an MCP client starts this Mnemo: the bundle's executable, or Python and main.py."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, str(Path(__file__).resolve().parent.parent / "main.py")]


def config_snippet(data_dir: str, name: str, token: str) -> str:
    """What to paste into an MCP client's configuration (Claude Desktop's format; most clients
    use the same command / args / env shape)."""
    command, *args = launch_command()
    server = {
        "command": command,
        "args": [*args, "--data-dir", data_dir, "mcp", "--client", name],
        "env": {"MNEMO_CLIENT_TOKEN": token},
    }
    return json.dumps({"mcpServers": {"mnemo": server}}, indent=2)


def _n(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _when(t: str | None) -> str:
    if not t:
        return "never"
    return datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone().strftime("%d %b %H:%M")


class ConnectedAppsPanel(QWidget):
    """The whole tab: the list of apps on the left, the chosen app on the right."""

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__()
        self.services = services
        self.tasks = tasks
        self.views: dict[str, ClientView] = {}
        self.current: str | None = None
        self._loading = False

        outer = QVBoxLayout(self)
        intro = QLabel(
            "Local AI apps (assistants, editors, agents) can search your memory and add notes "
            "through Mnemo's MCP server — only the apps you allow, only what you let them see. "
            "An app appears here after it first runs “mnemo mcp --client NAME”. Nothing "
            "listens on the network."
        )
        intro.setWordWrap(True)
        intro.setObjectName("hint")
        outer.addWidget(intro)

        row = QHBoxLayout()
        outer.addLayout(row, 1)
        left = QVBoxLayout()
        self.list = QListWidget()
        self.list.setAccessibleName("Connected apps")
        self.list.setMinimumWidth(200)
        self.list.currentItemChanged.connect(self._chosen)
        left.addWidget(self.list, 1)
        add_row = QHBoxLayout()
        self.new_name = QLineEdit()
        self.new_name.setPlaceholderText("app name, e.g. claude-desktop")
        self.new_name.setAccessibleName("New app name")
        add_row.addWidget(self.new_name, 1)
        add = QPushButton("Add")
        add.clicked.connect(self._add)
        add_row.addWidget(add)
        left.addLayout(add_row)
        row.addLayout(left)

        self.detail = QWidget()
        d = QVBoxLayout(self.detail)
        d.setContentsMargins(8, 0, 0, 0)
        self.heading = QLabel()
        self.heading.setObjectName("title")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        d.addWidget(self.heading)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        d.addWidget(self.status)
        self.trust_line = QLabel()
        self.trust_line.setTextFormat(Qt.TextFormat.PlainText)
        self.trust_line.setWordWrap(True)
        self.trust_line.setObjectName("hint")
        d.addWidget(self.trust_line)

        buttons = QHBoxLayout()
        self.allow_button = QPushButton("Allow")
        self.allow_button.clicked.connect(self._allow)
        self.cut_button = QPushButton("Cut off now")
        self.cut_button.setObjectName("danger")
        self.cut_button.clicked.connect(self._cut_off)
        self.restore_button = QPushButton("Allow again")
        self.restore_button.clicked.connect(self._restore)
        self.token_button = QPushButton("New token")
        self.token_button.clicked.connect(self._new_token)
        self.erase_button = QPushButton("Erase app and its notes…")
        self.erase_button.clicked.connect(self._erase)
        for b in (
            self.allow_button,
            self.cut_button,
            self.restore_button,
            self.token_button,
            self.erase_button,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        d.addLayout(buttons)

        self.token_box = QPlainTextEdit()
        self.token_box.setReadOnly(True)
        self.token_box.setAccessibleName("Connection settings for the app")
        self.token_box.setMaximumHeight(150)
        self.token_box.hide()
        d.addWidget(self.token_box)

        scope = QGroupBox("What this app may do")
        s = QVBoxLayout(scope)
        self.read_boxes: dict[str, QCheckBox] = {}
        reads = QHBoxLayout()
        reads.addWidget(QLabel("Read:"))
        for cat in cl.CATEGORIES:
            box = QCheckBox(cl.CATEGORY_LABELS[cat])
            box.toggled.connect(self._scope_changed)
            self.read_boxes[cat] = box
            reads.addWidget(box)
        reads.addStretch(1)
        s.addLayout(reads)
        self.write_box = QCheckBox("Write notes (they go through trust review)")
        self.write_box.toggled.connect(self._scope_changed)
        s.addWidget(self.write_box)
        self.shots_box = QCheckBox("See screenshots")
        self.shots_box.toggled.connect(self._scope_changed)
        s.addWidget(self.shots_box)
        apps = QHBoxLayout()
        apps.addWidget(QLabel("Off-limits apps:"))
        self.apps_edit = QLineEdit()
        self.apps_edit.setPlaceholderText("e.g. thunderbird, signal (comma-separated)")
        self.apps_edit.setAccessibleName("Off-limits apps")
        self.apps_edit.editingFinished.connect(self._scope_changed)
        apps.addWidget(self.apps_edit, 1)
        s.addLayout(apps)
        times = QHBoxLayout()
        times.addWidget(QLabel("Off-limits times:"))
        self.ranges_edit = QLineEdit()
        self.ranges_edit.setPlaceholderText(
            "e.g. 2026-03-01/2026-03-08, 2026-03-10T09:00/2026-03-10T17:00 (START/END, local time)"
        )
        self.ranges_edit.setAccessibleName("Off-limits times")
        self.ranges_edit.setToolTip(
            "Nothing from these stretches of time reaches the app. A bare date is the whole day."
        )
        self.ranges_edit.editingFinished.connect(self._scope_changed)
        times.addWidget(self.ranges_edit, 1)
        s.addLayout(times)
        self.scope_error = QLabel()
        self.scope_error.setObjectName("error")
        self.scope_error.hide()
        s.addWidget(self.scope_error)
        d.addWidget(scope)

        log_box = QGroupBox("What did this app read?")
        lv = QVBoxLayout(log_box)
        self.reads = QTreeWidget()
        self.reads.setHeaderLabels(["When", "Tool", "Memory", "From"])
        self.reads.setRootIsDecorated(False)
        self.reads.setAccessibleName("Read log")
        self.reads.setMinimumHeight(110)
        lv.addWidget(self.reads)
        d.addWidget(log_box, 3)

        wrote_box = QGroupBox("What did this app write?")
        wv = QVBoxLayout(wrote_box)
        self.written = QTreeWidget()
        self.written.setHeaderLabels(["When", "Memory", "Status"])
        self.written.setRootIsDecorated(False)
        self.written.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.written.setAccessibleName("Notes written by this app")
        self.written.setMinimumHeight(90)
        wv.addWidget(self.written)
        wrow = QHBoxLayout()
        hint = QLabel("Your word is what moves its trust:")
        hint.setObjectName("hint")
        wrow.addWidget(hint)
        self.confirm_button = QPushButton("Looks right")
        self.confirm_button.setToolTip("Raise this app's trust: the note is correct")
        self.confirm_button.clicked.connect(self._confirm)
        wrow.addWidget(self.confirm_button)
        self.reject_button = QPushButton("Reject and erase")
        self.reject_button.setToolTip("Erase the note and lower this app's trust")
        self.reject_button.clicked.connect(self._reject)
        wrow.addWidget(self.reject_button)
        wrow.addStretch(1)
        wv.addLayout(wrow)
        d.addWidget(wrote_box, 2)
        row.addWidget(self.detail, 1)
        self.detail.setEnabled(False)
        self.empty = QLabel("No app has asked to connect yet.")
        self.empty.setObjectName("hint")
        outer.addWidget(self.empty)

        # No change subscription: services announce from worker threads, and what changes here
        # mostly happens in other processes (the MCP servers) that announce nothing. The panel
        # reloads when shown and after each of its own actions.
        self.refresh()

    # -- loading ------------------------------------------------------------------------------
    def _gate(self) -> ClientsService:
        self.services.require_unlocked()
        return ClientsService(self.services)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        if not self.services.unlocked:
            return
        self.tasks.run(lambda: self._gate().views(), self._show_list, self._failed, owner=self)

    def _show_list(self, views: Any) -> None:
        self.views = {v.name: v for v in views}
        self.list.blockSignals(True)
        self.list.clear()
        for v in views:
            trust = "" if v.trust is None else f"  trust {v.trust:.2f}"
            item = QListWidgetItem(f"{STATUS_MARK[v.status]} {v.name}{trust}")
            item.setData(Qt.ItemDataRole.UserRole, v.name)
            self.list.addItem(item)
            if v.name == self.current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.empty.setVisible(not views)
        if self.current not in self.views:
            self.current = None
            if views:
                self.list.setCurrentRow(0)
        self._show_detail()

    def _chosen(self, item: QListWidgetItem | None, _previous: Any = None) -> None:
        self.current = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        self.token_box.hide()
        self._show_detail()

    def _show_detail(self) -> None:
        v = self.views.get(self.current or "")
        self.detail.setEnabled(v is not None)
        if v is None:
            self.heading.setText("")
            self.status.setText("")
            self.trust_line.setText("")
            self.reads.clear()
            self.written.clear()
            return
        self._loading = True
        self.heading.setText(v.name)
        declared = f" It calls itself “{v.declared_name}”." if v.declared_name else ""
        self.status.setText(
            f"{STATUS_WORDS[v.status]} · {_n(v.writes, 'note')} written, "
            f"{v.waiting} waiting for review · {_n(v.reads, 'memory', 'memories')} read · "
            f"last call {_when(v.to_json()['last_seen'])}." + declared
        )
        self.trust_line.setText(
            "Every call it makes is refused, reads and writes alike, until you allow it again."
            if v.status == cl.CUT_OFF
            else cl.trust_in_words(v.trust)
        )
        self.trust_line.setToolTip(
            ""
            if v.trust is None
            else f"Evidence for: {v.alpha:.1f}, against: {v.beta:.1f} (Beta distribution)"
        )
        self.allow_button.setVisible(v.status == cl.PENDING)
        self.cut_button.setVisible(v.status == cl.ALLOWED)
        self.restore_button.setVisible(v.status == cl.CUT_OFF)
        self.token_button.setVisible(v.status != cl.PENDING)
        for cat, box in self.read_boxes.items():
            box.setChecked(cat in v.scope.readable)
        self.write_box.setChecked(v.scope.may_write)
        self.shots_box.setChecked(v.scope.screenshots)
        self.apps_edit.setText(", ".join(v.scope.excluded_apps))
        self.ranges_edit.setText(cl.format_ranges(v.scope.excluded_ranges))
        self._loading = False
        name = v.name
        self.tasks.run(
            lambda: self._gate().reads(name, 200), self._show_reads, self._failed, owner=self
        )
        self.tasks.run(
            lambda: self._gate().written(name, 200), self._show_written, self._failed, owner=self
        )

    def _show_reads(self, rows: Any) -> None:
        self.reads.clear()
        for r in rows:
            where = r["from"] if r["exists"] else "(erased since)"
            item = QTreeWidgetItem([_when(r["time"]), r["tool"], f"#{r['memory_id']}", where])
            self.reads.addTopLevelItem(item)
        for col in range(3):
            self.reads.resizeColumnToContents(col)

    def _show_written(self, rows: Any) -> None:
        self.written.clear()
        words = {"ok": "stored", "quarantined": "waiting for your review"}
        for r in rows:
            item = QTreeWidgetItem(
                [_when(r["time"]), f"#{r['id']}", words.get(r["status"], r["status"])]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, r["id"])
            item.setData(1, Qt.ItemDataRole.UserRole, r["status"])
            self.written.addTopLevelItem(item)
        for col in range(2):
            self.written.resizeColumnToContents(col)

    def _chosen_notes(self) -> tuple[list[int], list[int]]:
        """(stored, waiting) ids of the selected notes."""
        ok: list[int] = []
        waiting: list[int] = []
        for item in self.written.selectedItems():
            mid = int(item.data(0, Qt.ItemDataRole.UserRole))
            (waiting if item.data(1, Qt.ItemDataRole.UserRole) == "quarantined" else ok).append(mid)
        return ok, waiting

    def _confirm(self) -> None:
        name = self.current
        ok, waiting = self._chosen_notes()
        if not name or not (ok or waiting):
            return
        trust = self.services.trust

        def run() -> None:
            gate = self._gate()
            for mid in ok:
                gate.confirm(name, mid)
            if waiting and trust is not None:
                trust.approve(waiting)  # releases them and raises the app's trust

        self._run(run)

    def _reject(self) -> None:
        ok, waiting = self._chosen_notes()
        trust = self.services.trust
        if trust is not None and (ok or waiting):
            self._run(lambda: trust.reject(ok + waiting))

    # -- actions ------------------------------------------------------------------------------
    def _run(self, fn: Any, done: Any = None) -> None:
        def finished(result: Any) -> None:
            if done is not None:
                done(result)
            self.refresh()

        self.tasks.run(fn, finished, self._failed, owner=self)  # dropped once the page is gone

    def _failed(self, err: BaseException) -> None:
        text = user_message(err, "That did not work (see the log).")
        self.scope_error.setText(text)
        self.scope_error.show()

    def _add(self) -> None:
        name = self.new_name.text().strip()
        if not name:
            return
        self.new_name.clear()
        self.current = name.lower()
        self._run(lambda: self._gate().allow(name, cl.Scope()), self._show_token)

    def _allow(self) -> None:
        name = self.current
        if name:
            try:
                scope = self._scope_from_boxes()
            except UserFacingError as e:
                self._failed(e)
                return
            self._run(lambda: self._gate().allow(name, scope), self._show_token)

    def _new_token(self) -> None:
        v = self.views.get(self.current or "")
        if v is None:
            return

        def run() -> Any:
            gate = self._gate()
            client, token = gate.allow(v.name, v.scope)
            if v.status == cl.CUT_OFF:
                gate.cut_off(v.name)  # a new token does not lift a cut-off
            return client, token

        self._run(run, self._show_token)

    def _show_token(self, result: Any) -> None:
        client, token = result
        self.current = client.name
        self.token_box.setPlainText(
            "Paste this into the app's MCP settings (the token is shown only now):\n"
            + config_snippet(str(self.services.data_dir), client.name, token)
        )
        self.token_box.show()

    def _cut_off(self) -> None:
        name = self.current
        if name:
            self._run(lambda: self._gate().cut_off(name))

    def _restore(self) -> None:
        name = self.current
        if name:
            self._run(lambda: self._gate().restore(name))

    def _erase(self) -> None:
        name = self.current
        if not name:
            return
        answer = QMessageBox.question(
            self,
            "Erase app",
            f"Erase {name}, its read log and every note it wrote? This cannot be undone.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._run(lambda: self._gate().erase(name))

    def _scope_from_boxes(self) -> cl.Scope:
        return cl.Scope(
            readable=frozenset(c for c, b in self.read_boxes.items() if b.isChecked()),
            excluded_apps=tuple(
                a.strip().lower() for a in self.apps_edit.text().split(",") if a.strip()
            ),
            excluded_ranges=cl.parse_ranges(self.ranges_edit.text()),
            may_write=self.write_box.isChecked(),
            screenshots=self.shots_box.isChecked(),
        )

    def _scope_changed(self, *_: Any) -> None:
        if self._loading or self.current not in self.views:
            return
        if self.views[self.current].status == cl.PENDING:
            return  # saved with Allow
        self.scope_error.hide()
        try:
            scope = self._scope_from_boxes()
        except UserFacingError as e:
            self.scope_error.setText(str(e))
            self.scope_error.show()
            return
        name = self.current
        if scope == self.views[name].scope:
            return
        # What is shown is what will be stored: a second change before the refresh arrives is
        # compared with this one, not with the scope as it was loaded.
        self.views[name].scope = scope
        self._run(lambda: self._gate().set_scope(name, scope))
