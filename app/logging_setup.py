"""Logging to a private, rotating file in the data folder. Log lines say what happened, with
ids and timings; never captured text, OCR output, prompts, answers, passphrases or keys."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

from core.fsutil import ensure_private_dir

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


class _PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    def _open(self):  # type: ignore[no-untyped-def,unused-ignore]
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.chmod(self.baseFilename, 0o600)
        return os.fdopen(fd, self.mode, encoding=self.encoding)


def setup_logging(
    log_folder: Path | None, level: int = logging.INFO, console: bool = False
) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_mnemo", False):
            root.removeHandler(h)
            h.close()
    root.setLevel(level)
    if log_folder is not None:
        ensure_private_dir(log_folder)
        fh = _PrivateRotatingHandler(
            log_folder / "mnemo.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        fh.setFormatter(logging.Formatter(FORMAT))
        fh._mnemo = True  # type: ignore[attr-defined]
        root.addHandler(fh)
    if console:
        sh = logging.StreamHandler()
        sh.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        sh.setLevel(logging.WARNING)
        sh._mnemo = True  # type: ignore[attr-defined]
        root.addHandler(sh)
    for noisy in (
        "sentence_transformers",
        "transformers",
        "urllib3",
        "PIL",
        "onnxruntime",
        "RapidOCR",
        "rapidocr",
        "hnswlib",
        "filelock",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
