"""bench.locomo on a tiny conversation in the locomo format: the JSONL it writes, the import
through the real path, gold evidence mapped to memory ids, and the cache reused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import locomo
from tests.fakes import FakeEmbedder

SAMPLE = {
    "sample_id": "conv-x",
    "conversation": {
        "speaker_a": "Ana",
        "speaker_b": "Ben",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a puppy called Rex."},
            {
                "speaker": "Ben",
                "dia_id": "D1:2",
                "text": "Lovely!",
                "img_url": ["x"],
                "blip_caption": "a photo of a dog on a beach",
            },
        ],
        "session_2_date_time": "9:00 am on 1 June, 2023",
        "session_2": [{"speaker": "Ana", "dia_id": "D2:1", "text": "Rex learned to sit."}],
    },
    "qa": [
        {
            "question": "What is Ana's dog called?",
            "answer": "Rex",
            "evidence": ["D1:1"],
            "category": 4,
        },
        {"question": "Who?", "answer": "x", "evidence": ["D2:1; D9:9"], "category": 1},
        {"question": "Unanswerable?", "adversarial_answer": "y", "evidence": [], "category": 5},
    ],
}


def test_jsonl_lines_times_speakers_and_captions() -> None:
    lines = locomo.jsonl_lines(SAMPLE)
    assert [line["id"] for line in lines] == ["D1:1", "D1:2", "D2:1"]
    assert lines[0]["time"] == "2023-05-08T13:56:00Z"
    assert lines[1]["time"] == "2023-05-08T13:57:00Z"  # a minute per turn keeps the order
    assert lines[2]["time"] == "2023-06-01T09:00:00Z"
    assert lines[1]["text"] == "Lovely! [shares a photo: a photo of a dog on a beach]"
    assert {line["conversation"] for line in lines} == {"conv-x"}
    assert locomo.evidence_ids(["D8:6; D9:17", "D", "D1:1"]) == ["D8:6", "D9:17", "D1:1"]


def test_stores_import_map_gold_and_are_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "locomo.json"
    data.write_text(json.dumps([SAMPLE]))
    monkeypatch.setenv("MNEMO_LOCOMO", str(data))
    monkeypatch.setenv("MNEMO_BENCH_CACHE", str(tmp_path / "cache"))
    with locomo.LocomoStores(embedder=FakeEmbedder()) as convs:
        (conv,) = convs
        assert conv.built
        assert set(conv.ids_by_dia) == {"D1:1", "D1:2", "D2:1"}
        q1, q2, q5 = conv.questions
        assert q1.gold == [conv.ids_by_dia["D1:1"]] and q1.category == 4
        assert q2.gold == [conv.ids_by_dia["D2:1"]] and q2.missing == ["D9:9"]
        assert q5.answer is None and q5.gold == []
        assert [q for _, q in locomo.iter_questions(convs)] == [q1, q2]
        hits = conv.services.require_memory().search("puppy Rex", None, 5).hits
        assert hits and hits[0].id == conv.ids_by_dia["D1:1"]
        assert hits[0].source == "import:jsonl" and hits[0].external_id == "D1:1"
    with locomo.LocomoStores(embedder=FakeEmbedder()) as convs:
        assert not convs[0].built  # reused from the cache
        assert convs[0].ids_by_dia == conv.ids_by_dia


def test_leave_one_conversation_out_scores_each_fold_on_what_it_did_not_see() -> None:
    """bench/retrieval_fit.py: the variant chosen without a conversation is scored on it; a
    variant that wins only in-sample on one conversation does not carry the held-out mean."""
    from bench.retrieval_fit import leave_one_out

    def s(r10: float) -> dict[str, float]:
        return {"recall@1": 0.0, "recall@5": r10, "recall@10": r10, "recall@25": r10, "mrr": 0.0}

    scores = {
        # "a" is best on c1 alone; "b" is best on c2 and c3 and in total.
        "a": [("c1", 1, s(1.0)), ("c2", 1, s(0.0)), ("c3", 1, s(0.0))],
        "b": [("c1", 1, s(0.5)), ("c2", 1, s(0.6)), ("c3", 1, s(0.6))],
    }
    out = leave_one_out(scores)
    assert out["chosen_per_held_out"] == {"c1": "b", "c2": "b", "c3": "b"}
    assert out["held_out"]["all"]["recall@10"] == round((0.5 + 0.6 + 0.6) / 3, 4)
    # Without c2, "a" now wins (1.0 + 0.7 against 0.5 + 0.6): c2 is then scored with "a".
    scores["a"][2] = ("c3", 1, s(0.7))
    out = leave_one_out(scores)
    assert out["chosen_per_held_out"]["c2"] == "a"
    assert out["held_out"]["all"]["recall@10"] == round((0.5 + 0.0 + 0.6) / 3, 4)


def test_query_embedding_cache_round_trips(tmp_path: Path) -> None:
    import numpy as np

    from bench.retrieval_fit import EmbedCache
    from core.search import Searcher

    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return FakeEmbedder().embed(texts)

    searcher = Searcher(read_conn=lambda: None, index=lambda: None, embed=embed, now=lambda: 0.0)  # type: ignore[arg-type, return-value]
    cache = EmbedCache(tmp_path / "q.npz")
    cache.wrap(searcher)
    first = searcher.embed_query("when did Ana move")
    cache.save()
    again = EmbedCache(tmp_path / "q.npz")
    other = Searcher(read_conn=lambda: None, index=lambda: None, embed=embed, now=lambda: 0.0)  # type: ignore[arg-type, return-value]
    again.wrap(other)
    assert first is not None and np.array_equal(other.embed_query("when did Ana move"), first)
    assert len(calls) == 1
