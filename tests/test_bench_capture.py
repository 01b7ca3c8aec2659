"""bench.capture's account of where each change of the active workload went."""

from __future__ import annotations

from bench.capture import FrameLog, change_fates


def _log(queued: list[float], folded: list[float], read: list[float]) -> FrameLog:
    log = FrameLog.__new__(FrameLog)  # no service to wrap: the lists are what it records
    log.queued, log.folded, log.read = queued, folded, read
    return log


def test_every_change_gets_one_fate_from_its_frames_and_the_store() -> None:
    shown = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    frames = _log(
        queued=[1.0, 6.0, 11.0, 21.0, 31.0, 41.0],
        folded=[11.0, 21.0],  # 10's frame and 20's were folded into newer ones
        read=[1.0, 6.0, 31.0],  # 40's frame waits in the backlog; 50 was never grabbed
    )
    found = [True, True, False, False, False, False]
    out = change_fates(shown, 52.0, frames, found)
    assert out["fates"] == {
        "read": 1,
        "coalesced_and_contained": 1,
        "coalesced_and_lost": 1,
        "read_not_stored": 1,
        "waiting": 1,
        "never_grabbed": 1,
    }
    fates = {m["change"]: m["fate"] for m in out["not_plainly_read"]}
    assert fates == {1: "coalesced_and_contained", 2: "coalesced_and_lost", 3: "read_not_stored",
                     4: "waiting", 5: "never_grabbed"}  # fmt: skip
    assert out["not_plainly_read"][-1]["visible_s"] == 2.0  # the last shows until the end
