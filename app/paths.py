"""Where Mnemo keeps things. The one place that knows the data, log and runtime folders."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "Mnemo"
ENV_DATA_DIR = "MNEMO_DATA_DIR"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """--data-dir, else $MNEMO_DATA_DIR, else the platform's user data folder."""
    if override:
        return Path(override).expanduser().resolve()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir(data: Path) -> Path:
    return data / "logs"


def is_frozen() -> bool:
    """True inside the packaged app (PyInstaller bundle)."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def project_root() -> Path:
    """The source checkout, or inside the bundle the folder holding its bundled files."""
    if is_frozen():
        return Path(sys._MEIPASS)  # type: ignore[attr-defined]
    return Path(__file__).resolve().parent.parent


def assets_dir() -> Path:
    return project_root() / "assets"
