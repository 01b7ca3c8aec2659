"""Every setting declared once (key, default, type, label, help, bounds); the settings panel is
built from this list. Settings live in the encrypted database, except the few marked
scope="device" that are needed before unlock (they hold no personal data) and live in
preferences.json beside the key file."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.db import Connection
from core.errors import BadInput
from core.fsutil import atomic_write

SCHEMA_VERSION = 1
DEVICE_FILE = "preferences.json"


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    default: Any
    type: type
    label: str
    help: str
    section: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    scope: str = "store"  # "store" (encrypted) or "device" (needed before unlock)

    def validate(self, value: Any) -> Any:
        """Return the value in its declared type or raise BadInput saying what is allowed."""
        t = self.type
        try:
            if t is bool:
                if isinstance(value, str):
                    if value.lower() in ("1", "true", "yes", "on"):
                        value = True
                    elif value.lower() in ("0", "false", "no", "off"):
                        value = False
                if not isinstance(value, bool):
                    raise ValueError
            elif t is int:
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                value = int(value)
            elif t is float:
                if isinstance(value, bool):
                    raise ValueError
                value = float(value)
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError
            elif t is str:
                if not isinstance(value, str):
                    raise ValueError
                if len(value) > 4096:
                    raise ValueError
            elif t is list:
                if isinstance(value, str):
                    value = [v.strip() for v in value.split(",") if v.strip()]
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError
                if len(value) > 1000:
                    raise ValueError
        except (TypeError, ValueError):
            raise BadInput(f"{self.label}: expected {_type_name(t)}, got {value!r:.60}.") from None
        if self.minimum is not None and value < self.minimum:
            raise BadInput(f"{self.label}: must be at least {self.minimum:g}.")
        if self.maximum is not None and value > self.maximum:
            raise BadInput(f"{self.label}: must be at most {self.maximum:g}.")
        if self.choices is not None and value not in self.choices:
            raise BadInput(f"{self.label}: must be one of {', '.join(self.choices)}.")
        return value


def _type_name(t: type) -> str:
    return {
        bool: "on or off",
        int: "a whole number",
        float: "a number",
        str: "text",
        list: "a list of text",
    }.get(t, t.__name__)


S = Setting
SETTINGS: tuple[Setting, ...] = (
    # Capture
    S(
        "capture.enabled",
        False,
        bool,
        "Capture the screen",
        "Capture what is on screen and remember its text. Off until you turn it on.",
        "capture",
    ),
    S(
        "capture.interval_s",
        5.0,
        float,
        "Capture interval (seconds)",
        "How often the screen is checked for changes. Unchanged screens cost almost nothing.",
        "capture",
        1.0,
        300.0,
    ),
    S(
        "capture.monitors",
        "all",
        str,
        "Monitors",
        "Which monitors to capture.",
        "capture",
        choices=("all", "primary"),
    ),
    S(
        "capture.keep_screenshots",
        True,
        bool,
        "Keep screenshots",
        "Keep an encrypted, downscaled screenshot with each screen memory.",
        "capture",
    ),
    S(
        "capture.image_quality",
        55,
        int,
        "Screenshot quality",
        "Lossy quality of stored screenshots (lower is smaller).",
        "capture",
        20,
        95,
    ),
    S(
        "capture.image_max_width",
        1600,
        int,
        "Screenshot width (pixels)",
        "Screenshots are downscaled to at most this width.",
        "capture",
        640,
        3840,
    ),
    S(
        "capture.backlog_max_mb",
        1024,
        int,
        "Waiting screen changes (MB)",
        "Screen changes wait here, encrypted, until they are read. Past this size the oldest "
        "are dropped (and counted).",
        "capture",
        50,
        100_000,
    ),
    # Privacy
    S(
        "privacy.excluded_apps",
        [],
        list,
        "Excluded apps",
        "Apps that are never captured (process names), on top of the built-in list.",
        "privacy",
    ),
    S(
        "privacy.excluded_titles",
        [],
        list,
        "Excluded window titles",
        "Window title patterns that are never captured (* and ? wildcards).",
        "privacy",
    ),
    S(
        "privacy.excluded_domains",
        [],
        list,
        "Excluded websites",
        "Web domains that are never captured (example.com also covers its subdomains).",
        "privacy",
    ),
    S(
        "privacy.redact_cards",
        True,
        bool,
        "Redact card numbers",
        "Card numbers with a valid checksum are removed before storage.",
        "privacy",
    ),
    S(
        "privacy.redact_ibans",
        True,
        bool,
        "Redact IBANs",
        "Bank account numbers (IBAN).",
        "privacy",
    ),
    S(
        "privacy.redact_national_ids",
        True,
        bool,
        "Redact national ids",
        "National identity and social security numbers.",
        "privacy",
    ),
    S(
        "privacy.redact_api_keys",
        True,
        bool,
        "Redact API keys and tokens",
        "Keys and tokens of known formats.",
        "privacy",
    ),
    S(
        "privacy.redact_private_keys",
        True,
        bool,
        "Redact private keys",
        "Private key blocks.",
        "privacy",
    ),
    S(
        "privacy.redact_passwords",
        True,
        bool,
        "Redact passwords",
        "Text after 'password:' labels.",
        "privacy",
    ),
    # Storage
    S(
        "storage.max_age_days",
        0,
        int,
        "Keep memories for (days)",
        "Older memories are erased. 0 keeps them forever.",
        "storage",
        0,
        36500,
    ),
    S(
        "storage.max_gb",
        0.0,
        float,
        "Maximum storage (GB)",
        "The oldest memories are erased when storage passes this. 0 means no limit.",
        "storage",
        0.0,
        10000.0,
    ),
    # Models
    S(
        "models.llm_path",
        "",
        str,
        "Language model file (GGUF)",
        "Empty uses the bundled model.",
        "models",
    ),
    S(
        "models.llm_context",
        2048,
        int,
        "Context size (tokens)",
        "How much evidence fits in one answer. Larger uses more memory.",
        "models",
        512,
        32768,
    ),
    S("models.llm_threads", 0, int, "Threads", "0 picks a sensible number.", "models", 0, 64),
    # Trust
    S(
        "trust.quarantine",
        True,
        bool,
        "Quarantine suspicious memories",
        "Memories that look like instructions to an AI wait for your review.",
        "trust",
    ),
    # Security
    S(
        "security.autolock_minutes",
        15,
        int,
        "Lock after inactivity (minutes)",
        "0 never locks on inactivity.",
        "security",
        0,
        1440,
    ),
    S(
        "security.lock_with_screen",
        True,
        bool,
        "Lock when the screen locks",
        "Lock Mnemo when the session's screen locks.",
        "security",
    ),
    S(
        "backup.folder",
        "",
        str,
        "Scheduled backup folder",
        "Empty turns scheduled backups off.",
        "security",
    ),
    S("backup.every_hours", 24, int, "Back up every (hours)", "", "security", 1, 720),
    S("backup.keep", 5, int, "Backups to keep", "", "security", 1, 100),
    # Device preferences: read before unlock, no personal data.
    S(
        "device.use_keyring",
        False,
        bool,
        "Unlock at login with the system keyring",
        "Keeps your passphrase in the system keyring so Mnemo unlocks without asking. Anyone "
        "who can use your logged-in session can then read your memories.",
        "security",
        scope="device",
    ),
    S(
        "device.autostart",
        False,
        bool,
        "Start Mnemo at login",
        "Starts Mnemo in the tray when you log in.",
        "general",
        scope="device",
    ),
    S(
        "device.window_size",
        "",
        str,
        "Main window size",
        "Remembered when the window is resized (WIDTHxHEIGHT); empty: fit the screen.",
        "general",
        scope="device",
    ),
)
BY_KEY = {s.key: s for s in SETTINGS}


def declaration(key: str) -> Setting:
    try:
        return BY_KEY[key]
    except KeyError:
        raise BadInput(f"Unknown setting {key!r}.") from None


class Settings:
    """Typed access to settings. Store-scoped values go through `read_conn` / `write` callables
    (the Store's reader and writer); device values through preferences.json."""

    def __init__(
        self,
        data_dir: Path,
        reader: Callable[[], Connection] | None,
        writer: Callable[[Callable[[Connection], Any]], Any] | None,
    ) -> None:
        self._device_path = Path(data_dir) / DEVICE_FILE
        self._reader = reader
        self._writer = writer
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str, Any], None]] = []

    def on_change(self, listener: Callable[[str, Any], None]) -> None:
        self._listeners.append(listener)

    def _device(self) -> dict[str, Any]:
        try:
            doc = json.loads(self._device_path.read_text(encoding="utf-8"))
            return doc if isinstance(doc, dict) else {}
        except (OSError, ValueError):
            return {}

    def get(self, key: str) -> Any:
        d = declaration(key)
        if d.scope == "device":
            raw = self._device().get(key, d.default)
        else:
            if self._reader is None:
                return d.default
            row = (
                self._reader()
                .execute("SELECT value FROM settings WHERE key = ?", (key,))
                .fetchone()
            )
            raw = json.loads(row[0]) if row else d.default
        try:
            return d.validate(raw)
        except BadInput:
            return d.default  # a stored value from an older schema that no longer fits

    def all(self) -> dict[str, Any]:
        return {s.key: self.get(s.key) for s in SETTINGS}

    def set(self, key: str, value: Any) -> Any:
        d = declaration(key)
        value = d.validate(value)
        if d.scope == "device":
            with self._lock:
                doc = self._device()
                doc[key] = value
                doc["_schema"] = SCHEMA_VERSION
                atomic_write(self._device_path, json.dumps(doc, indent=1).encode("utf-8"))
        else:
            if self._writer is None:
                raise BadInput("Unlock Mnemo to change this setting.")
            encoded = json.dumps(value)

            def put(conn: Connection) -> None:
                conn.execute(
                    "INSERT INTO settings(key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, encoded),
                )
                conn.execute(
                    "INSERT INTO settings(key, value) VALUES ('_schema', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (json.dumps(SCHEMA_VERSION),),
                )

            self._writer(put)
        for listener in list(self._listeners):
            listener(key, value)
        return value
