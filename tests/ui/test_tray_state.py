"""The tray's icon and status line come from one model: a review waiting beats paused, which
beats capturing, which beats idle; locking clears what the parts said."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pytestqt.qtbot import QtBot

from ui.tray import Tray, combined_state


def test_the_most_urgent_part_wins() -> None:
    assert combined_state({}) == ("idle", "Unlocked")
    parts = {"session": ("idle", "Unlocked"), "capture": ("capturing", "Capturing")}
    assert combined_state(parts) == ("capturing", "Capturing")
    parts["review"] = ("attention", "3 memories to review")
    assert combined_state(parts) == ("attention", "3 memories to review")
    parts["capture"] = ("paused", "Paused for 15 minutes")
    assert combined_state(parts)[0] == "attention"
    del parts["review"]
    assert combined_state(parts) == ("paused", "Paused for 15 minutes")
    parts["session"] = ("locked", "Locked")
    assert combined_state(parts) == ("locked", "Locked")


def test_a_waiting_review_is_not_painted_over_by_capture(qtbot: QtBot) -> None:
    """Seen: the icon turned red for a pending review, then the capture status painted over it
    and the menu said "Capturing" while the review waited."""
    tray = Tray()
    tray.set_state("idle", "Unlocked")
    tray.set_state("attention", "2 memories to review", part="review")
    tray.set_state("capturing", "Capturing", part="capture")  # the capture loop's next report
    assert tray.state == "attention"
    assert tray.status.text() == "2 memories to review"
    tray.set_state("idle", "Unlocked", part="review")  # reviewed
    assert tray.state == "capturing" and tray.status.text() == "Capturing"
    assert tray.lock_action.isEnabled()
    tray.set_state("locked", "Locked")
    assert tray.state == "locked" and not tray.lock_action.isEnabled()
    tray.set_state("idle", "Unlocked")  # unlocked again: nothing stale from before the lock
    assert tray.state == "idle" and tray.status.text() == "Unlocked"


def test_one_memory_to_review_is_said_in_the_singular(qtbot: QtBot) -> None:
    from types import SimpleNamespace

    from ui.trust_review import ReviewBadge

    tray = Tray()
    tray.set_state("idle", "Unlocked")
    badge = ReviewBadge(tray, SimpleNamespace(unlocked=True), None)  # type: ignore[arg-type]
    badge.show(1)
    assert tray.status.text() == "1 memory to review"
    assert badge.action.text() == "Review 1 suspicious memory…"
    badge.show(3)
    assert tray.status.text() == "3 memories to review"
    assert badge.action.text() == "Review 3 suspicious memories…"
