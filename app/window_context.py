"""Which windows are on screen (app, title, geometry, focus) and whether the screen is locked,
per platform behind core.interfaces.WindowContext. X11 reads EWMH/ICCCM properties with
python-xlib; the other platforms raise, so capture drops every frame (fails closed)."""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.capture.context import domain_from_title
from core.capture.exclusions import DEFAULT_LOCKERS, normalise_app
from core.errors import UserFacingError
from core.interfaces import WindowContext, WindowInfo

log = logging.getLogger(__name__)


class WindowContextUnavailable(UserFacingError):
    """Window information cannot be read here; capture drops frames until it can."""

    code = "unavailable"


WAYLAND_MESSAGE = (
    "Screen capture needs an X11 session: this is a Wayland session, where apps may not read "
    "other windows or the screen. Log in with an X11 session (e.g. 'GNOME on Xorg' on the "
    "login screen) to use screen memory; chats, notes and imports work as usual."
)


def is_wayland_session(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    # Under XWayland DISPLAY is set too, but only XWayland windows are visible to X11 clients:
    # capturing would miss (and could not exclude) native Wayland windows.
    return env.get("XDG_SESSION_TYPE", "").lower() == "wayland" or bool(env.get("WAYLAND_DISPLAY"))


class UnsupportedWindowContext:
    """A platform without a window reader yet: every call raises, so frames are dropped."""

    def __init__(self, message: str) -> None:
        self.message = message

    def windows(self) -> list[WindowInfo]:
        raise WindowContextUnavailable(self.message)

    def screen_locked(self) -> bool:
        raise WindowContextUnavailable(self.message)

    def close(self) -> None:
        pass


def window_context_for_platform(environ: Mapping[str, str] | None = None) -> WindowContext:
    env = os.environ if environ is None else environ
    if sys.platform.startswith("linux"):
        if is_wayland_session(env):
            return UnsupportedWindowContext(WAYLAND_MESSAGE)
        if not env.get("DISPLAY"):
            return UnsupportedWindowContext(
                "No X display is set (DISPLAY is empty), so Mnemo cannot see which windows are "
                "open and captures nothing. Start Mnemo from your desktop session."
            )
        return X11WindowContext(env.get("DISPLAY"))
    name = {"win32": "Windows", "darwin": "macOS"}.get(sys.platform, sys.platform)
    return UnsupportedWindowContext(
        f"Screen capture is not available on {name} yet: Mnemo cannot read which windows are "
        "open there, so it captures nothing rather than risk recording an excluded window."
    )


def local_display_missing(name: str | None) -> str | None:
    """A message if `name` is a local X display whose socket does not exist. Checked before
    connecting because Xlib would otherwise fall back to TCP (a network connection attempt)."""
    display = name if name is not None else os.environ.get("DISPLAY", "")
    host, _, rest = display.partition(":")
    number = rest.split(".")[0]
    if host in ("", "unix") and number.isdigit() and not Path(f"/tmp/.X11-unix/X{number}").exists():
        return f"the X display {display} is not running"
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class X11WindowContext:
    """EWMH/ICCCM on one X display. Top-level windows are walked in the server's stacking order
    (bottom to top), with or without a window manager; the rectangle is the top-level (frame)
    window, so title bars are covered too; override-redirect windows (menus, tooltips, lock
    screens) are listed with the app that owns them. One display connection, guarded by a lock;
    create it on the thread that uses it."""

    def __init__(self, display_name: str | None = None) -> None:
        self._display_name = display_name
        self._display: Any = None
        self._atoms: dict[str, int] = {}
        self._apps: dict[int, str] = {}
        self._lock = threading.Lock()
        self._hostname = socket.gethostname()
        self._has_res = False
        self._has_saver = False

    # -- connection --------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._display is None:
            from Xlib import display as xdisplay
            from Xlib import error as xerror

            problem = local_display_missing(self._display_name)
            if problem:
                raise WindowContextUnavailable(
                    f"Cannot connect to the X display: {problem}. Mnemo captures nothing until "
                    "it can see which windows are open."
                )
            try:
                d = xdisplay.Display(self._display_name)
            except (xerror.DisplayError, OSError) as e:
                raise WindowContextUnavailable(
                    f"Cannot connect to the X display {self._display_name or ''} ({e}). Mnemo "
                    "captures nothing until it can see which windows are open."
                ) from None
            self._has_res = d.has_extension("X-Resource")
            self._has_saver = d.has_extension("MIT-SCREEN-SAVER")
            self._display = d
        return self._display

    def close(self) -> None:
        with self._lock:
            if self._display is not None:
                try:
                    self._display.close()
                finally:
                    self._display = None

    def _drop_connection(self) -> None:
        """Forget a broken connection (the next call reconnects)."""
        d, self._display = self._display, None
        self._atoms.clear()
        try:
            d.close()
        except Exception:  # already broken; closing is only to release the socket
            log.debug("closing a broken X connection failed", exc_info=True)

    def _atom(self, name: str) -> int:
        atom = self._atoms.get(name)
        if atom is None:
            atom = self._display.intern_atom(name)
            self._atoms[name] = atom
        return atom

    # -- WindowContext ---------------------------------------------------------------------

    def windows(self) -> list[WindowInfo]:
        from Xlib import error as xerror

        with self._lock:
            d = self._connect()
            try:
                return self._windows(d)
            except xerror.ConnectionClosedError as e:
                self._drop_connection()
                raise WindowContextUnavailable(f"The X display connection closed ({e}).") from e

    def screen_locked(self) -> bool:
        """True when the X screen saver is on (a locker such as xscreensaver, or the server's
        blanking) or a known locker window (i3lock, slock, ...) is mapped. Without the screen
        saver extension only locker windows count: reporting 'locked' whenever unsure would stop
        capture for good on servers without it, and an X11 locker must map a window over the
        screen to hide it, which this sees. Raises if X cannot be asked (callers drop the
        frame)."""
        return self.snapshot()[1]

    def snapshot(self) -> tuple[list[WindowInfo], bool]:
        """windows() and screen_locked() in one walk of the window tree."""
        from Xlib import error as xerror

        with self._lock:
            d = self._connect()
            try:
                saver_on = False
                if self._has_saver:
                    info = d.screen().root.screensaver_query_info()
                    saver_on = info.state == 1  # ScreenSaverOn
                windows = self._windows(d)
            except xerror.ConnectionClosedError as e:
                self._drop_connection()
                raise WindowContextUnavailable(f"The X display connection closed ({e}).") from e
        locked = saver_on or any(normalise_app(w.app) in DEFAULT_LOCKERS for w in windows)
        return windows, locked

    # -- reading -----------------------------------------------------------------------------

    def _windows(self, d: Any) -> list[WindowInfo]:
        from Xlib import X
        from Xlib import error as xerror

        root = d.screen().root
        try:
            active = self._active_window(d, root)
        except (xerror.BadWindow, xerror.BadDrawable):
            active = None  # the active window closed while we asked: none is active
        out: list[WindowInfo] = []
        seen: set[int] = set()
        for top in root.query_tree().children:
            try:
                attrs = top.get_attributes()
                if attrs.map_state != X.IsViewable or attrs.win_class == X.InputOnly:
                    continue
                geom = top.get_geometry()
                if geom.width <= 1 and geom.height <= 1:
                    continue
                client = self._client_of(top)
                if self._hidden(client):
                    continue
                title = self._title(client)
                app = self._app(client)
                seen.add(client.id)
                pos = root.translate_coords(top, 0, 0)
                bw = geom.border_width
                out.append(
                    WindowInfo(
                        app=app,
                        title=title,
                        x=pos.x - bw,
                        y=pos.y - bw,
                        w=geom.width + 2 * bw,
                        h=geom.height + 2 * bw,
                        domain=domain_from_title(app, title),
                        active=active == top.id,
                    )
                )
            except (xerror.BadWindow, xerror.BadDrawable, xerror.BadMatch):
                # Closed while we looked: it is no longer on screen. Callers read windows
                # before and after a grab, so the grab still sees it in the other list.
                continue
        for wid in list(self._apps):
            if wid not in seen:
                del self._apps[wid]
        return out

    def _active_window(self, d: Any, root: Any) -> int | None:
        """The top-level window holding the active client (EWMH) or, with no window manager,
        the input focus."""
        from Xlib import X

        prop = root.get_full_property(self._atom("_NET_ACTIVE_WINDOW"), X.AnyPropertyType)
        if prop is not None and len(prop.value) and prop.value[0]:
            win = d.create_resource_object("window", int(prop.value[0]))
        else:
            win = d.get_input_focus().focus
            if isinstance(win, int) or win is None:
                return None  # PointerRoot or None
        while True:
            tree = win.query_tree()
            if not tree.parent or tree.parent.id == root.id:
                return int(win.id)
            win = tree.parent

    def _client_of(self, top: Any) -> Any:
        """The client window inside a top-level: the one with WM_STATE (itself, or inside the
        window manager's frame); else the top-level itself, since an unmanaged window (no window
        manager, an override-redirect popup or lock screen, an untitled window) shows pixels
        too and must be listed to be excludable."""
        wm_state = self._atom("WM_STATE")
        if top.get_full_property(wm_state, 0) is not None:
            return top
        for child in top.query_tree().children:
            if child.get_full_property(wm_state, 0) is not None:
                return child
            for grandchild in child.query_tree().children:
                if grandchild.get_full_property(wm_state, 0) is not None:
                    return grandchild
        return top

    def _hidden(self, client: Any) -> bool:
        from Xlib import Xatom

        state = client.get_full_property(self._atom("_NET_WM_STATE"), Xatom.ATOM)
        return state is not None and self._atom("_NET_WM_STATE_HIDDEN") in state.value

    def _title(self, client: Any) -> str:
        prop = client.get_full_property(self._atom("_NET_WM_NAME"), self._atom("UTF8_STRING"))
        if prop is not None and prop.value:
            return _text(prop.value)
        return _text(client.get_wm_name())

    def _app(self, client: Any) -> str:
        cached = self._apps.get(client.id)
        if cached is not None:
            return cached
        app = ""
        pid = self._pid(client)
        if pid:
            try:
                app = Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip().lower()
            except OSError:
                app = ""
        if not app:
            wm_class = client.get_wm_class()
            if wm_class:
                app = _text(wm_class[-1]).lower()
        self._apps[client.id] = app
        return app

    def _pid(self, client: Any) -> int | None:
        from Xlib import X

        if self._has_res:
            # The server knows which local process owns the window: cannot be spoofed or missing.
            from Xlib import error as xerror
            from Xlib.ext import res

            try:
                reply = self._display.res_query_client_ids(
                    [{"client": client.id, "mask": res.LocalClientPIDMask}]
                )
            except (xerror.BadValue, xerror.BadImplementation, xerror.BadAccess):
                reply = None
            for ident in reply.ids if reply is not None else []:
                if ident.spec.mask == res.LocalClientPIDMask and ident.value:
                    return int(ident.value[0])
        prop = client.get_full_property(self._atom("_NET_WM_PID"), X.AnyPropertyType)
        if prop is None or not len(prop.value):
            return None
        machine = _text(client.get_wm_client_machine())
        if machine and machine != self._hostname:
            return None  # a remote client's pid means nothing here
        return int(prop.value[0])
