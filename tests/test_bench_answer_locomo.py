"""bench.answer_locomo scoring: LoCoMo's token-F1, the bars, and the per-conversation table
that lets conversations developed on be told from held-out ones."""

from __future__ import annotations

from typing import Any

from bench.answer_locomo import brief, holds_answer, summarize, token_f1


def row(cat: int, f1: float, conv: str, *, cites: bool = True, nf: bool = False) -> dict[str, Any]:
    return {
        "category": cat,
        "f1": f1,
        "em": f1 == 1.0,
        "cites_gold": cites,
        "not_found": nf,
        "total_ms": 10.0,
        "cpu_ms": 9.0,
        "extract_ms": 1.0,
        "first_words_ms": 5.0,
        "used_model": False,
        "conversation": conv,
    }


def test_token_f1_drops_articles_punctuation_and_citation_markers() -> None:
    assert token_f1("The rainbow sidewalk [1]", "a rainbow sidewalk") == 1.0
    assert token_f1("came across this cool rainbow sidewalk", "a rainbow sidewalk") == 0.5
    assert token_f1("", "Sweden") == 0.0


def test_summary_bars_and_brief_per_conversation() -> None:
    rows = [
        row(2, 1.0, "a"),
        row(4, 0.0, "a", cites=False, nf=True),
        row(5, 0.0, "a", nf=True),
        row(1, 0.5, "b"),
        row(5, 0.0, "b", nf=False),
    ]
    whole = summarize(rows)
    assert whole["answerable"]["token_f1"] == 0.5
    assert whole["adversarial_abstained"] == 0.5
    assert whole["bars"]["temporal_f1_ge_0.5"] and whole["bars"]["f1_ge_0.35"]
    assert not whole["bars"]["abstain_adversarial_ge_0.80"]
    a = brief(summarize([r for r in rows if r["conversation"] == "a"]))
    b = brief(summarize([r for r in rows if r["conversation"] == "b"]))
    assert a == {
        "questions": 2,
        "token_f1": 0.5,
        "cites_gold": 0.5,
        "abstained": 0.5,
        "adversarial_abstained": 1.0,
        "temporal_f1": 1.0,
    }
    assert (b["token_f1"], b["adversarial_abstained"], b["temporal_f1"]) == (0.5, 0.0, None)


def test_a_citation_holds_the_answer_only_with_half_its_key_words() -> None:
    memory = "I loved “Becoming Nicole” by Amy Ellis Nutt, a true story."
    assert holds_answer('"Becoming Nicole" [1]', memory) is True
    assert holds_answer("Nicole, painting and pottery", memory) is False
    # Nothing to look for: neither counted as holding nor as not holding.
    assert holds_answer("Yes [1]", memory) is None


def test_summary_counts_citations_of_answered_questions_only() -> None:
    rows = [
        row(2, 1.0, "a") | {"citations": 3, "citations_judged": 2, "citations_holding": 1},
        row(1, 1.0, "a") | {"citations": 1, "citations_judged": 1, "citations_holding": 1},
        row(4, 0.0, "a", cites=False, nf=True),
    ]
    got = summarize(rows)["answerable"]
    assert got["citations_mean"] == 2.0
    assert got["citations_holding_answer"] == round(2 / 3, 4)


def test_summary_gives_gold_cited_under_both_rules() -> None:
    # A gold memory only related to the answer counts under the old rule alone.
    rows = [
        row(2, 1.0, "a") | {"cites_gold_or_related": True},
        row(1, 1.0, "a", cites=False) | {"cites_gold_or_related": True},
        row(4, 0.0, "a", cites=False, nf=True) | {"cites_gold_or_related": False},
    ]
    got = summarize(rows)["answerable"]
    assert (got["cites_gold"], got["cites_gold_or_related"]) == (round(1 / 3, 4), round(2 / 3, 4))
