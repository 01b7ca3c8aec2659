"""Source trust: identities, priors, exact Beta updates, monotonicity, idle decay, bursts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import trust as tr
from core.clock import FixedClock
from core.suspicion import Flag
from core.trust import Trust

DAY = 86400.0


def flag(code: str = "ai_instruction", severity: int = 3) -> Flag:
    return Flag(code, "reason", severity)


# ---------------------------------------------------------------- identity and priors
def test_identity_screen_web_is_app_plus_domain_without_www() -> None:
    key, label = tr.source_identity("screen", app="Firefox", domain="www.Example.com", title="X")
    assert key == "web:firefox/example.com"
    assert "example.com" in label
    # The title does not split a domain into many sources.
    assert tr.source_identity("screen", app="firefox", domain="example.com", title="Y")[0] == key


def test_identity_screen_app_is_app_plus_window_without_counters() -> None:
    a = tr.source_identity("screen", app="thunderbird", title="(3) Inbox - Mail")[0]
    b = tr.source_identity("screen", app="thunderbird", title="(12) Inbox - Mail")[0]
    c = tr.source_identity("screen", app="gedit", title="*notes.txt")[0]
    assert a == b == "app:thunderbird/inbox - mail"
    assert c == "app:gedit/notes.txt"


def test_identity_import_is_file_plus_conversation() -> None:
    key, label = tr.source_identity(
        "import:whatsapp", file="/home/u/Downloads/chat.txt", conversation="Family"
    )
    assert key == "import:whatsapp:chat.txt#family"
    assert "Family" in label
    other = tr.source_identity("import:whatsapp", file="/x/chat.txt", conversation="Work")[0]
    assert other != key


def test_identity_import_with_an_author_is_one_participant_of_the_conversation() -> None:
    ana = tr.source_identity("import:jsonl", file="/x/a.jsonl", conversation="Trip", author="Ana")
    bot = tr.source_identity("import:jsonl", file="/x/a.jsonl", conversation="Trip", author="Bot")
    assert ana[0] == "import:jsonl:#trip@ana" and ana[0] != bot[0]
    assert "Ana in a.jsonl — Trip" in ana[1]
    # The same participant in a later export of the conversation (another file) is the same
    # source, so a caught participant does not start afresh; other conversations are apart.
    later = tr.source_identity("import:jsonl", file="/y/b.jsonl", conversation="trip", author="ANA")
    assert later[0] == ana[0]
    elsewhere = tr.source_identity(
        "import:jsonl", file="/x/a.jsonl", conversation="Work", author="Ana"
    )
    assert elsewhere[0] != ana[0]
    # Without a conversation the file scopes the participant; without an author, as before.
    assert tr.source_identity("import:jsonl", file="/x/a.jsonl", author="Ana")[0] == (
        "import:jsonl:a.jsonl@ana"
    )
    assert tr.source_identity("import:jsonl", file="/x/a.jsonl", conversation="Trip")[0] == (
        "import:jsonl:a.jsonl#trip"
    )


def test_message_score_lowers_only_the_flagged_message() -> None:
    t = tr.Trust(6.0, 6.0)
    assert tr.message_score(t, None) == tr.message_score(t, None, 0.0) == pytest.approx(0.5)
    assert tr.message_score(t, None, 3.0) == pytest.approx(6 / 15)
    # An "always" pin lifts the source, not a flagged message of it; "never" keeps it at 0.
    assert tr.message_score(t, tr.ALWAYS) == 1.0
    assert tr.message_score(t, tr.ALWAYS, 3.0) == pytest.approx(6 / 15)
    assert tr.message_score(t, tr.NEVER, 3.0) == 0.0


def test_user_typing_and_notes_are_one_source() -> None:
    assert tr.source_identity("chat")[0] == tr.source_identity("note")[0] == "chat"


def test_priors_rank_user_above_import_above_web() -> None:
    user = tr.prior_for("chat", "chat")
    imp = tr.prior_for("import:chatgpt", "import:chatgpt:x.json")
    web = tr.prior_for("screen", "web:firefox/example.com")
    local = tr.prior_for("screen", "app:gedit/notes.txt")
    assert user.mean > imp.mean > local.mean > web.mean
    assert web.mean == pytest.approx(0.5)


def test_trust_rejects_non_positive_parameters() -> None:
    with pytest.raises(ValueError):
        Trust(0.0, 1.0)
    with pytest.raises(ValueError):
        Trust(1.0, float("inf"))


# ---------------------------------------------------------------- exact updates
def test_suspicious_update_is_exact() -> None:
    ev = tr.suspicious([flag(severity=3), flag("hidden_tiny", 2)], memory_id=7)
    assert ev.weight == 4.5
    assert ev.detail == "ai_instruction:1,hidden_tiny:1"
    new, event = tr.apply(Trust(2, 2), ev, 100.0, prior=Trust(2, 2), source_key="web:x/y")
    assert (new.alpha, new.beta) == (2.0, 6.5)
    assert (event.d_alpha, event.d_beta, event.alpha, event.beta) == (0.0, 4.5, 2.0, 6.5)
    assert (event.memory_id, event.time, event.source_key, event.evidence) == (
        7,
        100.0,
        "web:x/y",
        "suspicious",
    )


def test_suspicion_weight_is_capped_and_low_flags_weigh_nothing() -> None:
    assert tr.suspicious([flag()] * 10).weight == tr.MAX_SUSPICION_WEIGHT
    assert tr.suspicious([flag("encoded_payload", 1)]).weight == 0.0


def test_rejection_lowers_strongly_and_approval_raises() -> None:
    prior = Trust(2, 2)
    rej, _ = tr.apply(prior, tr.rejected(1), 0, prior=prior)
    sus, _ = tr.apply(prior, tr.suspicious([flag()]), 0, prior=prior)
    app, ev = tr.apply(prior, tr.approved(1), 0, prior=prior)
    assert rej.mean < sus.mean < prior.mean < app.mean
    assert (app.alpha, app.beta) == (3.0, 2.0) and ev.d_alpha == 1.0


def test_approval_takes_back_the_memorys_penalty_but_not_more() -> None:
    prior = Trust(2, 2)
    flagged, _ = tr.apply(prior, tr.suspicious([flag("hidden_tiny", 2)]), 0, prior=prior)
    assert flagged == Trust(2, 3.5)
    back, ev = tr.apply(flagged, tr.approved(5, undo_beta=1.5), 1, prior=prior)
    assert back == Trust(3, 2) and (ev.d_alpha, ev.d_beta) == (1.0, -1.5)
    # An undo larger than what is left stops at the prior's beta.
    floor, _ = tr.apply(Trust(2, 2.5), tr.approved(5, undo_beta=10), 1, prior=prior)
    assert floor == Trust(3, 2)


def test_a_trickle_of_approved_false_positives_does_not_sink_a_source() -> None:
    prior = tr.PRIOR_USER
    t = prior
    for _ in range(100):
        ev = tr.suspicious([flag()])
        t, _ = tr.apply(t, ev, 0, prior=prior)
        t, _ = tr.apply(t, tr.approved(undo_beta=ev.weight), 0, prior=prior)
    assert t.mean >= prior.mean


def test_sleeper_discount_forfeits_half_the_banked_alpha() -> None:
    prior = Trust(2, 2)
    banked = Trust(12, 2)  # ten approvals' worth above the prior
    new, ev = tr.apply(banked, tr.rejected(), 0, prior=prior)
    assert new.alpha == 7.0 and new.beta == 8.0
    assert ev.d_alpha == -5.0
    # A flag alone does not: it may be a false positive the user will approve.
    flagged, _ = tr.apply(banked, tr.suspicious([flag()]), 0, prior=prior)
    assert flagged.alpha == 12.0
    # Nor is alpha ever pushed below the prior's.
    low, _ = tr.apply(Trust(1, 2), tr.rejected(), 0, prior=prior)
    assert low.alpha == 1.0


def test_no_evidence_kind_for_retrieval() -> None:
    names = " ".join(tr.EVIDENCE_KINDS)
    for word in ("retriev", "cite", "search", "hit", "benign"):
        assert word not in names
    with pytest.raises(ValueError):
        tr.Evidence("retrieved")


def test_idle_decay_is_not_applied_through_apply() -> None:
    with pytest.raises(ValueError):
        tr.apply(Trust(2, 2), tr.Evidence(tr.IDLE_DECAY), 0, prior=Trust(2, 2))


def test_pinned_event_changes_nothing() -> None:
    new, ev = tr.apply(Trust(3, 4), tr.Evidence(tr.PINNED), 0, prior=Trust(2, 2))
    assert new == Trust(3, 4) and ev.d_alpha == ev.d_beta == 0


_LOWERING = st.one_of(
    st.builds(
        lambda sev: tr.suspicious([flag(severity=s) for s in sev]),
        st.lists(st.integers(1, 3), min_size=1, max_size=6),
    ),
    st.just(tr.rejected()),
    st.builds(lambda n: tr.burst(n, 60), st.integers(1, 500)),
    st.just(tr.Evidence(tr.PINNED)),
)


@settings(max_examples=200, deadline=None)
@given(
    a=st.floats(0.5, 200),
    b=st.floats(0.5, 200),
    seq=st.lists(_LOWERING, max_size=30),
    pa=st.floats(0.5, 20),
    pb=st.floats(0.5, 20),
)
def test_non_approval_evidence_never_raises_the_mean(
    a: float, b: float, seq: list[tr.Evidence], pa: float, pb: float
) -> None:
    t = Trust(a, b)
    for i, ev in enumerate(seq):
        new, event = tr.apply(t, ev, float(i), prior=Trust(pa, pb))
        assert new.mean <= t.mean + 1e-12
        assert event.d_beta >= 0 and event.d_alpha <= 0
        t = new


@settings(max_examples=100, deadline=None)
@given(a=st.floats(0.5, 200), b=st.floats(0.5, 200), n=st.integers(1, 20))
def test_approval_always_raises_the_mean(a: float, b: float, n: int) -> None:
    t = Trust(a, b)
    for _ in range(n):
        new, _ = tr.apply(t, tr.approved(), 0, prior=Trust(2, 2))
        assert new.mean > t.mean
        t = new


# ---------------------------------------------------------------- decay, pins, search weight
def test_decay_halves_the_distance_to_the_prior_per_half_life() -> None:
    prior = Trust(2, 2)
    hit = Trust(2, 10)
    half = tr.decay(hit, prior, tr.HALF_LIFE_S)
    assert (half.alpha, half.beta) == (2.0, 6.0)
    assert tr.decay(hit, prior, 0) == hit
    far = tr.decay(hit, prior, 50 * tr.HALF_LIFE_S)
    assert far.mean == pytest.approx(prior.mean, abs=1e-9)


def test_idle_gap_counts_only_real_idleness() -> None:
    assert tr.idle_gap(0.0, 10 * DAY, 16 * DAY) == 0.0  # wrote six days ago: active
    assert tr.idle_gap(0.0, 10 * DAY, 20 * DAY) == 3 * DAY
    assert tr.idle_gap(5 * DAY, None, 14 * DAY) == 2 * DAY


def test_pins_override_the_score_and_search_weight_is_bounded() -> None:
    t = Trust(1, 9)
    assert tr.effective(t, "always") == 1.0
    assert tr.effective(t, "never") == 0.0
    assert tr.effective(t, None) == pytest.approx(0.1)
    assert tr.search_weight(0.0) == tr.SEARCH_FLOOR and tr.search_weight(1.0) == 1.0
    assert tr.search_weight(0.2) < tr.search_weight(0.5) < tr.search_weight(0.95)
    assert not tr.usable_in_answers(0.1) and tr.usable_in_answers(0.5)


# ---------------------------------------------------------------- bursts
def test_burst_fires_once_per_window_for_chat() -> None:
    clock = FixedClock(1_000_000.0)
    tracker = tr.BurstTracker()
    fired = []
    for _ in range(100):  # 100 messages, one every 0.5 s
        ev = tracker.note_write(1, "chat", clock.now())
        if ev:
            fired.append((clock.now(), ev))
        clock.advance(0.5)
    assert len(fired) == 1  # 31st write inside 60 s; the rest of the 50 s flood is one event
    assert fired[0][1].kind == tr.BURST and fired[0][1].detail == "writes:31/60s"


def test_screens_at_capture_cadence_are_not_a_burst() -> None:
    clock = FixedClock(0.0)
    tracker = tr.BurstTracker()
    # A user reading and scrolling for an hour: a memory every 2 s from the same domain.
    for _ in range(1800):
        assert tracker.note_write("web", "screen", clock.now()) is None
        clock.advance(2.0)
    # Text changing on every frame of a 1 s capture for five minutes is a flood: one event.
    hits = [tracker.note_write("spam", "screen", float(t)) for t in range(0, 600)]
    assert sum(h is not None for h in hits) == 2  # once, then once more a window later


def test_imports_are_exempt_from_bursts() -> None:
    tracker = tr.BurstTracker()
    assert all(tracker.note_write(3, "import:chatgpt", 0.0) is None for _ in range(5000))


def test_is_burst_counts_the_window_only() -> None:
    limit = tr.BurstLimit(60.0, 3)
    assert not tr.is_burst([0, 1, 2, 100], 100, limit)
    assert tr.is_burst([50, 60, 70, 100], 100, limit)
