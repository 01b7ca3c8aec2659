"""Fast iterations on answer extraction: record what extraction was given during one run of
`bench.answer_locomo`, then re-run only `core.answer.extract` on it (seconds, not the quarter of
an hour a whole run takes on two cores). Prints one JSON document.

    python -m bench.answer_replay record OUT.pkl [answer_locomo options…]
    python -m bench.answer_replay replay OUT.pkl… [--held-out conv-42,conv-43] [--embed]
        [--following N] [--by-kind]

A record holds the questions and the conversation turns extraction saw: it is benchmark data
(locomo-dev), kept outside the repository like the data itself. Replay reports F1, gold cited
and abstention per mode, for conversations developed on and the held-out ones separately.
With --embed, extraction gets the search embedder (MiniLM) as the app hands it, and the CPU
time of its embedding calls is reported. With --following N, extraction sees only the first N
recorded following turns of each memory (a record made with more turns answers what fewer would
give, without a second recording). With --by-kind, the figures are also broken down per
category and answer kind, with the F1 points each group loses ("where the F1 is lost").
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import bench.answer_locomo as locomo  # noqa: E402
from bench.locomo import HELD_OUT  # noqa: E402
from core import answer as extraction  # noqa: E402


def record(out: Path, argv: list[str]) -> None:
    """Run the answer benchmark, keeping each question's extraction inputs."""
    recs: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    real_extract = extraction.extract
    real_ask = locomo.ask_one

    def extract(question: str, evidence: Any, tz: Any = None, **kw: Any) -> Any:
        recs.append(
            dict(
                current,
                question=question,
                evidence=list(evidence),
                tz=tz,
                following=kw.get("following"),
                contrast=list(kw.get("contrast", ())),
            )
        )
        return real_extract(question, evidence, tz, **kw)

    def ask_one(
        assistant: Any,
        qa: dict[str, Any],
        state: dict[str, list[int]] | None,
        ext_by_id: dict[int, str],
        id_by_ext: dict[str, int],
        text_by_id: dict[int, str] | None = None,
    ) -> dict[str, Any]:
        current.clear()
        mode = "gold" if state is not None else "retrieved"
        current.update(qa=qa, mode=mode, ext=dict(ext_by_id))
        return real_ask(assistant, qa, state, ext_by_id, id_by_ext, text_by_id)

    extraction.extract = extract
    locomo.ask_one = ask_one
    try:
        locomo.main(argv)
    finally:
        extraction.extract = real_extract
        locomo.ask_one = real_ask
    with out.open("wb") as f:
        pickle.dump(recs, f)


