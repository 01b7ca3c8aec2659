"""The Security tab's own widgets: change the passphrase, lock now, how screen locking is
detected, unlock at login with the system keyring, the data folder, and backup / restore. Every
slow step (key derivation, writing a backup) runs on the task runner."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import backup_service as backups
from app import security
from app.autolock import ScreenLockProbe
from app.services import Services
from app.tasks import TaskRunner, user_message
from core.passphrase import MIN_LENGTH, estimate, strength_text
from ui.page import start_folder

KEYRING_TRADE_OFF = (
    "Mnemo then unlocks by itself when you log in: your system keyring (unlocked by your login "
    "password) keeps the passphrase. Convenient, but anyone who can use your logged-in session, "
    "or any program running as you, can then read your memories without knowing the "
    "passphrase. Off, Mnemo asks for it each time it starts."
)


def _hint(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


def _error() -> QLabel:
    label = QLabel()
    label.setObjectName("error")
    label.setWordWrap(True)
    label.hide()
    return label


class PassphraseBox(QGroupBox):
    """Old, new twice, a strength hint; the key is rewrapped atomically on a worker."""

    changed = Signal()

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__("Passphrase")
        self.services = services
        self.tasks = tasks
        form = QFormLayout(self)
        self.old = self._field("Current passphrase")
        self.new = self._field("New passphrase")
        self.again = self._field("New passphrase again")
        self.strength = QProgressBar()
        self.strength.setRange(0, 4)
        self.strength.setTextVisible(False)
        self.strength.setFixedHeight(6)
        self.strength.setMaximumWidth(460)
        self.hint = _hint(f"Use at least {MIN_LENGTH} characters; a few unrelated words work well.")
        self.status = _hint()
        self.error = _error()
        self.button = QPushButton("Change passphrase")
        self.button.setEnabled(False)
        form.addRow("Current", self.old)
        form.addRow("New", self.new)
        form.addRow("Again", self.again)
        form.addRow("", self.strength)
        form.addRow("", self.hint)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.button)
        form.addRow(self.error)
        form.addRow(row)
        for w in (self.old, self.new, self.again):
            w.textChanged.connect(self._update)
        self.again.returnPressed.connect(self._change)
        self.button.clicked.connect(self._change)

    def _field(self, name: str) -> QLineEdit:
        field = QLineEdit()
        field.setEchoMode(QLineEdit.EchoMode.Password)
        field.setAccessibleName(name)
        field.setMaximumWidth(460)
        return field

    def _update(self) -> None:
        s = estimate(self.new.text())
        self.strength.setValue(s.score)
        colour = ["#d93025", "#d93025", "#d98e04", "#1f9d55", "#1f9d55"][s.score]
        self.strength.setStyleSheet(f"QProgressBar::chunk {{ background: {colour}; }}")
        self.hint.setText(strength_text(self.new.text()))
        differ = bool(self.again.text()) and self.again.text() != self.new.text()
        self.error.setText("The two new passphrases differ." if differ else "")
        self.error.setVisible(differ)
        self.button.setEnabled(
            bool(self.old.text())
            and len(self.new.text()) >= MIN_LENGTH
            and self.new.text() == self.again.text()
        )
        self.status.setText("")

    def _change(self) -> None:
        if not self.button.isEnabled():
            return
        old, new = self.old.text(), self.new.text()
        self.button.setEnabled(False)
        self.status.setText("Changing… (this takes a second)")
        self.error.hide()

        def done(_: object) -> None:
            for w in (self.old, self.new, self.again):
                w.clear()
            self.status.setText("Passphrase changed. Use the new one from now on.")
            self.changed.emit()

        def failed(err: BaseException) -> None:
            self.status.setText("")
            msg = user_message(err, "Could not change it.")
            if "Wrong passphrase" in msg:
                msg = "The current passphrase is wrong. Nothing was changed."
            self.error.setText(msg)
            self.error.show()
            self._update_button()

        self.tasks.run(lambda: self.services.change_passphrase(old, new), done, failed, owner=self)

    def _update_button(self) -> None:
        self.button.setEnabled(
            bool(self.old.text())
            and len(self.new.text()) >= MIN_LENGTH
            and self.new.text() == self.again.text()
        )


class LockNowRow(QWidget):
    """Lock now (the same as Ctrl+L and the tray's Lock)."""

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(
            _hint("Locked, Mnemo closes the database, forgets its keys and pauses capture."), 1
        )
        self.lock_now = QPushButton("Lock now")
        self.lock_now.setToolTip("Ctrl+L")
        self.lock_now.clicked.connect(self._lock)
        row.addWidget(self.lock_now)

    def _lock(self) -> None:
        signal = getattr(self.window(), "lock_requested", None)
        if signal is not None:
            signal.emit()


class ScreenLockNote(QLabel):
    """How the screen lock is noticed on this system (or that it cannot be)."""

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__(ScreenLockProbe().describe())
        self.setObjectName("hint")
        self.setWordWrap(True)


class KeyringBox(QGroupBox):
    """device.use_keyring: ask for the passphrase to store it; delete it when turned off."""

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__("Unlock at login")
        self.services = services
        self.tasks = tasks
        layout = QVBoxLayout(self)
        self.box = QCheckBox("Unlock at login with the system keyring")
        self.box.setAccessibleName("Unlock at login with the system keyring")
        layout.addWidget(self.box)
        layout.addWidget(_hint(KEYRING_TRADE_OFF))
        self.status = _hint()
        layout.addWidget(self.status)
        self.error = _error()
        layout.addWidget(self.error)
        self._quiet = False
        self.box.setEnabled(False)  # until we know whether a keyring exists (asked on a worker)
        self.box.toggled.connect(self._toggled)

        def probe() -> tuple[bool, bool, str]:
            ok, why = security.keyring_available()
            return bool(services.settings.get("device.use_keyring")), ok, why

        tasks.run(probe, self._probed, lambda e: None)

    def _probed(self, result: object) -> None:
        assert isinstance(result, tuple)
        on, ok, why = result
        self._set(on)
        # Without a keyring it can still be turned off, never on.
        self.box.setEnabled(ok or on)
        if not ok:
            self.status.setText(why)

    def _toggled(self, on: bool) -> None:
        if self._quiet:
            return
        self.error.hide()
        passphrase = ""
        if on:
            passphrase, ok = QInputDialog.getText(
                self,
                "Unlock at login",
                "Your passphrase, to keep in the system keyring:",
                QLineEdit.EchoMode.Password,
            )
            if not ok or not passphrase:
                self._set(False)
                return
        data_dir = self.services.data_dir

        def apply() -> None:
            if on:
                security.keyring_remember(data_dir, passphrase)  # only a right one is kept
            else:
                security.keyring_forget(data_dir)
            self.services.settings.set("device.use_keyring", on)

        def done(_: object) -> None:
            self.status.setText(
                "Mnemo will unlock at login." if on else "The passphrase was removed."
            )

        def failed(err: BaseException) -> None:
            self._set(not on)
            self.error.setText(user_message(err, "Failed."))
            self.error.show()

        self.tasks.run(apply, done, failed, owner=self)

    def _set(self, value: bool) -> None:
        self._quiet = True
        self.box.setChecked(value)
        self._quiet = False


class DataFolderRow(QWidget):
    """Where the data lives, and backup / restore now."""

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__()
        self.services = services
        self.tasks = tasks
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.path = QLabel(str(services.data_dir))
        self.path.setObjectName("mono")
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.path, 1)
        open_ = QPushButton("Open folder")
        open_.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(services.data_dir)))
        )
        row.addWidget(open_)
        layout.addLayout(row)
        layout.addWidget(
            _hint(
                "Everything in it is encrypted. A backup is one encrypted file that opens only "
                "with your passphrase; it can be made while Mnemo is capturing."
            )
        )
        buttons = QHBoxLayout()
        self.backup = QPushButton("Back up now…")
        self.backup.clicked.connect(self._backup)
        self.restore = QPushButton("Restore a backup…")
        self.restore.clicked.connect(self._restore)
        buttons.addWidget(self.backup)
        buttons.addWidget(self.restore)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.status = _hint()
        layout.addWidget(self.status)

    def _backup(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the backup", str(Path.home()))
        if folder:
            self.backup_to(Path(folder))

    def backup_to(self, folder: Path) -> None:
        self.backup.setEnabled(False)
        self.status.setText("Backing up…")

        def done(info: object) -> None:
            self.backup.setEnabled(True)
            assert isinstance(info, backups.BackupInfo)
            self.status.setText(f"Backup written: {info.path} ({info.bytes / 1e6:.1f} MB).")

        def failed(err: BaseException) -> None:
            self.backup.setEnabled(True)
            self.status.setText(user_message(err, "Failed."))

        self.tasks.run(lambda: self.services.backup(folder), done, failed, owner=self)

    def _restore(self) -> None:
        source, _ = QFileDialog.getOpenFileName(
            self, "Backup to restore", str(start_folder()), f"Mnemo backups (*{backups.SUFFIX})"
        )
        if not source:
            return
        target = QFileDialog.getExistingDirectory(
            self, "An empty folder to restore into", str(Path.home())
        )
        if not target:
            return
        passphrase, ok = QInputDialog.getText(
            self,
            "Restore",
            "The passphrase you had when the backup was made:",
            QLineEdit.EchoMode.Password,
        )
        if not ok or not passphrase:
            return
        self.status.setText("Restoring…")

        def done(info: object) -> None:
            assert isinstance(info, backups.RestoreInfo)
            self.status.setText("")
            QMessageBox.information(
                self,
                "Restored",
                f"The backup was restored into {info.data_dir}. To use it, quit Mnemo and "
                f'start it with --data-dir "{info.data_dir}" (or set MNEMO_DATA_DIR). The '
                "search index is rebuilt the first time it unlocks.",
            )

        def failed(err: BaseException) -> None:
            self.status.setText(user_message(err, "Failed."))

        self.tasks.run(
            lambda: backups.restore(Path(source), Path(target), passphrase),
            done,
            failed,
            owner=self,
        )
