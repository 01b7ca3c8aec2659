"""Settings → Models: the language model file (GGUF picker, or the bundled model), its context
size and threads, and "Test the model". A choice is loaded before it is saved: a missing,
unreadable or non-GGUF file shows why and the previous model stays in use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.services import Services
from app.tasks import TaskRunner, user_message
from core.settings import BY_KEY
from ui.page import start_folder

KEYS = ("models.llm_path", "models.llm_context", "models.llm_threads")
PROGRESS_AFTER_MS = 500


class ModelsBox(QGroupBox):
    """The model controls; every call on the assistant runs on the task runner."""

    def __init__(self, services: Services, tasks: TaskRunner) -> None:
        super().__init__("Language model")
        self.services = services
        self.tasks = tasks
        self.stored: dict[str, Any] = {}
        self.busy = False
        outer = QVBoxLayout(self)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        outer.addLayout(form)

        self.path = QLineEdit()
        self.path.setObjectName("setting:models.llm_path")
        self.path.setPlaceholderText("The bundled model (SmolLM2 135M)")
        self.path.setAccessibleName(BY_KEY["models.llm_path"].label)
        self.path.editingFinished.connect(self._path_edited)
        self.choose = QPushButton("Choose…")
        self.choose.setAccessibleName("Choose a GGUF model file")
        self.choose.clicked.connect(self._pick)
        self.bundled = QPushButton("Use the bundled model")
        self.bundled.clicked.connect(lambda: self._use(""))
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(self.path, 1)
        h.addWidget(self.choose)
        h.addWidget(self.bundled)
        form.addRow(BY_KEY["models.llm_path"].label, row)

        self.context = self._spin("models.llm_context")
        self.threads = self._spin("models.llm_threads")
        form.addRow(BY_KEY["models.llm_context"].label, self.context)
        form.addRow(BY_KEY["models.llm_threads"].label, self.threads)
        hint = QLabel(
            f"{BY_KEY['models.llm_context'].help} {BY_KEY['models.llm_threads'].help} "
            "Changes are loaded first and kept only if the model works."
        )
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        outer.addWidget(hint)

        buttons = QHBoxLayout()
        self.apply = QPushButton("Apply")
        self.apply.setToolTip("Load the model with these settings, then keep them")
        self.apply.clicked.connect(lambda: self._use(self.path.text().strip()))
        self.test = QPushButton("Test the model")
        self.test.setToolTip("Time a short answer with the model in use")
        self.test.clicked.connect(self.run_test)
        buttons.addWidget(self.apply)
        buttons.addWidget(self.test)
        buttons.addStretch(1)
        outer.addLayout(buttons)

        self.message = QLabel()
        self.message.setObjectName("hint")
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Model status")
        outer.addWidget(self.message)
        self.info = QLabel()
        self.info.setObjectName("hint")
        self.info.setWordWrap(True)
        self.info.setAccessibleName("Model file")
        self.info.hide()
        outer.addWidget(self.info)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.hide()
        outer.addWidget(self.error)
        self._progress = QTimer(self)
        self._progress.setSingleShot(True)
        self._pending_progress = ""
        self._progress.timeout.connect(lambda: self.message.setText(self._pending_progress))
        self.load()

    def _spin(self, key: str) -> QSpinBox:
        s = BY_KEY[key]
        spin = QSpinBox()
        spin.setObjectName(f"setting:{key}")
        spin.setAccessibleName(s.label)
        spin.setRange(int(s.minimum or 0), int(s.maximum or 2**31 - 1))
        spin.setMaximumWidth(160)
        # As in the settings page: typed or stepped with arrows/wheel, no arrow buttons.
        spin.setStyleSheet(
            "QAbstractSpinBox::up-button, QAbstractSpinBox::down-button "
            "{ width: 0px; border: none; }"
        )
        return spin

    # -- values ---------------------------------------------------------------------------------
    def load(self) -> None:
        if not self.services.unlocked:
            self.message.setText("Unlock Mnemo to choose the model.")
            return
        settings = self.services.settings
        self.tasks.run(lambda: {k: settings.get(k) for k in KEYS}, self._show, self._failed)

    def _show(self, values: object) -> None:
        assert isinstance(values, dict)
        self.stored = dict(values)
        self.path.setText(str(values["models.llm_path"]))
        self.context.setValue(int(values["models.llm_context"]))
        self.threads.setValue(int(values["models.llm_threads"]))
        if not self.message.text() and not self.busy:
            name = Path(str(values["models.llm_path"])).name or "the bundled model"
            self.message.setText(f"In use: {name}.")

    def _path_edited(self) -> None:
        text = self.path.text().strip()
        if text != str(self.stored.get("models.llm_path", "")):
            self._use(text)

    def _pick(self) -> None:
        start = self.path.text() or str(start_folder())
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Choose a language model", start, "GGUF models (*.gguf);;All files (*)"
        )
        if chosen:
            self.path.setText(chosen)
            self._use(chosen)

    # -- actions --------------------------------------------------------------------------------
    def _assistant(self) -> Any:
        assistant = getattr(self.services, "assistant", None)
        if assistant is None:
            self._show_error("Unlock Mnemo to choose the model.")
        return assistant

    def _start(self, progress: str) -> None:
        self.busy = True
        self.error.hide()
        for w in (self.apply, self.test, self.choose, self.bundled):
            w.setEnabled(False)
        self._pending_progress = progress
        self._progress.start(PROGRESS_AFTER_MS)

    def _end(self) -> None:
        self.busy = False
        self._progress.stop()
        for w in (self.apply, self.test, self.choose, self.bundled):
            w.setEnabled(True)

    def _use(self, path: str) -> None:
        assistant = self._assistant()
        if assistant is None or self.busy:
            return
        n_ctx, n_threads = self.context.value(), self.threads.value()
        self._start("Loading the model…")

        def done(load_s: object) -> None:
            self._end()
            self.stored = dict(zip(KEYS, (path, n_ctx, n_threads), strict=True))
            name = Path(path).name or "the bundled model"
            self.message.setText(f"In use: {name} (loaded in {float(load_s):.1f} s).")  # type: ignore[arg-type]
            self.services.announce(_settings_changed())
            # How fast it runs here, measured on first use, and what its file says about it.
            self.run_test(loaded_s=float(load_s))  # type: ignore[arg-type]

        self.tasks.run(lambda: assistant.set_model(path, n_ctx, n_threads), done, self._refused)

    def _show_info(self, info: object) -> None:
        if not isinstance(info, dict) or not info:
            return
        arch = str(info.get("architecture") or "unknown")
        lines = [
            "Chat template: the model's own."
            if info.get("own_template")
            else f"Chat template: none in the file; the {arch} one is used."
        ]
        if info.get("base_model"):
            lines.append(
                "This looks like a base model (not instruction-tuned): it continues text "
                "instead of answering. Choose an instruct or chat GGUF, or use the bundled model."
            )
            self._show_error(lines[-1])
        self.info.setText(lines[0])
        self.info.setVisible(True)

    def run_test(self, loaded_s: float | None = None) -> None:
        """Measure tokens/s here; `loaded_s` (just loaded) stays in the message beside it."""
        assistant = self._assistant()
        if assistant is None or self.busy:
            return
        self._start("Testing the model (a short answer)…")

        def done(result: Any) -> None:
            self._end()
            load_s = loaded_s if loaded_s is not None else result.load_s
            self.message.setText(
                f"{Path(result.model_path).name}: {result.tokens_per_s:.1f} tokens/s here, "
                f"first token after {result.first_token_s:.2f} s"
                + (f", loaded in {load_s:.1f} s." if loaded_s is not None or load_s > 0.05 else ".")
            )
            info = getattr(assistant, "model_info", None)
            if callable(info):
                self.tasks.run(info, self._show_info, lambda _e: None)

        self.tasks.run(assistant.test_model, done, self._failed)

    def _refused(self, err: BaseException) -> None:
        # The previous model stays in use: show it again.
        self._failed(err)
        if self.stored:
            self._show(self.stored)
            self.message.setText("The previous model stays in use.")

    def _failed(self, err: BaseException) -> None:
        self._end()
        self._show_error(user_message(err, "The model could not be used."))

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))


def _settings_changed() -> Any:
    from app.services import Changes

    return Changes(settings=list(KEYS))
