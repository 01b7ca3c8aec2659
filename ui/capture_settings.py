"""Settings → Privacy: the exclusion editor. Apps picked from the running apps (or typed),
window title patterns and web domains; checked with the capture policy before saving, and a
refused entry shows why."""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services import Changes, Services
from app.tasks import TaskRunner, user_message

KEYS = ("privacy.excluded_apps", "privacy.excluded_titles", "privacy.excluded_domains")


def running_apps() -> list[str]:
    """App names of the visible windows (on the task runner: it talks to the display)."""
    from app.window_context import window_context_for_platform

    ctx = window_context_for_platform()
    try:
        return sorted({w.app for w in ctx.windows() if w.app})
    finally:
        close = getattr(ctx, "close", None)
        if close is not None:
            close()


class AppPicker(QComboBox):
    """An editable combo of running apps that asks for the list again each time it opens:
    an app started after the page was built (a new xterm) is there too."""

    opening = Signal()

    def showPopup(self) -> None:
        self.opening.emit()
        super().showPopup()

    def set_apps(self, apps: list[str]) -> None:
        text = self.currentText()
        self.blockSignals(True)
        self.clear()
        self.addItems(apps)
        self.setEditText(text)
        self.blockSignals(False)


class _EntryList(QWidget):
    def __init__(self, placeholder: str, changed: Callable[[], None], pick: bool = False) -> None:
        super().__init__()
        self._changed = changed
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget()
        self.list.setMaximumHeight(96)
        v.addWidget(self.list)
        row = QHBoxLayout()
        if pick:
            combo = AppPicker()
            combo.setEditable(True)
            line = combo.lineEdit()
            assert line is not None  # an editable combo box has one
            line.setPlaceholderText(placeholder)
            line.returnPressed.connect(self._add)
            self.entry: QLineEdit | QComboBox = combo
        else:
            self.entry = QLineEdit()
            self.entry.setPlaceholderText(placeholder)
            self.entry.returnPressed.connect(self._add)
        add = QPushButton("Add")
        add.clicked.connect(self._add)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove)
        row.addWidget(self.entry, 1)
        row.addWidget(add)
        row.addWidget(remove)
        v.addLayout(row)

    def _text(self) -> str:
        e = self.entry
        return (e.currentText() if isinstance(e, QComboBox) else e.text()).strip()

    def items(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def set_items(self, items: list[str]) -> None:
        self.list.clear()
        self.list.addItems(items)

    def _add(self) -> None:
        text = self._text()
        if text and text not in self.items():
            self.list.addItem(text)
            if isinstance(self.entry, QComboBox):
                self.entry.setEditText("")
            else:
                self.entry.clear()
            self._changed()

    def _remove(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self._changed()


class ExclusionEditor(QGroupBox):
    """Never capture these (on top of password managers, private windows and lock screens)."""

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__("Never capture")
        self.services = services
        self.tasks = tasks
        v = QVBoxLayout(self)
        note = QLabel(
            "Password managers, private/incognito browser windows and lock screens are never "
            "captured. Add your own below: an excluded window is blacked out before anything "
            "is read or stored."
        )
        note.setWordWrap(True)
        note.setObjectName("hint")
        v.addWidget(note)
        self.apps = _EntryList("App (pick a running app or type its name)", self._save, True)
        self.titles = _EntryList("Window title pattern, e.g. *Bank* or Payroll*", self._save)
        self.domains = _EntryList("Website, e.g. mybank.com", self._save)
        for label, w in (("Apps", self.apps), ("Window titles", self.titles),
                         ("Websites", self.domains)):  # fmt: skip
            v.addWidget(QLabel(label))
            v.addWidget(w)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setStyleSheet("color: #d93025;")
        self.error.setWordWrap(True)
        self.error.hide()
        v.addWidget(self.error)
        self._seq = 0
        self._save_lock = threading.Lock()
        assert isinstance(self.apps.entry, AppPicker)
        self.apps.entry.opening.connect(self.refresh_apps)
        self._load()

    def _load(self) -> None:
        if not self.services.unlocked:
            return

        def read() -> tuple[list[list[str]], list[str]]:
            values = [list(self.services.settings.get(k)) for k in KEYS]
            try:
                apps = running_apps()
            except Exception:
                apps = []  # no display: typing still works
            return values, apps

        def show(result: object) -> None:
            assert isinstance(result, tuple)
            values, apps = result
            for w, items in zip((self.apps, self.titles, self.domains), values):
                w.set_items(items)
            assert isinstance(self.apps.entry, AppPicker)
            self.apps.entry.set_apps(apps)
            self.apps.entry.setEditText("")

        self.tasks.run(read, show, lambda e: None)

    def refresh_apps(self) -> None:
        """The apps of every visible window now (on the task runner: it asks the display)."""

        def read() -> list[str]:
            try:
                return running_apps()
            except Exception:
                return []

        def show(apps: list[str]) -> None:
            if isinstance(self.apps.entry, AppPicker) and apps:
                self.apps.entry.set_apps(apps)

        self.tasks.run(read, show, lambda e: None)

    def _save(self) -> None:
        apps, titles, domains = self.apps.items(), self.titles.items(), self.domains.items()
        self.error.hide()
        self._seq += 1
        seq = self._seq

        def save() -> None:
            self.services.check_exclusions(apps, titles, domains)  # BadInput says what is wrong
            with self._save_lock:
                if seq != self._seq:
                    return  # a newer edit is being saved: an older one must not overwrite it
                self._write(apps, titles, domains)

        def failed(err: BaseException) -> None:
            self.error.setText(user_message(err, "Could not save the exclusions."))
            self.error.show()

        self.tasks.run(save, None, failed)

    def _write(self, apps: list[str], titles: list[str], domains: list[str]) -> None:
        for key, value in zip(KEYS, (apps, titles, domains)):
            self.services.settings.set(key, value)
        self.services.announce(Changes(settings=list(KEYS)))
