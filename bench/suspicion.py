"""Recall and false-positive rate of the suspicion detector on the labelled poison fixtures, and
its false-positive rate on real honest text: the conversations of locomo-dev (every turn an
honest message) and paragraphs of the installed packages' descriptions.
Prints one JSON document. Run: .venv/bin/python -m bench.suspicion

Sets: dev (hand-written, tuned on), heldout (written after, used once for fixes), fresh (written
after that); wide_dev / wide_heldout / wide_fresh are the generated sets of
tests/fixtures/poison/wide.py (>= 200 poisoned and >= 500 honest lines in dev and held-out).
fresh and wide_fresh were never tuned on until the round that wrote fresh2 (their false alarms and
misses were studied by kind then); fresh2 (hand-written line by line, no templates, 163 poisoned
and 368 honest lines) was committed before that round changed the detector, scored once before
and once after it, then studied for a second round; fresh3 (101 poisoned, 214 honest, written
before that second round) was scored before and after it, then studied for a third; fresh4
(60 poisoned, 120 honest, written before the third round) is the set never tuned on: its figure
was the honest estimate until session 5 wrote fresh5 and session 6 fresh6 (in new places:
signatures, invites, code comments, READMEs, footers, reviews, notes, tickets). fresh6 was scored
once with the structural model (core/structural.py, fitted by bench/suspicion_fit.py on every
other set and locomo), then tuned on in session 7, which wrote fresh7 (chat exports, OCR'd screens
with UI chrome, subtitles, changelogs, commits, configs, non-native English, long pages) before
changing anything, and tune7 (a tuning set at the weak spots). fresh7 was tuned on in round 2 of
session 7, which wrote fresh8 first (recipes, reviews, forums, spreadsheets, SMS, e-books, wikis,
legal text, papers, game chat, profiles, job ads, HTML, notebooks, forms, podcasts, receipts;
passive, polite and third-person orders, other languages). Session 8 wrote fresh9 (code comments,
commits, invites, ledgers, tickets, mixed languages, polite indirect requests, listings, labels,
CI files, logs, device names) before changing anything and fitted the embedding model on fresh8:
fresh9 was the set never seen until session 9 wrote fresh10 (configs, API docs, listings, game
mods, fiction, bills, portals, mail headers, chat-template tokens, fake tool output, thirteen
languages) before any change; session 10 tuned the embedding model on fresh9 and scored fresh10
a second time, then wrote fresh11 (invites, code review, CI logs, spreadsheets, PDF forms,
subtitles, signatures, dating profiles, CVs, tickets, posters, game chat, voice notes, translation
memory, alt text, EXIF, notifications, shell history, fourteen new languages) before any change:
fresh11 is the set never seen; session 11 made fresh10 a tuning set.
Every set is scored with the phrase rules alone and with rules + structural model, side by side;
"summary" gives recall and false-positive rate per set first, marked trained/tuned or never seen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.suspicion import STRUCTURAL_ON, inspect, should_quarantine  # noqa: E402
from tests.fixtures.poison.dataset import (  # noqa: E402
    DEV,
    FRESH,
    FRESH2,
    FRESH3,
    FRESH4,
    FRESH5,
    FRESH6,
    FRESH7,
    FRESH8,
    FRESH9,
    FRESH10,
    FRESH11,
    FRESH12,
    HELDOUT,
    TUNE7,
    WIDE_DEV,
    WIDE_FRESH,
    WIDE_HELDOUT,
    judge,
    load,
    score,
)

LOCOMO = Path(
    os.environ.get(
        "MNEMO_LOCOMO", ROOT.parent / "shared" / "data" / "locomo-dev" / "locomo-dev.json"
    )
)
# Recorded, not recomputed: each held-out set's first run, before any change its misses prompted.
FIRST_RUNS = {
    "heldout": {"recall": 0.8409, "fpr": 0.0175},
    "wide_heldout": {
        "before_widening": {"recall": 0.6121, "fpr": 0.004},
        "first_run": {"recall": 0.8491, "fpr": 0.004},
        "after_two_rounds_on_dev": {"recall": 0.9052, "fpr": 0.004},
        "then": "used once for fixes",
    },
    # The detector before the widening: recall 0.5104, fpr 0.0232; after it, never tuned on:
    "wide_fresh": {
        "first_run": {"recall": 0.9635, "fpr": 0.0232},
        "then": "its false alarms and misses studied by kind in the round that wrote fresh2",
    },
    "fresh": {"before_the_fresh2_round": {"recall": 0.9091, "fpr": 0.0}},
    # Scored once with the detector as it was when fresh2 was committed, once after the round.
    "fresh2": {
        "first_run": {"recall": 0.6503, "fpr": 0.0245},
        "after_the_round": {"recall": 0.8344, "fpr": 0.0163},
        "then": "its misses and false alarms studied by kind for a second round (tuned on)",
    },
    # Written after fresh2's second run, before fresh2's misses were looked at; scored before
    # and after that second round, never tuned on.
    "fresh3": {
        "before_the_second_round": {"recall": 0.8119, "fpr": 0.0047},
        "after_the_second_round": {"recall": 0.8317, "fpr": 0.0047},
        "then": "its misses and false alarms studied by kind for a third round (tuned on)",
    },
    # Written before the third round, scored before and after it, never tuned on.
    "fresh4": {
        "before_the_third_round": {"recall": 0.75, "fpr": 0.0167},
        "after_the_third_round": {"recall": 0.8, "fpr": 0.0167},
        "then": "session 5: held out, lines not read while developing",
    },
    # Session 5: 153 poisoned / 307 honest, hand-written before that session changed anything;
    # scored once with the rules as they stood (commit 6ecc38e), never tuned on.
    "fresh5": {"first_run_rules_only": {"recall": 0.4183, "fpr": 0.0033}},
    # Session 6: 157 poisoned / 329 honest, hand-written in new places (signatures, invites, code
    # comments, READMEs, footers, reviews, meeting notes, tickets) before the structural detector
    # existed; scored once with the rules as they stood (main 389be04), never read while developing.
    "fresh6": {
        "first_run_rules_only": {"recall": 0.4586, "fpr": 0.0122},
        # Scored once at the end of session 6 (commit c922c66), never read while developing:
        # recall up 0.31 but FPR over the 0.02 bar, so core.suspicion.STRUCTURAL_ON stays False.
        "first_run_rules_and_structural": {"recall": 0.7643, "fpr": 0.0243},
        "then": "session 7: its misses and false alarms studied (tuned on)",
    },
    # Session 7: 152 poisoned / 317 honest, hand-written in new places (chat exports, OCR'd
    # screens with UI chrome, subtitles, changelogs, commits, configs, non-native English, long
    # pages) before that session changed the detector; scored once at the start (commit ad0bc5a,
    # the detector of main 6c3d024), never read while developing. The rules alone are already
    # over the FPR bar here: honest lines that talk about injection or give an AI the user's own
    # instructions fire them.
    "fresh7": {
        "first_run_rules_only": {"recall": 0.3816, "fpr": 0.041},
        "first_run_rules_and_structural": {"recall": 0.6382, "fpr": 0.0536},
        # Scored once more at the end of session 7 (commit 75f6efe), never read in between:
        # false alarms down (rules 13 -> 11 of 317, rules + model 17 -> 13), recall the same
        # (fake transcripts 11 -> 15 of 23, conditional 19 -> 18, exfiltration 8 -> 6), FPR
        # still over the 0.02 bar, so core.suspicion.STRUCTURAL_ON stays False.
        "second_run_rules_only": {"recall": 0.3816, "fpr": 0.0347},
        "second_run_rules_and_structural": {"recall": 0.6382, "fpr": 0.041},
        "then": "round 2 of session 7: tuned on (its honest false alarms fixed in the rules)",
    },
    # Session 7 round 2: 150 poisoned / 349 honest, hand-written in new places and styles before
    # that round changed the detector; scored once at the start (detector of trust 42478e3),
    # never read while developing.
    "fresh8": {
        "first_run_rules_only": {"recall": 0.3067, "fpr": 0.0057},
        "first_run_rules_and_structural": {"recall": 0.5133, "fpr": 0.0115},
        # Scored once more at the end of the round (weights fitted with C=1), never
        # read in between. The rules' fixes for fresh7's false alarms changed nothing here.
        "second_run_rules_only": {"recall": 0.3067, "fpr": 0.0057},
        "second_run_rules_and_structural": {"recall": 0.5133, "fpr": 0.0115},
        # Rules OR the embedding model (core/embedded.py, stacked with the structural logit):
        # 92 of 150 poisoned, 4 of 349 honest (all near-misses).
        "second_run_rules_and_embedded": {"recall": 0.6133, "fpr": 0.0115},
        # Real honest text, rules OR embedding model: locomo 0 of 2760 turns, package
        # paragraphs 7 of 3000 (0.23 %); the 40-line trust chat 10 of 10 poisoned, 0 of 30 honest.
        "real_honest_rules_and_embedded": {"locomo": "0/2760", "package_docs": "7/3000"},
        "then": "session 8: a tuning set (the embedding model is fitted on it)",
    },
    # Session 8: 152 poisoned / 317 honest, hand-written in new places and styles (code
    # comments, commits, invites, ledgers, tickets, mixed languages, polite indirect requests,
    # forum notes to the assistant, listings, labels, CI files, logs, device names, bulletins)
    # before that session changed the detector; scored once at the start (the detector and
    # embedding weights of main bd5fd82, commit dfc20db), never read while developing.
    "fresh9": {
        "first_run_rules_only": {"recall": 0.3421, "fpr": 0.0032},
        "first_run_rules_and_structural": {"recall": 0.5658, "fpr": 0.0126},
        "first_run_rules_and_embedded": {"recall": 0.625, "fpr": 0.0221},
        # Scored once more at the end of session 8 (commit 3cd5f82: the embedding model refitted
        # with fresh8 and wrapped copies of hand-written lines; the rules and the structural
        # model unchanged), never read in between. 97 of 152 poisoned, 7 of 317 honest.
        "second_run_rules_only": {"recall": 0.3421, "fpr": 0.0032},
        "second_run_rules_and_structural": {"recall": 0.5658, "fpr": 0.0126},
        "second_run_rules_and_embedded": {"recall": 0.6382, "fpr": 0.0221},
        # Real honest text, rules OR embedding model: locomo 0 of 2760, package paragraphs 11
        # of 3000 (0.37 %); the trust chat 10 of 10 poisoned, 0 of 30 honest (rules alone too).
        "real_honest_rules_and_embedded": {"locomo": "0/2760", "package_docs": "11/3000"},
        "then": "the embedding model stays off by default: FPR 0.0221 over the 0.02 bar (one "
        "line over); rules + structural (0.566 / 0.0126) is under it, see STRUCTURAL_ON; "
        "session 10: a tuning set (the embedding model is fitted on it)",
    },
    # Session 9: 156 poisoned / 301 honest, hand-written in new places (build_fresh10.py) before
    # any detector change; scored once with main's detector (commit a4ee7bd), totals only, never
    # read while developing. Rules + embedding: MiniLM vectors, the shipped weights, not refitted.
    "fresh10": {
        "first_run_rules_only": {"recall": 0.2692, "fpr": 0.0066},
        "first_run_rules_and_structural": {"recall": 0.4808, "fpr": 0.0066},
        "first_run_rules_and_embedded": {"recall": 0.5705, "fpr": 0.0066},
        # Scored once more at the end of session 10 (commit a1da4bd: the embedding model refitted
        # with fresh9, stacked over the structural logit and features, threshold chosen on the
        # tuning sets only; rules and structural model unchanged), never read in between:
        # 98 of 156 poisoned, 2 of 301 honest. Far under the 0.95 bar: EMBEDDED_ON stays False.
        "second_run_rules_only": {"recall": 0.2692, "fpr": 0.0066},
        "second_run_rules_and_structural": {"recall": 0.4808, "fpr": 0.0066},
        "second_run_rules_and_embedded": {"recall": 0.6282, "fpr": 0.0066},
        # Real honest text, rules OR embedding model: locomo 0 of 2760, package paragraphs 12
        # of 3000 (0.4 %).
        "real_honest_rules_and_embedded": {"locomo": "0/2760", "package_docs": "12/3000"},
        "then": "studied from session 11 on (a tuning set); write a new never-seen set first",
    },
    # Session 10: 163 poisoned / 354 honest, hand-written in new places (build_fresh11.py, commit
    # a6705f4) before any scoring; scored once with main's detector (the detector files of main
    # 12f863f, run at commit 701d89a), totals only, never read. Rules + embedding: MiniLM vectors
    # through the fit cache, the shipped weights (stacked over the structural logit), not refitted.
    # Rules 24/163 and 2/354; rules + structural 59/163 and 4/354; rules + embedding 87/163 and
    # 4/354. Same run, real honest text: locomo 0 of 2760 (all three), package paragraphs 0 / 1 /
    # 12 of 3000.
    "fresh11": {
        "first_run_rules_only": {"recall": 0.1472, "fpr": 0.0056},
        "first_run_rules_and_structural": {"recall": 0.362, "fpr": 0.0113},
        "first_run_rules_and_embedded": {"recall": 0.5337, "fpr": 0.0113},
        # Scored once more at the end of session 11 (commit 7858927: the stack refitted with
        # fresh10 and a hashed n-gram model, core/embedded_ngrams.py; rules and structural model
        # unchanged), never read in between, totals only: 124 of 163 poisoned, 4 of 354 honest.
        # Under the 0.95 bar still; EMBEDDED_ON is True from session 11 (see core/suspicion.py).
        "second_run_rules_only": {"recall": 0.1472, "fpr": 0.0056},
        "second_run_rules_and_structural": {"recall": 0.362, "fpr": 0.0113},
        "second_run_rules_and_embedded": {"recall": 0.7607, "fpr": 0.0113},
        # Real honest text, rules OR embedding model: locomo 0 of 2760, package paragraphs 11
        # of 3000 (0.37 %).
        "real_honest_rules_and_embedded": {"locomo": "0/2760", "package_docs": "11/3000"},
        "then": "scored twice (session 10 start, session 11 end): a tuning set from session 12 "
        "on, once a new never-seen set is written",
    },
    # Session 11: 182 poisoned / 363 honest, hand-written in new places (build_fresh12.py, commit
    # bebf121) before any scoring; scored once with main's detector at the end of session 11
    # (56a62f0: the n-gram stack on by default), totals only, never read. Rules 36/182 and
    # 3/363; rules + structural 75/182 and 5/363; rules + embedding stack 118/182 and 7/363.
    # Same run, real honest text: locomo 0 of 2760, package paragraphs 11 of 3000.
    "fresh12": {
        "first_run_rules_only": {"recall": 0.1978, "fpr": 0.0083},
        "first_run_rules_and_structural": {"recall": 0.4121, "fpr": 0.0138},
        "first_run_rules_and_embedded": {"recall": 0.6484, "fpr": 0.0193},
        "real_honest_rules_and_embedded": {"locomo": "0/2760", "package_docs": "11/3000"},
        "then": "the set never seen: score it once, at the end of the next detector change",
    },
}


def locomo_turns(path: Path) -> list[str]:
    """Every dialogue turn of the real conversations, a shared photo's caption included."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    turns = []
    for sample in data:
        conv = sample["conversation"]
        for key, session in conv.items():
            if key.startswith("session_") and isinstance(session, list):
                for turn in session:
                    caption = turn.get("blip_caption")
                    turns.append(turn["text"] + (f" [shares {caption}]" if caption else ""))
    return turns


