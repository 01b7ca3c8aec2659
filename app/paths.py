"""Where Mnemo keeps things. The one place that knows the data, log and runtime folders."""

from __future__ import annotations

import os
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


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def assets_dir() -> Path:
    return project_root() / "assets"
