"""Which windows must never be captured, and what to do with a frame: drop it, or black out the
excluded windows on it. Fails closed: no window information, a locked screen, or an excluded
window that cannot be located means the frame is dropped."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise

import numpy as np

from core.capture.context import domain_from_title, normalise_domain
from core.capture.geometry import Rect, subtract
from core.errors import BadInput
from core.interfaces import WindowInfo

# Process names are compared lower-case, without ".exe"; Linux truncates them to 15 characters
# (/proc/<pid>/comm), so "gnome-screensaver" arrives as "gnome-screensav".
_COMM_LEN = 15

DEFAULT_PASSWORD_MANAGERS = frozenset(
    {
        "keepassxc", "keepass", "keepass2", "keepassx", "kpcli", "bitwarden", "1password",
        "enpass", "lastpass", "dashlane", "nordpass", "roboform", "proton pass", "proton-pass",
        "seahorse", "gnome-keyring", "gnome-keyring-daemon", "kwalletmanager",
        "kwalletmanager5", "kwalletd5", "kwalletd6", "ksecretd", "gopass", "qtpass",
        "passwordsafe", "gnome-passwordsafe", "secrets", "pinentry", "pinentry-gtk-2",
        "pinentry-gnome3", "pinentry-qt", "ssh-askpass", "polkit-gnome-authentication-agent-1",
    }
)  # fmt: skip
DEFAULT_LOCKERS = frozenset(
    {
        "xscreensaver", "xscreensaver-gl", "i3lock", "i3lock-color", "gnome-screensaver",
        "light-locker", "swaylock", "slock", "xsecurelock", "xlock", "xlockmore",
        "xtrlock", "physlock", "betterlockscreen", "kscreenlocker_greet", "cinnamon-screensaver",
        "mate-screensaver", "xfce4-screensaver", "lightdm-gtk-greeter", "gdm", "logonui",
        "lockapp", "screensaverengine", "loginwindow",
    }
)  # fmt: skip
# Case-insensitive substrings of a window title that mark private browsing or a vault.
DEFAULT_TITLE_MARKERS = (
    "private browsing", "incognito", "inprivate", "private window", "tor browser",
    "private tab", "keepassxc", "bitwarden", "1password", "lastpass", "enpass",
)  # fmt: skip


class DropReason(StrEnum):
    WINDOW_INFO_UNAVAILABLE = "window_info_unavailable"
    SCREEN_LOCKED = "screen_locked"
    EXCLUDED_WINDOW_UNLOCATED = "excluded_window_unlocated"
    EXCLUDED_WINDOW_FILLS_SCREEN = "excluded_window_fills_screen"


class ExcludedBecause(StrEnum):
    APP = "app"
    TITLE = "title"
    DOMAIN = "domain"
    PRIVATE_BROWSING = "private_browsing"
    PASSWORD_MANAGER = "password_manager"
    LOCK_SCREEN = "lock_screen"


def normalise_app(name: str) -> str:
    n = name.strip().lower()
    return n[:-4] if n.endswith(".exe") else n


def _app_matches(app: str, names: frozenset[str]) -> bool:
    a = normalise_app(app)
    if not a:
        return False
    if a in names:
        return True
    # A truncated comm name matches the full name it is the start of.
    return len(a) == _COMM_LEN and any(n.startswith(a) for n in names)


@dataclass(frozen=True, slots=True)
class TitlePattern:
    """A user's title pattern. "re:<regex>" is a regular expression searched in the title;
    anything else is a glob (*, ?, [..]) on the whole title, or, with no wildcard, a phrase the
    title contains. Case-insensitive."""

    source: str
    regex: re.Pattern[str]

    @classmethod
    def parse(cls, text: str) -> TitlePattern:
        raw = text.strip()
        if not raw:
            raise BadInput("A window title pattern is empty. Type a word or pattern to exclude.")
        if len(raw) > 500:
            raise BadInput("A window title pattern is longer than 500 characters; shorten it.")
        if raw.lower().startswith("re:"):
            expr = raw[3:]
            if not expr.strip():
                raise BadInput("The regular expression after 're:' is empty.")
            try:
                compiled = re.compile(expr, re.IGNORECASE)
            except re.error as e:
                raise BadInput(
                    f"The window title pattern {raw!r} is not a valid regular expression "
                    f"({e}). Fix it, or drop the 're:' prefix to use a simple pattern."
                ) from None
        elif any(c in raw for c in "*?["):
            if raw.count("[") != raw.count("]"):
                raise BadInput(
                    f"The window title pattern {raw!r} has an unclosed '['. Close it, or "
                    "remove the bracket."
                )
            compiled = re.compile("^" + fnmatch.translate(raw), re.IGNORECASE)
        else:
            compiled = re.compile(re.escape(raw), re.IGNORECASE)
        if compiled.search("") is not None:
            raise BadInput(
                f"The window title pattern {raw!r} matches every window, which would stop all "
                "capture. Use Pause instead, or make the pattern more specific."
            )
        return cls(raw, compiled)

    def matches(self, title: str) -> bool:
        return self.regex.search(title) is not None


def parse_domain(text: str) -> str:
    domain = normalise_domain(text)
    if domain is None:
        raise BadInput(f"{text.strip()!r} is not a web site domain. Enter it like 'example.com'.")
    return domain


@dataclass(frozen=True, slots=True)
class ExclusionRules:
    """The defaults plus the user's own apps, title patterns and domains. Build it with
    `ExclusionRules.from_user(...)`, which validates what the user typed."""

    apps: frozenset[str] = frozenset()
    titles: tuple[TitlePattern, ...] = ()
    domains: frozenset[str] = frozenset()
    password_managers: frozenset[str] = DEFAULT_PASSWORD_MANAGERS
    lockers: frozenset[str] = DEFAULT_LOCKERS
    title_markers: tuple[str, ...] = DEFAULT_TITLE_MARKERS

    @classmethod
    def from_user(
        cls,
        apps: Iterable[str] = (),
        titles: Iterable[str] = (),
        domains: Iterable[str] = (),
    ) -> ExclusionRules:
        app_names = set()
        for a in apps:
            n = normalise_app(a)
            if not n:
                raise BadInput("An excluded app name is empty. Pick an app from the list.")
            app_names.add(n)
        return cls(
            apps=frozenset(app_names),
            titles=tuple(TitlePattern.parse(t) for t in titles),
            domains=frozenset(parse_domain(d) for d in domains),
        )

    def excluded_because(self, window: WindowInfo) -> ExcludedBecause | None:
        """Why this window must not be captured, or None if it may be."""
        title = window.title or ""
        lower = title.lower()
        if _app_matches(window.app, self.lockers):
            return ExcludedBecause.LOCK_SCREEN
        if _app_matches(window.app, self.password_managers):
            return ExcludedBecause.PASSWORD_MANAGER
        if _app_matches(window.app, self.apps):
            return ExcludedBecause.APP
        if any(m in lower for m in self.title_markers):
            return ExcludedBecause.PRIVATE_BROWSING
        if any(p.matches(title) for p in self.titles):
            return ExcludedBecause.TITLE
        if self.domains:
            domain = window.domain or domain_from_title(window.app, title)
            if domain and any(domain == d or domain.endswith("." + d) for d in self.domains):
                return ExcludedBecause.DOMAIN
            # The domain is often not in the title; the name itself still excludes.
            if any(re.search(r"(?<![\w.-])" + re.escape(d) + r"(?![\w-])", lower)
                   for d in self.domains):  # fmt: skip
                return ExcludedBecause.DOMAIN
        return None


@dataclass(slots=True)
class CaptureDecision:
    """For one monitor's frame: drop it (reason, never content), or black out `blackout`
    (monitor-relative pixels) and capture the rest. `active` is the foreground window for
    provenance (None when it is excluded or unknown); `windows` are the captured windows
    visible on this monitor with monitor-relative rectangles, topmost last."""

    drop: bool
    reason: DropReason | None = None
    blackout: list[Rect] = field(default_factory=list)
    active: WindowInfo | None = None
    active_excluded: bool = False
    windows: list[tuple[WindowInfo, Rect]] = field(default_factory=list)
    excluded: list[ExcludedBecause] = field(default_factory=list)

    @classmethod
    def dropped(cls, reason: DropReason) -> CaptureDecision:
        return cls(drop=True, reason=reason)


def decide(
    windows: Sequence[WindowInfo] | BaseException | None,
    monitor: Rect,
    rules: ExclusionRules,
    locked: bool | BaseException | None = False,
    *,
    after: Sequence[WindowInfo] | BaseException | None = None,
    fill_fraction: float = 0.9,
) -> CaptureDecision:
    """Decide what happens to a frame of `monitor` (its rectangle in screen coordinates).

    `windows` is WindowContext.windows() (topmost last), or the exception it raised, or None
    when it could not be asked: all three but a list drop the frame. `locked` is
    WindowContext.screen_locked() or the exception it raised. To close the race with a window
    appearing or closing during the grab, pass the windows read before the grab followed by
    those read after it as `after`: every excluded window of either is blacked out.

    Blacking out follows the window stack: only the part of an excluded window that no window
    above it covers is blacked out (in each of the two lists), so a window lying over an
    excluded one (or over Mnemo's own) is captured."""
    if after is not None:
        if isinstance(after, BaseException):
            return CaptureDecision.dropped(DropReason.WINDOW_INFO_UNAVAILABLE)
        stacks: list[Sequence[WindowInfo]] = []
        if not isinstance(windows, BaseException) and windows is not None:
            stacks = [windows, after]
            windows = [*windows, *after]
    else:
        stacks = [] if windows is None or isinstance(windows, BaseException) else [windows]
    if windows is None or isinstance(windows, BaseException):
        return CaptureDecision.dropped(DropReason.WINDOW_INFO_UNAVAILABLE)
    if locked is None or isinstance(locked, BaseException):
        return CaptureDecision.dropped(DropReason.WINDOW_INFO_UNAVAILABLE)
    if locked:
        return CaptureDecision.dropped(DropReason.SCREEN_LOCKED)
    blackout: list[Rect] = []
    reasons: list[ExcludedBecause] = []
    visible: list[tuple[WindowInfo, Rect]] = []
    active: WindowInfo | None = None
    active_excluded = False
    shown = _shown_parts(stacks, monitor)
    for n, w in enumerate(windows):
        because = rules.excluded_because(w)
        rect = Rect(w.x, w.y, w.w, w.h)
        if because is ExcludedBecause.LOCK_SCREEN:
            return CaptureDecision.dropped(DropReason.SCREEN_LOCKED)
        if because is not None:
            if rect.empty():
                return CaptureDecision.dropped(DropReason.EXCLUDED_WINDOW_UNLOCATED)
            reasons.append(because)
            for part in shown[n]:
                blackout.append(part.translate(-monitor.x, -monitor.y))
            if w.active:
                active, active_excluded = None, True
            continue
        on_monitor = rect.intersect(monitor) if not rect.empty() else None
        if on_monitor is not None:
            visible.append((w, on_monitor.translate(-monitor.x, -monitor.y)))
        if w.active:
            active, active_excluded = w, False
    if blackout and covered_area(blackout) >= fill_fraction * monitor.area:
        return CaptureDecision.dropped(DropReason.EXCLUDED_WINDOW_FILLS_SCREEN)
    return CaptureDecision(
        drop=False,
        blackout=blackout,
        active=active,
        active_excluded=active_excluded,
        windows=visible,
        excluded=reasons,
    )


def _shown_parts(stacks: Sequence[Sequence[WindowInfo]], monitor: Rect) -> list[list[Rect]]:
    """For each window of the stacks (concatenated, as `decide` numbers them), the parts of it
    on `monitor` that no window above it in its own stack covers (screen coordinates)."""
    out: list[list[Rect]] = []
    for stack in stacks:
        rects = [Rect(w.x, w.y, w.w, w.h) for w in stack]
        for i, r in enumerate(rects):
            on_monitor = r.intersect(monitor) if not r.empty() else None
            if on_monitor is None:
                out.append([])
                continue
            above = [a for a in rects[i + 1 :] if not a.empty()]
            out.append(subtract(on_monitor, above))
    return out


def covered_area(rects: Sequence[Rect]) -> int:
    """Area of the union of rectangles (coordinate compression; a handful of windows)."""
    xs = sorted({v for r in rects for v in (r.x, r.right)})
    ys = sorted({v for r in rects for v in (r.y, r.bottom)})
    total = 0
    for y0, y1 in pairwise(ys):
        for x0, x1 in pairwise(xs):
            if any(r.x <= x0 and x1 <= r.right and r.y <= y0 and y1 <= r.bottom for r in rects):
                total += (x1 - x0) * (y1 - y0)
    return total


def black_out(frame: np.ndarray, rects: Iterable[Rect]) -> np.ndarray:
    """Paint `rects` (frame pixels, clipped here) black in place, alpha kept; returns `frame`."""
    height, width = frame.shape[:2]
    bounds = Rect(0, 0, width, height)
    for r in rects:
        c = r.intersect(bounds)
        if c is None:
            continue
        if frame.ndim == 3 and frame.shape[2] == 4:
            frame[c.y : c.bottom, c.x : c.right, :3] = 0
        else:
            frame[c.y : c.bottom, c.x : c.right] = 0
    return frame