def real_fpr(path: Path, structural_model: bool | None = None) -> dict[str, Any]:
    if not path.exists():
        return {"skipped": f"{path} not found (set MNEMO_LOCOMO)"}
    turns = locomo_turns(path)
    t0, c0 = time.perf_counter(), time.process_time()
    flagged = sum(
        should_quarantine(inspect(t, kind="import:jsonl", structural_model=structural_model))
        for t in turns
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "honest": len(turns),
        "flagged": flagged,
        "fpr": round(flagged / max(1, len(turns)), 4),
        "ms_per_item_wall": round(1000 * wall / max(1, len(turns)), 3),
        "ms_per_item_cpu": round(1000 * cpu / max(1, len(turns)), 3),
    }


def package_doc_paragraphs(limit: int = 3000) -> list[str]:
    """Paragraphs of the long descriptions of the installed packages (PyPI METADATA): honest text
    none of us wrote, much of it about models, prompts, agents and settings. Code blocks and
    tables left out; a fixed-seed sample, so a run on the same environment reads the same lines."""
    import random
    import re
    import sysconfig

    site = Path(sysconfig.get_paths()["purelib"])
    paras = []
    for meta in sorted(site.glob("*.dist-info/METADATA")):
        body = meta.read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[-1]
        for p in re.split(r"\n\s*\n", body):
            p = p.strip()
            if 8 <= len(p.split()) <= 200 and not p.startswith(("```", "    ", ">>>", "|")):
                paras.append(p)
    random.Random(7).shuffle(paras)
    return paras[:limit]


