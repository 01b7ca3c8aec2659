"""Start Mnemo at login, one interface for each platform: an XDG autostart entry on Linux, the
Run registry key on Windows, a LaunchAgent on macOS. The app starts with `--tray`.

The settings page calls `apply_autostart(enabled)` when "Start Mnemo at login"
(`device.autostart`) changes; it raises `AutostartError` (a UserFacingError) when the entry
cannot be written."""

from __future__ import annotations

import importlib
import logging
import os
import plistlib
import sys
from pathlib import Path
from typing import Any, Protocol

from app import paths
from core.errors import UserFacingError
from core.fsutil import atomic_write

log = logging.getLogger(__name__)

ENTRY_NAME = "mnemo"
MAC_LABEL = "org.mnemo.Mnemo"
WINDOWS_RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
WINDOWS_VALUE = "Mnemo"


class AutostartError(UserFacingError):
    """Start-at-login could not be changed."""

    code = "unavailable"


class Autostart(Protocol):
    def enable(self, command: list[str]) -> None: ...

    def disable(self) -> None: ...

    def is_enabled(self) -> bool: ...

    def command(self) -> list[str] | None:
        """The command the entry runs, or None when there is no entry."""
        ...

    def location(self) -> str:
        """Where the entry lives, in words a person can look up."""
        ...


def launch_command(data_dir: Path | None = None) -> list[str]:
    """How to start this copy of Mnemo in the tray: the bundle's executable, or the Python
    interpreter with main.py when run from source. A non-default data folder is passed on."""
    if paths.is_frozen():
        argv = [str(Path(sys.executable).resolve())]
    else:
        argv = [str(Path(sys.executable).absolute()), str(paths.project_root() / "main.py")]
    argv.append("--tray")
    if data_dir is not None and Path(data_dir) != paths.data_dir():
        argv += ["--data-dir", str(Path(data_dir).resolve())]
    return argv


# -- Linux and other XDG desktops --------------------------------------------------------------
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def desktop_exec(argv: list[str]) -> str:
    """An Exec= value for argv (Desktop Entry spec: quote arguments with reserved characters,
    escape " ` $ \\ inside quotes, double %, then escape backslashes for the string value)."""
    out = []
    for arg in argv:
        arg = arg.replace("%", "%%")
        if arg and not (set(arg) & _RESERVED):
            out.append(arg)
            continue
        inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        out.append(f'"{inner}"')
    return " ".join(out).replace("\\", "\\\\")


def parse_desktop_exec(value: str) -> list[str]:
    """The inverse of desktop_exec, for reading back an entry (field codes are kept as is)."""
    value = value.replace("\\\\", "\\")
    args: list[str] = []
    cur: list[str] = []
    in_quotes = False
    started = False
    i = 0
    while i < len(value):
        c = value[i]
        if in_quotes:
            if c == "\\" and i + 1 < len(value) and value[i + 1] in '"`$\\':
                cur.append(value[i + 1])
                i += 1
            elif c == '"':
                in_quotes = False
            else:
                cur.append(c)
        elif c == '"':
            in_quotes = True
            started = True
        elif c == " ":
            if started:
                args.append("".join(cur))
                cur, started = [], False
        else:
            cur.append(c)
            started = True
        i += 1
    if started:
        args.append("".join(cur))
    return [a.replace("%%", "%") for a in args]


class XdgAutostart:
    """$XDG_CONFIG_HOME/autostart/mnemo.desktop (freedesktop Desktop Application Autostart)."""

    def __init__(self, config_home: Path | None = None) -> None:
        if config_home is None:
            env = os.environ.get("XDG_CONFIG_HOME")
            config_home = Path(env) if env else Path.home() / ".config"
        self.path = Path(config_home) / "autostart" / f"{ENTRY_NAME}.desktop"

    def enable(self, command: list[str]) -> None:
        text = (
            "[Desktop Entry]\n"
            "Type=Application\n"
            "Version=1.4\n"
            "Name=Mnemo\n"
            "GenericName=Personal Memory\n"
            "Comment=Start Mnemo in the tray at login\n"
            f"Exec={desktop_exec(command)}\n"
            "Icon=mnemo\n"
            "Terminal=false\n"
            "Categories=Utility;\n"
            "X-GNOME-Autostart-enabled=true\n"
            "X-GNOME-Autostart-Delay=5\n"
            "X-KDE-autostart-after=panel\n"
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Not secret: the session's tools read it.
        atomic_write(self.path, text.encode("utf-8"), mode=0o644)

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)

    def _exec_line(self) -> str | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        in_entry = False
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("["):
                in_entry = line == "[Desktop Entry]"
            elif in_entry and line.startswith("Exec="):
                return line[len("Exec=") :]
        return None

    def command(self) -> list[str] | None:
        line = self._exec_line()
        return None if line is None else parse_desktop_exec(line)

    def is_enabled(self) -> bool:
        if self._exec_line() is None:
            return False
        text = self.path.read_text(encoding="utf-8")
        # A user may switch it off in their desktop's startup settings without deleting it.
        return "Hidden=true" not in text and "X-GNOME-Autostart-enabled=false" not in text

    def location(self) -> str:
        return str(self.path)


