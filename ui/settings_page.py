"""The Settings page, built from core.settings.SETTINGS: one tab per section, one editor per
declared setting (label and help from the declaration). Values load and save on the task runner;
a refused value shows the BadInput message under its field. Features add their own widgets to a
section through SECTION_EXTRAS (section -> factories), and take a key over entirely by listing
it in CUSTOM_KEYS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.services import Changes, Services
from app.tasks import TaskRunner, user_message
from core.settings import BY_KEY, SETTINGS, Setting
from ui import (
    capture_settings,
    connected_apps,
    erase_ui,
    model_settings,
    security_settings,
    trust_review,
)
from ui.page import Page, start_folder

SECTION_TITLES = {
    "general": "General",
    "capture": "Capture",
    "privacy": "Privacy",
    "storage": "Storage && erasure",  # && shows one & (a lone & marks a shortcut)
    "models": "Models",
    "trust": "Trust",
    "security": "Security",
    "connected": "Connected apps",
}
# section -> widget factories (services, tasks) added below the declared settings.
Factory = Callable[[Services, TaskRunner], QWidget]
SECTION_EXTRAS: dict[str, list[Factory]] = {
    "privacy": [capture_settings.ExclusionEditor],
    "storage": [erase_ui.StoragePanel],
    "models": [model_settings.ModelsBox],
}
# keys whose editor a feature provides itself (in SECTION_EXTRAS); skipped by the generic form.
CUSTOM_KEYS: set[str] = {
    "device.use_keyring",
    "device.window_size",  # the main window remembers its own size
    *capture_settings.KEYS,
    *model_settings.KEYS,
}
SECTION_EXTRAS["trust"] = [trust_review.TrustSettingsBox]  # the way to the review page
SECTION_EXTRAS["connected"] = [connected_apps.ConnectedAppsPanel]
# Tabs with no declared settings of their own, after the declared sections.
EXTRA_SECTIONS = ["connected"]


@dataclass(frozen=True)
class Group:
    """Declared settings shown together in a box, with feature widgets before/after them."""

    title: str
    keys: tuple[str, ...]
    before: tuple[Factory, ...] = ()
    after: tuple[Factory, ...] = ()


# Optional arrangement of a section: groups and free widgets, in order. Declared settings not
# placed in a group come first; SECTION_EXTRAS come last.
SECTION_LAYOUT: dict[str, list[Group | Factory]] = {
    "security": [
        security_settings.PassphraseBox,
        Group(
            "Locking",
            ("security.autolock_minutes", "security.lock_with_screen"),
            before=(security_settings.LockNowRow,),
            after=(security_settings.ScreenLockNote,),
        ),
        security_settings.KeyringBox,
        Group(
            "Data folder and backups",
            ("backup.folder", "backup.every_hours", "backup.keep"),
            before=(security_settings.DataFolderRow,),
        ),
    ],
}


class SettingEditor(QWidget):
    """One declared setting: its editor, its help, and an error line."""

    def __init__(self, setting: Setting, save: Callable[[SettingEditor, Any], None]) -> None:
        super().__init__()
        self.setting = setting
        self._save = save
        self._loading = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.editor = self._make_editor()
        self.editor.setAccessibleName(setting.label)
        self.editor.setObjectName(f"setting:{setting.key}")
        layout.addWidget(self._wrap(self.editor))
        if setting.help:
            help_ = QLabel(setting.help)
            help_.setObjectName("hint")
            help_.setWordWrap(True)
            layout.addWidget(help_)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)

    # -- building -----------------------------------------------------------------------------
    def _make_editor(self) -> QWidget:
        s = self.setting
        if s.type is bool:
            box = QCheckBox(s.label)
            box.toggled.connect(lambda v: self._changed(bool(v)))
            return box
        if s.type is int:
            spin = QSpinBox()
            spin.setRange(
                int(s.minimum) if s.minimum is not None else -(2**31),
                int(s.maximum) if s.maximum is not None else 2**31 - 1,
            )
            spin.editingFinished.connect(lambda: self._changed(spin.value()))
            _compact(spin)
            return spin
        if s.type is float:
            dspin = QDoubleSpinBox()
            dspin.setDecimals(2)
            dspin.setRange(
                s.minimum if s.minimum is not None else -1e9,
                s.maximum if s.maximum is not None else 1e9,
            )
            dspin.editingFinished.connect(lambda: self._changed(dspin.value()))
            _compact(dspin)
            return dspin
        if s.type is str and s.choices:
            combo = QComboBox()
            combo.addItems(list(s.choices))
            combo.currentTextChanged.connect(self._changed)
            return combo
        if s.type is str:
            line = QLineEdit()
            line.editingFinished.connect(lambda: self._changed(line.text()))
            return line
        if s.type is list:
            return _ListEditor(self._changed)
        raise TypeError(f"no editor for {s.type}")

    def _wrap(self, editor: QWidget) -> QWidget:
        key = self.setting.key
        if not isinstance(editor, QLineEdit) or not key.endswith(("path", "folder")):
            return editor
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(editor, 1)
        pick = QPushButton("Choose…")
        pick.setAccessibleName(f"Choose {self.setting.label}")
        pick.clicked.connect(self._pick)
        h.addWidget(pick)
        return row

    def _pick(self) -> None:
        assert isinstance(self.editor, QLineEdit)
        if self.setting.key.endswith("folder"):
            chosen = QFileDialog.getExistingDirectory(
                self, self.setting.label, self.editor.text() or str(start_folder())
            )
        else:
            chosen, _ = QFileDialog.getOpenFileName(
                self, self.setting.label, self.editor.text() or str(start_folder())
            )
        if chosen:
            self.editor.setText(chosen)
            self._changed(chosen)

    # -- values -------------------------------------------------------------------------------
    def set_value(self, value: Any) -> None:
        self._loading = True
        try:
            e = self.editor
            if isinstance(e, QCheckBox):
                e.setChecked(bool(value))
            elif isinstance(e, QSpinBox):
                e.setValue(int(value))
            elif isinstance(e, QDoubleSpinBox):
                e.setValue(float(value))
            elif isinstance(e, QComboBox):
                e.setCurrentText(str(value))
            elif isinstance(e, QLineEdit):
                e.setText(str(value))
            elif isinstance(e, _ListEditor):
                e.set_items(list(value))
            self.value = value
        finally:
            self._loading = False

    def _changed(self, value: Any) -> None:
        if self._loading or value == getattr(self, "value", None):
            return
        self._save(self, value)

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))


def _compact(spin: QAbstractSpinBox) -> None:
    # Numbers need little room; arrow keys and the wheel change them (the style sheet's
    # rounded boxes leave no room for arrow buttons).
    spin.setStyleSheet(
        "QAbstractSpinBox::up-button, QAbstractSpinBox::down-button { width: 0px; border: none; }"
    )
    spin.setToolTip("Type a number, or use the arrow keys or the mouse wheel.")
    spin.setMinimumWidth(110)
    spin.setMaximumWidth(160)


class _ListEditor(QWidget):
    """An editable list of text: add, edit in place, remove."""

    def __init__(self, changed: Callable[[list[str]], None]) -> None:
        super().__init__()
        self._changed = changed
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget()
        self.list.setMaximumHeight(110)
        self.list.itemChanged.connect(lambda _: self._emit())
        layout.addWidget(self.list)
        row = QHBoxLayout()
        self.entry = QLineEdit()
        self.entry.setPlaceholderText("Add…")
        self.entry.returnPressed.connect(self._add)
        add = QPushButton("Add")
        add.clicked.connect(self._add)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove)
        row.addWidget(self.entry, 1)
        row.addWidget(add)
        row.addWidget(remove)
        layout.addLayout(row)
        self._quiet = False

    def items(self) -> list[str]:
        return [self.list.item(i).text().strip() for i in range(self.list.count())]

    def set_items(self, items: list[str]) -> None:
        self._quiet = True
        self.list.clear()
        for text in items:
            item = QListWidgetItem(text)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            self.list.addItem(item)
        self._quiet = False

    def _add(self) -> None:
        text = self.entry.text().strip()
        if text:
            self.set_items([*self.items(), text])
            self.entry.clear()
            self._emit()

    def _remove(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self._emit()

    def _emit(self) -> None:
        if not self._quiet:
            self._changed([t for t in self.items() if t])


class SettingsPage(Page):
    title = "Settings"

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__(services, tasks)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        heading = QLabel("Settings")
        heading.setObjectName("title")
        layout.addWidget(heading)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs, 1)
        self.editors: dict[str, SettingEditor] = {}
        self.sections: dict[str, QWidget] = {}
        order: list[str] = []
        for s in SETTINGS:
            if s.section not in order:
                order.append(s.section)
        for section in order + [x for x in EXTRA_SECTIONS if x not in order]:
            self.tabs.addTab(self._section(section), SECTION_TITLES.get(section, section.title()))

    def _section(self, section: str) -> QWidget:
        body = QWidget()
        outer = QVBoxLayout(body)
        outer.setSpacing(14)
        layout = SECTION_LAYOUT.get(section, [])
        grouped = {k for item in layout if isinstance(item, Group) for k in item.keys}
        loose = [
            s
            for s in SETTINGS
            if s.section == section and s.key not in CUSTOM_KEYS and s.key not in grouped
        ]
        if loose:
            outer.addWidget(self._form(loose))
        for item in layout:
            if isinstance(item, Group):
                box = QGroupBox(item.title)
                v = QVBoxLayout(box)
                for factory in item.before:
                    v.addWidget(factory(self.services, self.tasks))
                v.addWidget(self._form([BY_KEY[k] for k in item.keys]))
                for factory in item.after:
                    v.addWidget(factory(self.services, self.tasks))
                outer.addWidget(box)
            else:
                outer.addWidget(item(self.services, self.tasks))
        for factory in SECTION_EXTRAS.get(section, []):
            outer.addWidget(factory(self.services, self.tasks))
        outer.addStretch(1)
        self.sections[section] = body
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes from the tabs to the fields
        return scroll

    def _form(self, settings: list[Setting]) -> QWidget:
        holder = QWidget()
        form = QFormLayout(holder)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setVerticalSpacing(12)
        for s in settings:
            editor = SettingEditor(s, self._save)
            self.editors[s.key] = editor
            if s.type is bool:
                form.addRow(editor)
            else:
                form.addRow(s.label, editor)
        return holder

    def show_section(self, section: str) -> None:
        titles = [self.tabs.tabText(i) for i in range(self.tabs.count())]
        title = SECTION_TITLES.get(section, section.title())
        if title in titles:
            self.tabs.setCurrentIndex(titles.index(title))

    def refresh(self, changes: Changes | None = None) -> None:
        if not self.services.unlocked:
            return
        if changes is None or changes.memories_added or changes.memories_removed:
            # Feature panels that show what is stored (Storage & erasure) follow erases and
            # new memories; the declared settings do not depend on them.
            for panel in self.findChildren(QWidget):
                follow = getattr(panel, "memories_changed", None)
                if callable(follow):
                    follow()
        if changes is not None and not changes.settings:
            return

        def show(values: object) -> None:
            assert isinstance(values, dict)
            for key, editor in self.editors.items():
                if key in values:
                    editor.set_value(values[key])

        self.tasks.run(self.services.settings.all, show, lambda e: None, owner=self)

    def _save(self, editor: SettingEditor, value: Any) -> None:
        key = editor.setting.key
        editor.show_error("")

        def save() -> Any:
            stored = self.services.settings.set(key, value)
            self.services.announce(Changes(settings=[key]))
            return stored

        def done(stored: object) -> None:
            editor.set_value(stored)

        def failed(err: BaseException) -> None:
            editor.show_error(user_message(err, "Could not save this setting."))

        self.tasks.run(save, done, failed, owner=self)
