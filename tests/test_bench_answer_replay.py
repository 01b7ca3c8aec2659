"""bench.answer_replay: extraction re-run on recorded inputs, figures per mode and part."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.answer_replay import replay
from core.prompting import Evidence


def _ev(i: int, text: str, conv: str) -> Evidence:
    when = datetime(2023, 7, 3, 12, tzinfo=UTC).timestamp()
    return Evidence(
        memory_id=i, text=text, time=when, source="chat", author="Melanie", conversation=conv
    )


def _rec(conv: str, question: str, answer: str, cat: int) -> dict[str, object]:
    ev = _ev(1, "I signed up for a pottery class yesterday. Can't wait!", conv)
    qa = {"question": question, "answer": answer, "category": cat, "evidence": ["D1:1"]}
    return dict(
        qa=qa, mode="retrieved", ext={1: "D1:1"}, question=question, evidence=[ev], tz=UTC,
        following={}, contrast=[],
    )  # fmt: skip


def test_replay_scores_dev_and_held_out_apart() -> None:
    q = "When did Melanie sign up for a pottery class?"
    recs = [
        _rec("conv-26", q, "2 July 2023", 2),
        _rec("conv-42", q, "5 May 2021", 2),
        _rec("conv-42", "What did Melanie say about the sailing trip of Ana?", "", 5),
    ]
    out = replay(recs, held_out=("conv-42",))["retrieved"]
    assert out["dev"]["f1"] == 1.0 and out["dev"]["gold_cited"] == 1.0
    assert out["held_out"]["f1"] < 0.5 and out["held_out"]["answerable"] == 1
    assert out["held_out"]["adversarial"] == 1 and out["all"]["answerable"] == 2


def test_make_bench_does_not_run_the_replay_tool() -> None:
    # It needs a record to replay: run without one, it would fail `make bench`.
    from bench.__main__ import bench_names

    names = bench_names()
    assert "answer_replay" not in names
    assert "answer_locomo" in names


def test_replay_by_kind_says_where_the_f1_is_lost() -> None:
    q = "When did Melanie sign up for a pottery class?"
    recs = [
        _rec("conv-26", q, "2 July 2023", 2),
        _rec("conv-26", q, "5 May 2021", 2),
        _rec("conv-26", "What did Melanie say about the sailing trip of Ana?", "", 5),
    ]
    out = replay(recs, held_out=("conv-42",), by_kind=True)["retrieved"]["by_kind"]["dev"]
    assert out["temporal/date"] == {
        "questions": 2,
        "abstained": 0.0,
        "f1": 0.5,
        "f1_points_lost": 1.0,
    }
    (adv,) = (v for k, v in out.items() if k.startswith("adversarial/"))
    assert adv == {"questions": 1, "abstained": 1.0}
    assert "by_kind" not in replay(recs, held_out=("conv-42",))["retrieved"]


def test_replay_following_keeps_only_the_first_turns(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import bench.answer_replay as tool

    seen: list[object] = []
    real = tool.extraction.extract

    def extract(*a, **kw):  # type: ignore[no-untyped-def]
        seen.append(kw["following"])
        return real(*a, **kw)

    monkeypatch.setattr(tool.extraction, "extract", extract)
    rec = _rec("conv-26", "When did Melanie sign up for a pottery class?", "2 July 2023", 2)
    turns = [_ev(i, f"turn {i}", "conv-26") for i in (2, 3, 4)]
    rec["following"] = {1: turns}
    replay([rec], following_n=2)
    replay([rec])
    assert seen == [{1: turns[:2]}, {1: turns}]


def test_replay_gives_gold_cited_under_both_rules() -> None:
    # The gold turn tells of the painting without what it shows: related, not cited.
    q = "What did Melanie paint for the art show?"
    rec = _rec("conv-26", q, "a sunset with a palm tree", 4)
    rec["evidence"] = [
        _ev(1, "I painted a sunset with a palm tree for the art show.", "conv-26"),
        _ev(2, "Here's the painting, it took me weeks.", "conv-26"),
        _ev(3, "We went camping by the lake.", "conv-26"),
    ]
    rec["ext"] = {1: "D1:1", 2: "D1:2", 3: "D1:3"}
    rec["qa"] = dict(rec["qa"], evidence=["D1:2"])  # type: ignore[call-overload]
    out = replay([rec], held_out=("conv-42",))["retrieved"]["dev"]
    assert out["f1"] == 1.0
    assert (out["gold_cited"], out["gold_cited_or_related"]) == (0.0, 1.0)
