"""Exclusion policy: fails closed, blacks out excluded windows, validates user patterns."""

from __future__ import annotations

import numpy as np
import pytest

from core.capture.context import domain_from_title, normalise_domain
from core.capture.exclusions import (
    CaptureDecision,
    DropReason,
    ExcludedBecause,
    ExclusionRules,
    TitlePattern,
    black_out,
    covered_area,
    decide,
)
from core.capture.geometry import Rect
from core.errors import BadInput
from core.interfaces import WindowInfo

MONITOR = Rect(0, 0, 1920, 1080)
RULES = ExclusionRules()


def win(app: str, title: str = "", x: int = 0, y: int = 0, w: int = 400, h: int = 300,
        active: bool = False, domain: str | None = None) -> WindowInfo:  # fmt: skip
    return WindowInfo(app=app, title=title, x=x, y=y, w=w, h=h, domain=domain, active=active)


def test_unavailable_window_information_drops_the_frame() -> None:
    for info in (None, RuntimeError("X connection lost")):
        d = decide(info, MONITOR, RULES)
        assert d.drop and d.reason is DropReason.WINDOW_INFO_UNAVAILABLE
        assert d.blackout == [] and d.windows == [] and d.active is None
    # Not knowing whether the screen is locked also drops.
    for locked in (None, OSError("no screensaver info")):
        d = decide([win("gedit")], MONITOR, RULES, locked=locked)
        assert d.drop and d.reason is DropReason.WINDOW_INFO_UNAVAILABLE


def test_locked_screen_or_a_visible_locker_drops() -> None:
    assert decide([win("gedit")], MONITOR, RULES, locked=True).reason is DropReason.SCREEN_LOCKED
    for locker in ("i3lock", "xscreensaver", "gnome-screensav", "light-locker", "swaylock"):
        d = decide([win("gedit"), win(locker, w=1920, h=1080)], MONITOR, RULES)
        assert d.drop and d.reason is DropReason.SCREEN_LOCKED, locker


@pytest.mark.parametrize(
    "window",
    [
        win("keepassxc", "Passwords.kdbx - KeePassXC"),
        win("KeePass.exe", "Database"),
        win("bitwarden", "Bitwarden"),
        win("1password", "1Password"),
        win("enpass", "Enpass"),
        win("seahorse", "Passwords and Keys"),
        win("kwalletmanager5", "KDE Wallet"),
        win("firefox", "Bank — Mozilla Firefox Private Browsing"),
        win("chrome", "New Tab - Google Chrome (Incognito)"),
        win("msedge", "InPrivate - Microsoft Edge"),
        win("brave", "Private Window - Brave"),
        win("firefox.real", "Onion Site — Tor Browser"),
        win("chrome", "Vault | Bitwarden Web Vault - Google Chrome"),
    ],
)
def test_default_exclusions(window: WindowInfo) -> None:
    assert RULES.excluded_because(window) is not None


def test_ordinary_windows_are_captured() -> None:
    for w in (
        win("firefox", "Rust docs — Mozilla Firefox"),
        win("code", "main.py - mnemo - Visual Studio Code"),
        win("gnome-terminal-server", "alice@host: ~"),
        win("python3", "Notes"),
    ):
        assert RULES.excluded_because(w) is None, w


def test_excluded_window_is_blacked_out_clipped_to_the_monitor() -> None:
    windows = [
        win("gedit", "notes.txt", 0, 0, 1000, 800),
        win("keepassxc", "KeePassXC", 1700, 900, 400, 300, active=True),
    ]
    d = decide(windows, MONITOR, RULES)
    assert not d.drop
    assert d.blackout == [Rect(1700, 900, 220, 180)]
    assert d.active is None and d.active_excluded
    assert [w.app for w, _ in d.windows] == ["gedit"]
    assert d.excluded == [ExcludedBecause.PASSWORD_MANAGER]