# -- macOS ------------------------------------------------------------------------------------
class LaunchAgentAutostart:
    """~/Library/LaunchAgents/org.mnemo.Mnemo.plist with RunAtLoad (loaded by launchd at the
    next login). Written here but only testable on a Mac."""

    def __init__(self, home: Path | None = None) -> None:
        home = home or Path.home()
        self.path = home / "Library" / "LaunchAgents" / f"{MAC_LABEL}.plist"

    def enable(self, command: list[str]) -> None:
        doc = {
            "Label": MAC_LABEL,
            "ProgramArguments": command,
            "RunAtLoad": True,
            "KeepAlive": False,
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, plistlib.dumps(doc), mode=0o644)

    def disable(self) -> None:
        self.path.unlink(missing_ok=True)

    def command(self) -> list[str] | None:
        try:
            doc = plistlib.loads(self.path.read_bytes())
        except (OSError, plistlib.InvalidFileException, ValueError):
            return None
        args = doc.get("ProgramArguments") if isinstance(doc, dict) else None
        return [str(a) for a in args] if isinstance(args, list) else None

    def is_enabled(self) -> bool:
        return self.command() is not None

    def location(self) -> str:
        return str(self.path)


# -- Windows ----------------------------------------------------------------------------------
def _winreg() -> Any:
    """The registry module (Windows only; typed loosely so the other platforms check too)."""
    return importlib.import_module("winreg")


class WindowsRunKeyAutostart:
    """HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run, value "Mnemo". Only on Windows."""

    def _key(self, write: bool) -> Any:
        winreg = _winreg()

        access = winreg.KEY_SET_VALUE if write else winreg.KEY_READ
        return winreg.OpenKey(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0, access)

    def enable(self, command: list[str]) -> None:
        import subprocess

        winreg = _winreg()

        with self._key(write=True) as key:
            winreg.SetValueEx(
                key, WINDOWS_VALUE, 0, winreg.REG_SZ, subprocess.list2cmdline(command)
            )

    def disable(self) -> None:
        winreg = _winreg()

        try:
            with self._key(write=True) as key:
                winreg.DeleteValue(key, WINDOWS_VALUE)
        except FileNotFoundError:
            pass

    def command(self) -> list[str] | None:
        winreg = _winreg()

        try:
            with self._key(write=False) as key:
                value, _ = winreg.QueryValueEx(key, WINDOWS_VALUE)
        except FileNotFoundError:
            return None
        import shlex

        return shlex.split(str(value), posix=False)

    def is_enabled(self) -> bool:
        return self.command() is not None

    def location(self) -> str:
        return f"HKEY_CURRENT_USER\\{WINDOWS_RUN_KEY} ({WINDOWS_VALUE})"


def for_platform(platform: str | None = None) -> Autostart:
    platform = platform or sys.platform
    if platform == "win32":
        return WindowsRunKeyAutostart()
    if platform == "darwin":
        return LaunchAgentAutostart()
    return XdgAutostart()


def apply_autostart(
    enabled: bool, data_dir: Path | None = None, backend: Autostart | None = None
) -> Autostart:
    """Add or remove the start-at-login entry so it matches `enabled`; returns the backend (its
    `location()` says where the entry is). Enabling again refreshes the command, so an entry
    always starts the copy of Mnemo that last enabled it."""
    backend = backend or for_platform()
    try:
        if enabled:
            backend.enable(launch_command(data_dir))
            log.info("start at login enabled (%s)", backend.location())
        else:
            backend.disable()
            log.info("start at login disabled")
    except OSError as exc:
        raise AutostartError(
            f"Mnemo could not {'add' if enabled else 'remove'} its start-at-login entry "
            f"({backend.location()}): {exc.strerror or exc}. Check that the folder is writable."
        ) from exc
    return backend
