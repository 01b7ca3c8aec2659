"""The first-run window (choose a passphrase) and the unlock window. Key derivation and opening
the database run on the task runner; the window shows that it is working."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services import Services
from app.tasks import TaskRunner
from core.errors import UserFacingError, WrongPassphrase
from core.passphrase import MIN_LENGTH, estimate, strength_text
from ui.icons import app_icon

NO_RECOVERY = (
    "There is no way to recover this passphrase. If you forget it, your memories cannot be "
    "read by anyone, including you; you would have to start again with an empty store."
)


def _busy_bar() -> QProgressBar:
    bar = QProgressBar()
    bar.setRange(0, 0)  # indeterminate
    bar.setTextVisible(False)
    bar.setFixedHeight(8)
    bar.hide()
    return bar


class _PassphraseWindow(QDialog):
    unlocked = Signal()

    def __init__(self, services: Services, tasks: TaskRunner, title: str) -> None:
        super().__init__()
        self.services = services
        self.tasks = tasks
        self.setWindowTitle(f"Mnemo — {title}")
        self.setWindowIcon(app_icon())
        self.setMinimumWidth(460)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(28, 24, 28, 24)
        self.layout_.setSpacing(10)
        heading = QLabel(title)
        heading.setObjectName("title")
        self.layout_.addWidget(heading)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.busy = _busy_bar()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
        self.fit_contents()

    def fit_contents(self) -> None:
        """Grow (never shrink) to the height the wrapped text needs at the current width, so a
        message is never clipped."""
        layout = self.layout_
        layout.activate()
        need = (
            layout.totalHeightForWidth(self.width())
            if layout.hasHeightForWidth()
            else layout.totalSizeHint().height()
        )
        if need > self.height():
            self.resize(self.width(), need)

    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        for w in self.findChildren(QLineEdit):
            w.setEnabled(not busy)

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if self.busy.isVisible():  # key derivation in flight: finish first
            event.ignore()
            return
        super().closeEvent(event)


class FirstRunWindow(_PassphraseWindow):
    """Choose the passphrase twice, see a strength hint and the no-recovery warning."""

    def __init__(
        self,
        services: Services,
        tasks: TaskRunner,
        on_capture_consent: Callable[[bool], None] | None = None,
    ) -> None:
        super().__init__(services, tasks, "Welcome to Mnemo")
        self.on_capture_consent = on_capture_consent
        intro = QLabel(
            "Mnemo remembers what you see and the chats you have, and keeps all of "
            "it encrypted on this computer. Nothing leaves it. Choose a passphrase "
            "to protect your memories."
        )
        intro.setObjectName("subtitle")
        intro.setWordWrap(True)
        self.layout_.addWidget(intro)
        self.first = QLineEdit()
        self.first.setEchoMode(QLineEdit.EchoMode.Password)
        self.first.setPlaceholderText(f"Passphrase (at least {MIN_LENGTH} characters)")
        self.first.setAccessibleName("Passphrase")
        self.second = QLineEdit()
        self.second.setEchoMode(QLineEdit.EchoMode.Password)
        self.second.setPlaceholderText("The same passphrase again")
        self.second.setAccessibleName("Passphrase again")
        self.strength = QProgressBar()
        self.strength.setRange(0, 4)
        self.strength.setTextVisible(False)
        self.strength.setFixedHeight(8)
        self.hint = QLabel(
            f"Use at least {MIN_LENGTH} characters; a few unrelated words work well."
        )
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        warning = QLabel(NO_RECOVERY)
        warning.setObjectName("warning")
        warning.setWordWrap(True)
        self.capture = QCheckBox(
            "Start capturing my screen (you can pause or exclude apps at any time)"
        )
        self.capture.setChecked(False)
        self.create = QPushButton("Create my encrypted store")
        self.create.setObjectName("primary")
        self.create.setEnabled(False)
        self.create.setDefault(True)
        for w in (
            self.first,
            self.second,
            self.strength,
            self.hint,
            warning,
            self.capture,
            self.error,
            self.busy,
        ):
            self.layout_.addWidget(w)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.create)
        self.layout_.addLayout(row)
        self.first.textChanged.connect(self._update)
        self.second.textChanged.connect(self._update)
        self.create.clicked.connect(self._create)
        self.second.returnPressed.connect(self._create)
        self.first.returnPressed.connect(self.second.setFocus)

    def _update(self) -> None:
        s = estimate(self.first.text())
        self.strength.setValue(s.score)
        colour = ["#d93025", "#d93025", "#d98e04", "#1f9d55", "#1f9d55"][s.score]
        self.strength.setStyleSheet(f"QProgressBar::chunk {{ background: {colour}; }}")
        self.hint.setText(strength_text(self.first.text()))
        match = self.first.text() == self.second.text()
        if self.second.text() and not match:
            self.show_error("The two passphrases differ.")
        else:
            self.error.hide()
        self.create.setEnabled(len(self.first.text()) >= MIN_LENGTH and match)

    def _create(self) -> None:
        if not self.create.isEnabled():
            return
        passphrase = self.first.text()
        consent = self.capture.isChecked()
        self.create.setEnabled(False)
        self.set_busy(True)
        self.error.hide()

        def done(_: object) -> None:
            self.set_busy(False)
            self.first.clear()
            self.second.clear()
            if self.on_capture_consent is not None:
                self.on_capture_consent(consent)
            self.unlocked.emit()
            self.accept()

        def failed(err: BaseException) -> None:
            self.set_busy(False)
            self._update()
            self.show_error(
                str(err)
                if isinstance(err, UserFacingError)
                else "Mnemo could not create the store; see the log for details."
            )

        self.tasks.run(lambda: self.services.create(passphrase), done, failed, owner=self)


class UnlockWindow(_PassphraseWindow):
    """Unlock with the passphrase. After repeated failures each new try waits longer."""

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__(services, tasks, "Unlock Mnemo")
        intro = QLabel("Your memories are encrypted. Enter your passphrase to open them.")
        intro.setObjectName("subtitle")
        intro.setWordWrap(True)
        self.layout_.addWidget(intro)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("Passphrase")
        self.passphrase.setAccessibleName("Passphrase")
        self.button = QPushButton("Unlock")
        self.button.setObjectName("primary")
        self.button.setDefault(True)
        self.forgot = QLabel(
            "Forgot it? It cannot be recovered; the README explains how to start again."
        )
        self.forgot.setObjectName("hint")
        self.forgot.setWordWrap(True)
        for w in (self.passphrase, self.error, self.busy):
            self.layout_.addWidget(w)
        row = QHBoxLayout()
        row.addWidget(self.forgot, 1)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignRight)
        self.layout_.addLayout(row)
        self.failures = 0
        self._wait_left = 0
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick)
        self.button.clicked.connect(self._unlock)
        self.passphrase.returnPressed.connect(self._unlock)

    @staticmethod
    def delay_after(failures: int) -> int:
        """Seconds to wait before the next try: none for the first two mistakes, then
        doubling up to a minute."""
        return 0 if failures < 3 else min(2 ** (failures - 2), 60)

    def _unlock(self) -> None:
        if self._wait_left > 0 or self.busy.isVisible() or not self.passphrase.text():
            return
        passphrase = self.passphrase.text()
        self.set_busy(True)
        self.button.setEnabled(False)
        self.error.hide()

        def done(_: object) -> None:
            self.set_busy(False)
            self.passphrase.clear()
            self.failures = 0
            self.button.setEnabled(True)
            self.unlocked.emit()
            self.accept()

        def failed(err: BaseException) -> None:
            self.set_busy(False)
            self.passphrase.selectAll()
            self.passphrase.setFocus()
            if isinstance(err, WrongPassphrase):
                self.failures += 1
                self._wait_left = self.delay_after(self.failures)
                self.show_error("Wrong passphrase. Nothing was changed; try again.")
                if self._wait_left:
                    self._tick_text()
                    self._countdown.start()
                    return
            elif isinstance(err, UserFacingError):
                self.show_error(str(err))
            else:
                self.show_error("Mnemo could not open your store; see the log for details.")
            self.button.setEnabled(True)

        self.tasks.run(lambda: self.services.unlock(passphrase), done, failed, owner=self)

    def _tick_text(self) -> None:
        self.button.setText(f"Wait {self._wait_left} s")
        self.button.setEnabled(False)

    def _tick(self) -> None:
        self._wait_left -= 1
        if self._wait_left <= 0:
            self._countdown.stop()
            self.button.setText("Unlock")
            self.button.setEnabled(True)
        else:
            self._tick_text()


def centre(widget: QWidget) -> None:
    screen = widget.screen().availableGeometry()
    widget.adjustSize()
    widget.move(screen.center() - widget.rect().center())