def replay(
    recs: Sequence[dict[str, Any]],
    held_out: Sequence[str] = HELD_OUT,
    embed: Callable[[Sequence[str]], Any] | None = None,
    following_n: int | None = None,
    by_kind: bool = False,
) -> dict[str, Any]:
    """Extraction re-run on recorded inputs: figures per mode and part (dev / held_out), and
    with `by_kind` per category and answer kind too. `following_n` keeps only the first N
    recorded following turns of each memory."""
    acc: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    kinds: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    t0, c0 = time.perf_counter(), time.process_time()
    for r in recs:
        qa = r["qa"]
        cat = int(qa["category"])
        following = r["following"]
        if following and following_n is not None:
            following = {k: list(v)[:following_n] for k, v in following.items()}
        ex = extraction.extract(
            r["question"],
            r["evidence"],
            r["tz"],
            following=following,
            contrast=r.get("contrast", ()),
            embed=embed,
        )
        conv = str(qa.get("conversation") or r.get("conversation") or "")
        if not conv:
            conv = str(r["evidence"][0].conversation or "") if r["evidence"] else ""
        part = "held_out" if conv in held_out else "dev"
        answer = str(qa.get("answer", ""))
        f1 = 0.0 if ex.not_found or cat == 5 else locomo.token_f1(ex.text, answer)
        if by_kind:
            for kp in (part, "all"):
                k = kinds[(r["mode"], kp, f"{locomo.CATEGORIES[cat]}/{ex.kind}")]
                k["abstained"].append(float(ex.not_found))
                if cat != 5:
                    k["f1"].append(f1)
        for key in ((r["mode"], part), (r["mode"], "all")):
            a = acc[key]
            if cat == 5:
                a["adversarial_abstained"].append(float(ex.not_found))
                continue
            gold_ev = {str(e) for e in qa.get("evidence") or []}
            cited = {r["ext"].get(i) for i in ex.cited}
            a["f1"].append(f1)
            a[f"f1_{locomo.CATEGORIES[cat]}"].append(f1)
            a["gold_cited"].append(float(bool(cited & gold_ev) and not ex.not_found))
            related = cited | {r["ext"].get(i) for i in ex.related}
            a["gold_cited_or_related"].append(float(bool(related & gold_ev) and not ex.not_found))
            a["abstained_answerable"].append(float(ex.not_found))
    out: dict[str, Any] = {}
    for (mode, part), a in sorted(acc.items()):
        out.setdefault(mode, {})[part] = {
            k: round(sum(v) / len(v), 3) for k, v in sorted(a.items()) if v
        } | {"answerable": len(a["f1"]), "adversarial": len(a["adversarial_abstained"])}
    for (k_mode, k_part, kind), k in sorted(kinds.items()):
        n = len(k["abstained"])
        row: dict[str, Any] = {"questions": n, "abstained": round(sum(k["abstained"]) / n, 3)}
        if k["f1"]:
            row |= {
                "f1": round(sum(k["f1"]) / n, 3),
                "f1_points_lost": round(n - sum(k["f1"]), 1),
            }
        out.setdefault(k_mode, {}).setdefault("by_kind", {}).setdefault(k_part, {})[kind] = row
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    out["cpu_s"] = round(time.process_time() - c0, 1)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.answer_replay")
    sub = ap.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record", help="run bench.answer_locomo, keeping extraction inputs")
    rec.add_argument("out", type=Path)
    rep = sub.add_parser("replay", help="re-run extraction on records")
    rep.add_argument("records", type=Path, nargs="+")
    rep.add_argument("--held-out", default=",".join(HELD_OUT))
    rep.add_argument("--embed", action="store_true", help="hand extraction the MiniLM embedder")
    rep.add_argument(
        "--following", type=int, help="only the first N recorded following turns of a memory"
    )
    rep.add_argument(
        "--by-kind", action="store_true", help="figures per category and answer kind too"
    )
    args, rest = ap.parse_known_args(argv)
    if args.cmd == "record":
        record(args.out, rest)
        return
    if rest:
        ap.error(f"unknown arguments: {' '.join(rest)}")
    recs: list[dict[str, Any]] = []
    for p in args.records:
        with p.open("rb") as f:
            recs += pickle.load(f)  # records this tool wrote itself
    from bench.common import emit, envelope

    embed, calls = None, {"n": 0, "cpu_s": 0.0, "max_ms": 0.0}
    if args.embed:
        from models.embedder import MiniLMEmbedder

        embedder = MiniLMEmbedder()
        embedder.load()

        def embed(texts: Sequence[str]) -> Any:
            c0, t0 = time.process_time(), time.perf_counter()
            out = embedder.embed(texts)
            calls["n"] += 1
            calls["cpu_s"] += time.process_time() - c0
            calls["max_ms"] = max(calls["max_ms"], (time.perf_counter() - t0) * 1000)
            return out

    got = replay(recs, args.held_out.split(","), embed, args.following, args.by_kind)
    if args.embed:
        got["embed_calls"] = calls["n"]
        got["embed_cpu_ms_per_call"] = round(1000 * calls["cpu_s"] / max(1, calls["n"]), 1)
        got["embed_wall_ms_max"] = round(calls["max_ms"], 1)
    emit(envelope("answer_replay", records=len(recs), **got))


if __name__ == "__main__":
    main()
