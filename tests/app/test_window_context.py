"""The X11 window context on a real (virtual) display, and the fail-closed platform seam."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from app.window_context import (
    WAYLAND_MESSAGE,
    UnsupportedWindowContext,
    WindowContextUnavailable,
    X11WindowContext,
    is_wayland_session,
    window_context_for_platform,
)
from core.capture.exclusions import DropReason, ExclusionRules, decide
from core.capture.geometry import Rect
from tests.app.conftest import wait_for


@pytest.fixture
def ctx(xvfb: str) -> Iterator[X11WindowContext]:
    c = X11WindowContext(xvfb)
    yield c
    c.close()


def _find(ctx: X11WindowContext, title: str):  # type: ignore[no-untyped-def]
    return wait_for(lambda: next((w for w in ctx.windows() if w.title == title), None))


def test_lists_a_window_with_its_title_app_and_geometry(ctx, open_window) -> None:
    win = open_window("Mnemo canary — notes", "320x200+50+60")
    info = _find(ctx, "Mnemo canary — notes")
    assert info is not None
    assert info.app == win.comm() and info.app.startswith("python")
    assert (info.x, info.y, info.w, info.h) == (50, 60, 320, 200)
    assert info.domain is None


def test_stacking_order_is_bottom_to_top(ctx, open_window) -> None:
    open_window("lower", "200x100+10+10")
    open_window("upper", "200x100+20+20")
    titles = [w.title for w in wait_for(lambda: ctx.windows() if len(ctx.windows()) >= 2 else [])]
    assert titles.index("lower") < titles.index("upper")


def test_closed_and_hidden_windows_are_not_listed(ctx, open_window, xvfb) -> None:
    from Xlib import Xatom, display

    a = open_window("going away")
    b = open_window("minimised")
    assert _find(ctx, "going away") and _find(ctx, "minimised")
    a.close()
    assert wait_for(lambda: all(w.title != "going away" for w in ctx.windows()))
    d = display.Display(xvfb)
    try:
        w = d.create_resource_object("window", b.xid).query_tree().parent
        hidden = d.intern_atom("_NET_WM_STATE_HIDDEN")
        w.change_property(d.intern_atom("_NET_WM_STATE"), Xatom.ATOM, 32, [hidden])
        d.sync()
        assert wait_for(lambda: all(x.title != "minimised" for x in ctx.windows()))
    finally:
        d.close()


def test_active_window_from_focus_and_from_ewmh(ctx, open_window, xvfb) -> None:
    from Xlib import X, Xatom, display

    first = open_window("first", "200x100+0+0")
    second = open_window("second", "200x100+300+0")
    assert _find(ctx, "second")
    d = display.Display(xvfb)
    try:
        # Without a window manager: the input focus.
        d.set_input_focus(d.create_resource_object("window", first.xid), X.RevertToParent, 0)
        d.sync()
        active = wait_for(lambda: [w.title for w in ctx.windows() if w.active])
        assert active == ["first"]
        # With one: _NET_ACTIVE_WINDOW on the root window wins.
        root = d.screen().root
        # A window manager names the client window; Tk's is the parent of its inner window.
        client = d.create_resource_object("window", second.xid).query_tree().parent
        root.change_property(d.intern_atom("_NET_ACTIVE_WINDOW"), Xatom.WINDOW, 32, [client.id])
        d.sync()
        active = wait_for(lambda: [w.title for w in ctx.windows() if w.active] == ["second"])
        assert active
        root.delete_property(d.intern_atom("_NET_ACTIVE_WINDOW"))
        d.sync()
    finally:
        d.close()


def test_a_password_manager_window_is_blacked_out_by_the_policy(ctx, open_window) -> None:
    open_window("notes", "400x300+0+0")
    open_window("Passwords.kdbx", "300x200+500+100", comm="keepassxc")
    windows = wait_for(lambda: ctx.windows() if len(ctx.windows()) >= 2 else None)
    decision = decide(windows, Rect(0, 0, 1280, 800), ExclusionRules(), ctx.screen_locked())
    assert not decision.drop
    assert decision.blackout == [Rect(500, 100, 300, 200)]
    assert [w.title for w, _ in decision.windows] == ["notes"]


def test_a_locker_window_means_locked(ctx, open_window) -> None:
    assert ctx.screen_locked() is False
    open_window("", "1280x800+0+0", colour="#000000", comm="i3lock")
    assert wait_for(ctx.screen_locked)
    windows, locked = ctx.snapshot()
    assert locked and any(w.app == "i3lock" for w in windows)
    decision = decide(windows, Rect(0, 0, 1280, 800), ExclusionRules(), False)
    assert decision.drop and decision.reason is DropReason.SCREEN_LOCKED


def test_active_screen_saver_means_locked(ctx, xvfb) -> None:
    from Xlib import X, display

    d = display.Display(xvfb)
    try:
        d.force_screen_saver(X.ScreenSaverActive)
        d.sync()
        assert wait_for(ctx.screen_locked)
        d.force_screen_saver(X.ScreenSaverReset)
        d.sync()
        assert wait_for(lambda: not ctx.screen_locked())
    finally:
        d.close()


def test_no_display_raises_a_clear_error() -> None:
    ctx = X11WindowContext(":4987")
    with pytest.raises(WindowContextUnavailable, match="Cannot connect to the X display"):
        ctx.windows()
    with pytest.raises(WindowContextUnavailable):
        ctx.screen_locked()


def test_wayland_and_other_platforms_fail_closed(monkeypatch) -> None:
    assert is_wayland_session({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"})
    assert is_wayland_session({"WAYLAND_DISPLAY": "wayland-0"})
    assert not is_wayland_session({"XDG_SESSION_TYPE": "x11", "DISPLAY": ":0"})
    wl = window_context_for_platform({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"})
    assert isinstance(wl, UnsupportedWindowContext)
    with pytest.raises(WindowContextUnavailable, match="Wayland") as err:
        wl.windows()
    assert str(err.value) == WAYLAND_MESSAGE
    with pytest.raises(WindowContextUnavailable):
        wl.screen_locked()
    # A frame is dropped when the context raises.
    assert decide(_raised(wl), Rect(0, 0, 10, 10), ExclusionRules()).drop
    no_display = window_context_for_platform({})
    with pytest.raises(WindowContextUnavailable, match="DISPLAY"):
        no_display.windows()
    assert isinstance(window_context_for_platform({"DISPLAY": ":0"}), X11WindowContext)
    for platform, name in (("win32", "Windows"), ("darwin", "macOS")):
        monkeypatch.setattr(sys, "platform", platform)
        other = window_context_for_platform({"DISPLAY": ":0"})
        with pytest.raises(WindowContextUnavailable, match=name):
            other.windows()


def _raised(ctx: UnsupportedWindowContext) -> BaseException | list:
    try:
        return ctx.windows()
    except WindowContextUnavailable as e:
        return e


def test_a_window_manager_frame_is_the_rectangle_and_the_client_gives_title_and_app(
    ctx, open_window, xvfb
) -> None:
    """Play window manager: reparent the client into a frame with a 30 px title bar, as
    reparenting window managers do, and mark the client with WM_STATE."""
    from Xlib import X, display

    win = open_window("framed client", "300x150+0+0")
    d = display.Display(xvfb)
    try:
        root = d.screen().root
        frame = root.create_window(
            100, 100, 300, 180, 0, X.CopyFromParent, X.InputOutput, X.CopyFromParent
        )
        client = d.create_resource_object("window", win.xid).query_tree().parent
        client.change_save_set(X.SetModeInsert)  # handed back to the root if we disconnect
        wm_state = d.intern_atom("WM_STATE")
        client.change_property(wm_state, wm_state, 32, [1, 0])
        client.reparent(frame, 0, 30)
        frame.map()
        d.sync()
        info = wait_for(
            lambda: next((w for w in ctx.windows() if w.title == "framed client"), None)
        )
        assert info is not None
        assert (info.x, info.y, info.w, info.h) == (100, 100, 300, 180)  # title bar included
        assert info.app == win.comm()
        assert sum(1 for w in ctx.windows() if w.title == "framed client") == 1
    finally:
        d.close()