def test_second_monitor_coordinates_are_monitor_relative() -> None:
    right = Rect(1920, 0, 1280, 1024)
    windows = [
        win("keepassxc", "", 1900, 100, 200, 200),
        win("gedit", "a", 2000, 50, 300, 300, active=True),
    ]
    d = decide(windows, right, RULES)
    # The editor lies over the vault from x=2000: only the 80 px of the vault left of it show.
    assert d.blackout == [Rect(0, 100, 80, 200)]
    assert d.active is not None and d.active.app == "gedit"
    assert d.windows[0][1] == Rect(80, 50, 300, 300)
    # On the left monitor only the password manager's visible part is blacked out.
    left = decide(windows, MONITOR, RULES)
    assert left.blackout == [Rect(1900, 100, 20, 200)] and left.windows == []


def test_excluded_window_that_cannot_be_located_drops() -> None:
    d = decide([win("bitwarden", "", 0, 0, 0, 0)], MONITOR, RULES)
    assert d.drop and d.reason is DropReason.EXCLUDED_WINDOW_UNLOCATED


def test_excluded_window_filling_the_screen_drops() -> None:
    d = decide([win("keepassxc", "", 0, 0, 1920, 1080)], MONITOR, RULES)
    assert d.drop and d.reason is DropReason.EXCLUDED_WINDOW_FILLS_SCREEN


def test_windows_before_and_after_the_grab_are_both_blacked_out() -> None:
    before = [win("gedit", "a"), win("keepassxc", "", 500, 500, 100, 100)]
    after = [win("gedit", "a", active=True)]  # the vault closed during the grab
    d = decide(before, MONITOR, RULES, after=after)
    assert d.blackout == [Rect(500, 500, 100, 100)]
    assert d.active is not None and d.active.app == "gedit"


def test_a_window_lying_over_an_excluded_one_is_captured() -> None:
    # Mnemo's own window (excluded) below an editor that overlaps its left half: only the
    # uncovered right half is blacked out; the editor's text is captured.
    rules = ExclusionRules.from_user(["mnemo"])
    windows = [
        win("mnemo", "Mnemo", 100, 100, 800, 600),
        win("xterm", "invoice", 50, 50, 500, 400, active=True),
    ]
    d = decide(windows, MONITOR, rules)
    assert covered_area(d.blackout) == 800 * 600 - (550 - 100) * (450 - 100)
    assert all(r.intersect(Rect(50, 50, 500, 400)) is None for r in d.blackout)
    assert [w.app for w, _ in d.windows] == ["xterm"]
    # The other way round (the excluded window on top), all of it is blacked out.
    d = decide(windows[::-1], MONITOR, rules)
    assert d.blackout == [Rect(100, 100, 800, 600)]


def test_an_excluded_window_under_others_is_blacked_out_where_it_shows_in_either_list() -> None:
    vault = win("keepassxc", "", 0, 0, 600, 400)
    cover = win("gedit", "notes", 0, 0, 600, 400)
    # Before the grab the editor covered the vault; after it, it had moved away: the vault
    # may have shown during the grab, so it is blacked out.
    d = decide(
        [vault, cover], MONITOR, RULES, after=[vault, win("gedit", "notes", 900, 0, 600, 400)]
    )
    assert covered_area(d.blackout) == 600 * 400
    # Covered in both lists: nothing of it shows, nothing to black out.
    d = decide([vault, cover], MONITOR, RULES, after=[vault, cover])
    assert d.blackout == [] and not d.drop
    # Window information failing after the grab drops the frame.
    err = RuntimeError("gone")
    assert decide([vault], MONITOR, RULES, after=err).reason is DropReason.WINDOW_INFO_UNAVAILABLE