def docs_fpr(structural_model: bool) -> dict[str, Any]:
    paras = package_doc_paragraphs()
    flagged = sum(
        should_quarantine(inspect(p, kind="screen", structural_model=structural_model))
        for p in paras
    )
    return {"honest": len(paras), "flagged": flagged, "fpr": round(flagged / max(1, len(paras)), 4)}


def commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return None
    return out.stdout.strip() or None


# Sets the structural model (bench/suspicion_fit.py) was fitted on or its features were studied
# on, or the embedding model (bench/suspicion_embed.py) was fitted on (fresh9, session 10;
# fresh10, session 11); every other set is one they have never seen.
TRAINED = {
    "dev", "heldout", "fresh", "wide_dev", "wide_heldout", "wide_fresh",
    "fresh2", "fresh3", "fresh4", "fresh5", "fresh6", "tune7", "fresh7", "fresh8", "fresh9",
    "fresh10",
}  # fmt: skip
# Sets left out of a run ($MNEMO_BENCH_SKIP, comma-separated): a development run leaves the set
# never seen unread (MNEMO_BENCH_SKIP=fresh12), so it is scored once, at the end.
SKIP = {s for s in os.environ.get("MNEMO_BENCH_SKIP", "").split(",") if s}


def _timed(rows: list[dict[str, Any]], structural_model: bool) -> dict[str, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    result = score(rows, structural_model)
    result["ms_per_item_wall"] = round(1000 * (time.perf_counter() - t0) / len(rows), 3)
    result["ms_per_item_cpu"] = round(1000 * (time.process_time() - c0) / len(rows), 3)
    return result


def main() -> None:
    out: dict[str, Any] = {"bench": "suspicion", "cores": os.cpu_count(), "commit": commit()}
    out["summary"] = {}  # filled below; first in the document, so it is read first
    out["structural_on_by_default"] = STRUCTURAL_ON
    out["first_runs"] = FIRST_RUNS
    sets = {
        "dev": DEV,
        "heldout": HELDOUT,
        "fresh": FRESH,
        "wide_dev": WIDE_DEV,
        "wide_heldout": WIDE_HELDOUT,
        "wide_fresh": WIDE_FRESH,
        "fresh2": FRESH2,
        "fresh3": FRESH3,
        "fresh4": FRESH4,
        "fresh5": FRESH5,
        "fresh6": FRESH6,
        "tune7": TUNE7,
        "fresh7": FRESH7,
        "fresh8": FRESH8,
        "fresh9": FRESH9,
        "fresh10": FRESH10,
        "fresh11": FRESH11,
        "fresh12": FRESH12,
    }
    sets = {k: v for k, v in sets.items() if k not in SKIP}
    keys = ("poisoned", "benign", "recall", "fpr", "ms_per_item_cpu")
    everything = []
    for name, path in sets.items():
        rows = load(path)
        everything += rows
        rules, both = _timed(rows, False), _timed(rows, True)
        out[name] = {"rules_only": rules, "rules_and_structural": both}
        out["summary"][name] = {
            "seen": "trained/tuned" if name in TRAINED else "never seen",
            "rules_only": {k: rules[k] for k in keys},
            "rules_and_structural": {k: both[k] for k in keys},
        }
    out["all"] = {
        "rules_only": {k: v for k, v in score(everything, False).items() if k in keys},
        "rules_and_structural": {k: v for k, v in score(everything, True).items() if k in keys},
    }
    out["locomo_real_honest"] = {
        "rules_only": real_fpr(LOCOMO, False),
        "rules_and_structural": real_fpr(LOCOMO, True),
    }
    # Main 6c3d024 (session 6's detector): 0 and 6 of these 3000 paragraphs flagged.
    out["package_docs_real_honest"] = {
        "rules_only": docs_fpr(False),
        "rules_and_structural": docs_fpr(True),
    }
    if os.environ.get("MNEMO_BENCH_EMBEDDED") == "1":
        out["embedded"] = embedded_section(sets)
    print(json.dumps(out, indent=2))


def embedded_section(sets: dict[str, Path]) -> dict[str, Any]:
    """Rules + the embedding model (core/embedded.py) on the hand-written sets, with MiniLM run
    here through the fit's cache (bench/suspicion_embed.py); the generated wide_* sets are left
    out (the fit leaves them out too). Real honest text: see that script's held-out slices."""
    from bench.suspicion_embed import Cache
    from core import embedded

    cache = Cache()
    model = embedded.shipped_model()
    res: dict[str, Any] = {}
    for name, path in sets.items():
        if name.startswith("wide_"):
            continue
        rows = load(path)
        vecs = cache.embed([r["text"] for r in rows])
        cache.save()
        t0 = time.process_time()
        tp = fp = pos = neg = 0
        for r, v in zip(rows, vecs):
            # The rules as score() runs them (a screen row with its picture), then the model.
            hit = judge(r, False) or (
                embedded.probability(r["text"], cache.embed, whole=v, model=model)
                >= model.threshold
            )
            if r["label"] == "poisoned":
                pos, tp = pos + 1, tp + hit
            else:
                neg, fp = neg + 1, fp + hit
        res[name] = {
            "seen": "trained/tuned" if name in TRAINED else "never seen",
            "recall": round(tp / max(1, pos), 4),
            "fpr": round(fp / max(1, neg), 4),
            "ms_cpu_per_item_after_embedding": round(
                1000 * (time.process_time() - t0) / len(rows), 3
            ),
        }
    res["threshold"] = model.threshold
    res["real_honest"] = embedded_real_honest(cache, model)
    return res


def embedded_real_honest(cache: Any, model: Any) -> dict[str, Any]:
    """Rules OR the embedding model on every locomo turn and the 3000 package paragraphs."""
    out: dict[str, Any] = {}
    texts = {"package_docs": package_doc_paragraphs()}
    if LOCOMO.exists():
        texts["locomo"] = locomo_turns(LOCOMO)
    for name, rows in texts.items():
        vecs = cache.embed(rows)
        cache.save()
        t0 = time.process_time()
        flagged = 0
        for t, v in zip(rows, vecs):
            flagged += should_quarantine(inspect(t, vector=v, embedded_model=True))
        out[name] = {
            "honest": len(rows),
            "flagged": flagged,
            "fpr": round(flagged / max(1, len(rows)), 4),
            "ms_cpu_per_item_after_embedding": round(
                1000 * (time.process_time() - t0) / max(1, len(rows)), 3
            ),
        }
    return out


if __name__ == "__main__":
    main()
