"""A system-wide shortcut (X11 only: Qt has none): one key combination grabbed on the root
window with python-xlib, on its own X connection, whose socket the GUI thread's event loop
watches (a QSocketNotifier): a press is read when it arrives, with no thread and no polling.
Elsewhere (Wayland, Windows, macOS) it says it is unavailable and the in-app shortcuts remain."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, Signal

log = logging.getLogger(__name__)

DEFAULT_KEYS = "Ctrl+Alt+M"  # "M for Mnemo"; rarely taken by desktops or apps
TIMELINE_KEYS = "Ctrl+Alt+R"  # "R for rewind" (Ctrl+Alt+T opens a terminal on many desktops)

_MODIFIERS = {"ctrl": "ControlMask", "shift": "ShiftMask", "alt": "Mod1Mask", "super": "Mod4Mask"}


class GlobalHotkey(QObject):
    """`start()` grabs `keys` ("Ctrl+Alt+M"); `pressed` fires on the GUI thread (the thread
    that called start); `stop()` releases the grab. `available`/`problem` say whether it
    worked."""

    pressed = Signal()

    def __init__(
        self, keys: str = DEFAULT_KEYS, display: str | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.keys = keys
        self.display_name = display
        self.available = False
        self.problem = ""
        self._notifier: QSocketNotifier | None = None
        self._display: Any = None

    def start(self) -> bool:
        if sys.platform != "linux" or not (self.display_name or os.environ.get("DISPLAY")):
            self.problem = "system-wide shortcuts need an X11 session"
            return False
        offscreen = os.environ.get("QT_QPA_PLATFORM", "").startswith(("offscreen", "minimal"))
        if offscreen and self.display_name is None:
            self.problem = "no real display"
            return False
        try:
            self._grab()
        except Exception as e:  # an X error or a missing library: in-app shortcuts remain
            self.problem = f"could not grab {self.keys}: {type(e).__name__}: {e}"
            log.info("global shortcut unavailable: %s", self.problem)
            self._close()
            return False
        self.available = True
        self._notifier = QSocketNotifier(self._display.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._read_events)
        self._read_events()  # anything already read into python-xlib's queue by the grab
        log.info("global shortcut %s active", self.keys)
        return True

    def _grab(self) -> None:
        from Xlib import XK, X, error  # lazy: X11 only
        from Xlib.display import Display

        *mods, key = [p.strip().lower() for p in self.keys.split("+")]
        keysym = XK.string_to_keysym(key if len(key) > 1 else key.lower())
        if not keysym:
            raise ValueError(f"unknown key {key!r}")
        mask = 0
        for m in mods:
            if m not in _MODIFIERS:
                raise ValueError(f"unknown modifier {m!r}")
            mask |= getattr(X, _MODIFIERS[m])
        self._display = Display(self.display_name)
        keycode = self._display.keysym_to_keycode(keysym)
        if not keycode:
            raise ValueError(f"no key for {key!r} on this keyboard")
        root = self._display.screen().root
        catch = error.CatchError(error.BadAccess)
        # The same combination with Caps Lock / Num Lock on must fire too.
        self._grabs = [(keycode, mask | extra) for extra in (0, X.LockMask, X.Mod2Mask)]
        self._grabs.append((keycode, mask | X.LockMask | X.Mod2Mask))
        for code, mods_mask in self._grabs:
            root.grab_key(code, mods_mask, True, X.GrabModeAsync, X.GrabModeAsync, onerror=catch)
        self._display.sync()
        if catch.get_error():
            raise RuntimeError("another program already uses this combination")
        self._keycode = keycode

    def _read_events(self, *_: object) -> None:
        from Xlib import X

        d = self._display
        if d is None:
            return
        try:
            while d.pending_events():
                event = d.next_event()
                if event.type == X.KeyPress and event.detail == self._keycode:
                    self.pressed.emit()
        except Exception as e:  # the X connection went away: in-app shortcuts remain
            log.warning("global shortcut %s stopped: %s", self.keys, type(e).__name__)
            self._unwatch()
            self._close()
            self.available = False

    def _unwatch(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None

    def stop(self) -> None:
        self._unwatch()
        if self._display is not None and self.available:
            try:
                root = self._display.screen().root
                for code, mods_mask in self._grabs:
                    root.ungrab_key(code, mods_mask)
                self._display.sync()
            except Exception:
                log.debug("ungrab failed", exc_info=True)
        self._close()
        self.available = False

    def _close(self) -> None:
        if self._display is not None:
            try:
                self._display.close()
            except Exception:
                log.debug("closing the X connection failed", exc_info=True)
            self._display = None