def test_user_apps_titles_and_domains() -> None:
    rules = ExclusionRules.from_user(
        apps=["Signal", "thunderbird.exe"],
        titles=["*online banking*", "re:^Payroll \\d{4}$", "Medical"],
        domains=["https://www.MyBank.example/login"],
    )
    assert rules.excluded_because(win("signal", "Signal")) is ExcludedBecause.APP
    assert rules.excluded_because(win("thunderbird", "Inbox")) is ExcludedBecause.APP
    assert rules.excluded_because(win("x", "ACME Online Banking")) is ExcludedBecause.TITLE
    assert rules.excluded_because(win("x", "Payroll 2025")) is ExcludedBecause.TITLE
    assert rules.excluded_because(win("x", "Payroll 2025 draft")) is None
    assert rules.excluded_because(win("x", "my medical records")) is ExcludedBecause.TITLE
    ff = "Accounts - login.mybank.example - Mozilla Firefox"
    assert rules.excluded_because(win("firefox", ff)) is ExcludedBecause.DOMAIN
    assert rules.excluded_because(win("x", "t", domain="mybank.example")) is ExcludedBecause.DOMAIN
    assert rules.excluded_because(win("firefox", "notmybank.example - Firefox")) is None
    assert rules.excluded_because(win("firefox", "Weather - Mozilla Firefox")) is None


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "empty"),
        ("re:(unclosed", "not a valid regular expression"),
        ("re:", "empty"),
        ("*", "matches every window"),
        ("re:.*", "matches every window"),
        ("[abc", "unclosed"),
        ("x" * 501, "longer than 500"),
    ],
)
def test_bad_title_patterns_are_refused_clearly(pattern: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        TitlePattern.parse(pattern)


def test_globs_match_the_whole_title_and_phrases_any_part() -> None:
    assert TitlePattern.parse("Payroll*").matches("payroll 2025")
    assert not TitlePattern.parse("Payroll*").matches("My Payroll 2025")
    assert TitlePattern.parse("*payroll*").matches("My Payroll 2025")
    assert TitlePattern.parse("payroll").matches("My Payroll 2025")
    assert TitlePattern.parse("re:pay(roll|slip)").matches("March payslip.pdf")


def test_bad_domains_and_apps_are_refused() -> None:
    with pytest.raises(BadInput, match="not a web site domain"):
        ExclusionRules.from_user(domains=["not a domain"])
    with pytest.raises(BadInput, match="empty"):
        ExclusionRules.from_user(apps=["  "])


@pytest.mark.parametrize(
    ("app", "title", "domain"),
    [
        ("firefox", "Example Domain - example.com - Mozilla Firefox", "example.com"),
        ("firefox", "Example Domain — example.com — Mozilla Firefox", "example.com"),
        ("firefox-esr", "https://docs.python.org/3/library/re.html — Mozilla Firefox",
         "docs.python.org"),
        ("chrome", "Inbox (3) - mail.example.org - Google Chrome", "mail.example.org"),
        ("chromium", "www.wikipedia.org - Chromium", "wikipedia.org"),
        ("brave", "news.ycombinator.com - Brave", "news.ycombinator.com"),
        ("firefox", "Example Domain — Mozilla Firefox", None),
        ("firefox", "Why I like example.com — Mozilla Firefox", None),
        ("firefox", "notes.txt — Mozilla Firefox", None),
        ("code", "example.com - Visual Studio Code", None),
        ("chrome", "", None),
    ],
)  # fmt: skip
def test_domain_from_title(app: str, title: str, domain: str | None) -> None:
    assert domain_from_title(app, title) == domain


def test_normalise_domain() -> None:
    assert normalise_domain("HTTPS://WWW.Example.COM:8443/a?b") == "example.com"
    assert normalise_domain("localhost") is None
    assert normalise_domain("report.pdf") is None


def test_black_out_paints_only_the_rects_and_keeps_alpha() -> None:
    frame = np.full((100, 200, 4), 200, np.uint8)
    black_out(frame, [Rect(10, 20, 30, 40), Rect(190, 90, 50, 50)])
    assert (frame[20:60, 10:40, :3] == 0).all()
    assert (frame[90:, 190:, :3] == 0).all()
    assert (frame[..., 3] == 200).all()
    assert int((frame[..., :3] == 0).all(axis=2).sum()) == 30 * 40 + 10 * 10
    rgb = np.full((10, 10, 3), 9, np.uint8)
    black_out(rgb, [Rect(-5, -5, 8, 8)])
    assert (rgb[:3, :3] == 0).all() and rgb.sum() == 9 * 3 * (100 - 9)


def test_covered_area_counts_overlaps_once() -> None:
    assert covered_area([Rect(0, 0, 10, 10), Rect(5, 5, 10, 10)]) == 175
    assert covered_area([]) == 0


def test_decision_dropped_carries_no_content() -> None:
    d = CaptureDecision.dropped(DropReason.SCREEN_LOCKED)
    assert d.drop and d.windows == [] and d.blackout == [] and d.active is None
