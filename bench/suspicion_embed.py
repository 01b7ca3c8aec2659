"""Fit the embedding poison detector (core/embedded.py) and write core/embedded_weights.json.

Poisoned training data: every hand-written labelled fixture set except fresh11 and fresh12,
which this script never opens (fresh8 joined in session 8, fresh9 in session 10, fresh10 in
session 11, after it was scored in sessions 9 and 10). fresh11, scored in sessions 10 and 11,
may join next; fresh12 is the set never seen. Plus
each poisoned line put at a random sentence position inside real honest text (a package-
description paragraph or three locomo turns): the model should learn "an order to an AI inside
ordinary text", not our carriers; and wrapped copies of hand-written lines, poisoned and honest
alike (WRAPPERS: code comments, commits, invites, CSV cells, tickets, quotes, polite and
reported tones), so a wrapper is no sign either way. Honest training data in quantity, all real
text nobody here wrote, read at fit time and never copied into the repository: the turns of half
the locomo conversations ($MNEMO_LOCOMO; the other half calibrates) and paragraphs of the
installed packages' descriptions (the 3000 that bench.suspicion scores are held out, 600 of them
scored here; the rest, ~190 on this machine, train). The model reads the memory's whole-text
embedding (the vector ingest computes for the index); with MNEMO_EMBED_WINDOWS=1 it also reads
each sentence, every window of an honest text being a negative and a poisoned text's positive
its whole text and, after a first fit, its highest-scoring window (measured in session 10: 37 ms
CPU per extra window, ~3 extra windows per locomo turn or package paragraph, and no gain in mean
recall; left off).

Then three stacks are compared on out-of-fold scores (embedding alone; with the structural
logit; with the structural logit and STACK_FEATURES), fitted where the phrase rules are silent
(the model only runs there), by a nested leave-one-set-out over LOSO: for each left-out set the
stack and threshold are chosen on the other sets. The threshold keeps rules OR model within
TARGET_FPR (0.015) on the tuning sets' honest lines and the model alone within CALIB_FPR on the
held-out locomo half. The best mean recall is written. Embeddings are cached in $MNEMO_FIT_CACHE.
Prints one JSON document. Run: nice -n 10 .venv/bin/python -m bench.suspicion_embed [--dry-run]
(`make bench-suspicion-embed`)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.suspicion import LOCOMO, package_doc_paragraphs  # noqa: E402
from bench.suspicion_fit import fit, locomo_by_conversation  # noqa: E402
from core import embedded, embedded_ngrams, structural  # noqa: E402
from tests.fixtures.poison import dataset  # noqa: E402

# The generated wide_* sets are left out: templates, and their embeddings cost the time budget
# of one fit on a shared 2-core machine (MiniLM measured at 40-60 ms a text under load).
SETS = [
    "dev", "heldout", "fresh", "fresh2", "fresh3", "fresh4", "fresh5", "fresh6", "tune7", "fresh7",
    "fresh8", "fresh9", "fresh10",
]  # fmt: skip
LOSO = [
    "fresh2", "fresh3", "fresh4", "fresh5", "fresh6", "tune7", "fresh7", "fresh8", "fresh9",
    "fresh10",
]  # fmt: skip
# Wrapped copies of hand-written lines, poisoned and honest alike (MNEMO_EMBED_WRAP per label):
# the same carriers and tones on both sides, so the model learns the order inside, not the
# wrapper. 0 turns it off.
WRAP = int(os.environ.get("MNEMO_EMBED_WRAP", "500"))
BENCH_DOCS = 3000  # bench.suspicion's sample: held out
SCORE_DOCS = int(os.environ.get("MNEMO_EMBED_SCORE_DOCS", "600"))
# Locomo turns of the training half sampled for the fit (session 11: all of them, 1000 before).
LOCOMO_TRAIN = int(os.environ.get("MNEMO_EMBED_LOCOMO_TRAIN", "2000"))
TRAIN_DOCS, CALIB_DOCS = int(os.environ.get("MNEMO_EMBED_TRAIN_DOCS", "2500")), 1500
C = float(os.environ.get("MNEMO_EMBED_C", "1.0"))
# The false-positive rate the threshold allows on the tuning sets' honest lines, rules OR model
# (0.015: margin under the 0.02 bar), and the model alone on the held-out locomo half (session
# 11: 0, the threshold above every turn of it; 0.0033 before, which let the n-gram stack flag
# 1-2 of its 998 turns).
TARGET_FPR = float(os.environ.get("MNEMO_EMBED_TARGET_FPR", "0.015"))
CALIB_FPR = float(os.environ.get("MNEMO_EMBED_CALIB_FPR", "0.0"))
# L2 strength of the n-gram model (core.embedded_ngrams), the same loss as the embedding's.
NGRAM_C = float(os.environ.get("MNEMO_EMBED_NGRAM_C", "10"))
CACHE = Path(os.environ.get("MNEMO_FIT_CACHE", "/tmp/mnemo-fit-cache")) / "embed"


class Cache:
    """Window embeddings by text hash, saved as one .npz (never in the repository)."""

    def __init__(self) -> None:
        CACHE.mkdir(parents=True, exist_ok=True)
        self.path = CACHE / "vectors.npz"
        self.vec: dict[str, np.ndarray] = {}
        if self.path.exists():
            z = np.load(self.path)
            self.vec = dict(zip(z["keys"].tolist(), z["vecs"]))
        self.embedder: Any = None
        self.cpu = 0.0
        self.n = 0

    @staticmethod
    def key(t: str) -> str:
        return hashlib.sha1(t.encode("utf-8")).hexdigest()[:20]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in self.vec}.items())
        if todo:
            if self.embedder is None:
                from models.embedder import MiniLMEmbedder

                self.embedder = MiniLMEmbedder()
            for at in range(0, len(todo), 400):
                part = todo[at : at + 400]
                c0 = time.process_time()
                vecs = self.embedder.embed([t for _, t in part])
                self.cpu += time.process_time() - c0
                self.n += len(part)
                for (k, _), v in zip(part, vecs):
                    self.vec[k] = v
                self.save()
                print(f"embedded {self.n}/{len(todo)}", file=sys.stderr, flush=True)
        return np.stack([self.vec[k] for k in keys]) if keys else np.zeros((0, embedded.DIM))

    def save(self) -> None:
        keys = np.array(list(self.vec))
        vecs = np.stack(list(self.vec.values())).astype(np.float32)
        np.savez(self.path, keys=keys, vecs=vecs)


class Item:
    """One text: its windows' embeddings, its label, the group it belongs to."""

    __slots__ = ("group", "ngrams", "struct", "text", "vecs", "y")

    def __init__(self, text: str, y: int, group: str) -> None:
        self.text, self.y, self.group = text, y, group
        self.vecs: np.ndarray = np.zeros((0, embedded.DIM))
        self.struct = 0.0
        self.ngrams = embedded_ngrams.features(text)


_SENT = re.compile(r"(?<=[.!?])\s+")

# Generic places a line of text can sit in (source code, version control, mail, tables,
# tickets, quotes, markup, machine translation) and tones (polite, hedged, reported). Written
# for session 8 as carriers of any line: applied to honest and poisoned lines alike.
WRAPPERS = [
    "# {t}",
    "// {t}\nreturn result;",
    "/* {t} */",
    "<!-- {t} -->",
    "commit 9f3c2e1\nAuthor: dev <dev@example.com>\n\n    Update files\n\n    {t}",
    "DESCRIPTION:{t}",
    "Meeting invite · Thu 10:00\nNotes: {t}",
    'id,name,note\n42,Lee,"{t}"',
    "Ticket #{n} · Status: open\nCustomer wrote: {t}",
    "Re: question about setup\n> {t}\nThanks, that helped.",
    "Posted by user{n} · 2h ago\n{t}",
    "Translated from Portuguese: {t}",
    "P.S. {t}",
    "Just a small thing, if that's all right: {t}",
    "I was told the following, for what it's worth: {t}",
    "Note from the page: {t}",
    "{t} Thanks so much in advance!",
    "Update ({n}): {t}",
    "- [ ] {t}",
    "> {t}",
]


def wrap(text: str, rng: random.Random) -> str:
    return rng.choice(WRAPPERS).replace("{n}", str(rng.randint(100, 9999))).replace("{t}", text)


def carry(poison: str, carrier: str, rng: random.Random) -> str:
    """`poison` put between two sentences of `carrier`, at a random place."""
    sents = _SENT.split(carrier.strip())
    at = rng.randint(0, len(sents))
    return " ".join([*sents[:at], poison, *sents[at:]])


def collect(rng: random.Random) -> tuple[list[Item], dict[str, list[Item]]]:
    items: list[Item] = []
    for name in SETS:
        for r in dataset.load(getattr(dataset, name.upper())):
            items.append(Item(r["text"], int(r["label"] == "poisoned"), name))
    convs = locomo_by_conversation(LOCOMO)
    loc_train = [t for i, c in enumerate(convs) if i % 2 == 0 for t in c]
    loc_train = random.Random(3).sample(loc_train, min(LOCOMO_TRAIN, len(loc_train)))
    loc_held = [t for i, c in enumerate(convs) if i % 2 == 1 for t in c]
    docs = package_doc_paragraphs(limit=10**9)
    bench_docs, rest = docs[:SCORE_DOCS], docs[BENCH_DOCS:]
    train_docs, calib_docs = rest[:TRAIN_DOCS], rest[TRAIN_DOCS : TRAIN_DOCS + CALIB_DOCS]
    items += [Item(t, 0, "locomo_train") for t in loc_train]
    items += [Item(t, 0, "docs_train") for t in train_docs]
    # Carriers: each poisoned line of a training set inside real honest text.
    for it in [i for i in items if i.y == 1]:
        if rng.random() < 0.25 and train_docs:
            host = rng.choice(train_docs)
        else:
            k = rng.randrange(len(loc_train) - 3)
            host = " ".join(loc_train[k : k + 3])
        items.append(Item(carry(it.text, host, rng), 1, f"carrier:{it.group}"))
    # Wrapped copies: WRAP poisoned and WRAP honest hand-written lines, one carrier each.
    for y in (1, 0):
        pool = [i for i in items if i.y == y and i.group in SETS]
        for it in rng.sample(pool, min(WRAP, len(pool))):
            items.append(Item(wrap(it.text, rng), y, f"carrier:{it.group}"))
    held = {
        "locomo_held": [Item(t, 0, "locomo_held") for t in loc_held],
        "locomo_train": [i for i in items if i.group == "locomo_train"],
        "docs_calib": [Item(t, 0, "docs_calib") for t in calib_docs],
        "docs_bench": [Item(t, 0, "docs_bench") for t in bench_docs],
    }
    return items, held


WINDOWED = os.environ.get("MNEMO_EMBED_WINDOWS", "0") == "1"


def embed_all(cache: Cache, items: list[Item]) -> None:
    wins = [embedded.windows(i.text) if WINDOWED else [i.text] for i in items]
    flat = [w for ws in wins for w in ws]
    vecs = cache.embed(flat)
    at = 0
    for it, ws in zip(items, wins):
        it.vecs = vecs[at : at + len(ws)]
        at += len(ws)
        f = structural.features(it.text)
        m = structural.shipped_model()
        it.struct = max(-10.0, min(10.0, m.logit(f))) if f.get("has_reader") else -10.0


def train_windows(items: list[Item], c: float) -> tuple[np.ndarray, float]:
    """Two rounds: positives = whole poisoned texts, then also each one's best window."""
    neg = np.vstack([i.vecs for i in items if i.y == 0])
    pos_items = [i for i in items if i.y == 1]
    pos = np.stack([i.vecs[0] for i in pos_items])
    x = np.vstack([pos, neg])
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    w, _ = fit(x, y, c)
    best = np.stack([i.vecs[int(np.argmax(i.vecs @ w))] for i in pos_items])
    x = np.vstack([pos, best, neg])
    y = np.concatenate([np.ones(2 * len(pos)), np.zeros(len(neg))])
    return fit(x, y, c)


def train_ngrams(items: list[Item], c: float) -> embedded_ngrams.Model:
    """The n-gram model: the same logistic loss over each text's hashed n-grams, the poisoned
    rows counted twice as in train_windows."""
    import scipy.sparse as sp

    rows = [i for i in items if i.y == 1] + items
    ptr = np.cumsum([0] + [len(i.ngrams[0]) for i in rows])
    x = sp.csr_matrix(
        (
            np.concatenate([i.ngrams[1] for i in rows]).astype(np.float64),
            np.concatenate([i.ngrams[0] for i in rows]),
            ptr,
        ),
        shape=(len(rows), 1 << embedded_ngrams.BITS),
    )
    y = np.array([1.0] * sum(i.y for i in items) + [float(i.y) for i in items])
    w, b = fit(x, y, c)
    return embedded_ngrams.Model(w.astype(np.float32), b, embedded_ngrams.BITS)


def ngram_logit(it: Item, m: embedded_ngrams.Model) -> float:
    ids, vals = it.ngrams
    return float(vals @ m.w[ids]) + m.b


def max_logit(it: Item, w: np.ndarray, b: float) -> float:
    return float((it.vecs @ w).max() + b)


# Structural features the "stacked_features" stack reads besides the structural logit: who the
# text speaks to and what shape it has (core.structural), so the stack can weigh the embedding
# differently in a text that names an AI, is a transcript, or is the user's own request.
STACK_FEATURES = (
    "has_reader", "ai_mentioned", "ai_addressed", "transcript", "addressed_order",
    "own_request", "question", "about_an_ai", "short", "long",
)  # fmt: skip
STACKS = ("embedding_only", "stacked", "stacked_features", "stacked_ngrams")


def stack_inputs(
    it: Item, w: np.ndarray, b: float, kind: str, ng: embedded_ngrams.Model | None = None
) -> list[float]:
    """The stack's inputs for one text (core.embedded.Model.stacked computes the same);
    "stacked_ngrams" also reads the n-gram model `ng` (whole text only)."""
    lw = it.vecs @ w + b
    e_max = float(lw.max())
    if kind == "embedding_only":
        return [e_max]
    if kind == "stacked":
        return [e_max, it.struct]
    f = structural.features(it.text)
    if kind == "stacked_ngrams":
        assert ng is not None
        return [e_max, ngram_logit(it, ng), it.struct, *(f[k] for k in STACK_FEATURES)]
    # Read whole and windows apart only when there are windows (else they are one input).
    head = [e_max, float(lw[0])] if WINDOWED else [e_max]
    return [*head, it.struct, *(f[k] for k in STACK_FEATURES)]


def stack_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logistic stack over the inputs: weights then the constant."""
    wv, c = fit(x, y, 10.0)
    return np.append(wv, c)


def prob(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    z = x @ a[:-1] + a[-1]
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def rate(p: np.ndarray, t: float) -> float:
    return round(float((p >= t).mean()), 4) if len(p) else 0.0


def union_threshold(p: np.ndarray, y: np.ndarray, r: np.ndarray, fpr: float) -> float:
    """The lowest threshold on the model's probability at which rules OR model flags at most
    `fpr` of the honest rows (the rules' own false alarms count against the budget)."""
    budget = int(np.floor(fpr * (y == 0).sum())) - int(((y == 0) & r).sum())
    ps = np.sort(p[(y == 0) & ~r])[::-1]
    if budget < 0:
        return 0.999
    return float(ps[budget]) + 1e-6 if budget < len(ps) else 0.05


Arrays = dict[str, np.ndarray]


def choose(
    x: Arrays, y: Arrays, r: Arrays, xc: np.ndarray, names: list[str]
) -> tuple[np.ndarray, float]:
    """The stack fitted on the out-of-fold rows of `names` where the rules are silent (the model
    only runs there), and its threshold: rules OR model within TARGET_FPR on those sets' honest
    rows, the model alone within CALIB_FPR on the held-out locomo half (`xc`)."""
    xx = np.vstack([x[n] for n in names])
    yy = np.concatenate([y[n] for n in names])
    rr = np.concatenate([r[n] for n in names])
    a = stack_fit(xx[~rr], yy[~rr])
    t = union_threshold(prob(a, xx), yy, rr, TARGET_FPR)
    t = max(t, float(np.quantile(prob(a, xc), 1 - CALIB_FPR)) + 1e-6)
    return a, min(0.999, max(0.05, t))


def rules_verdicts(items: list[Item]) -> dict[int, bool]:
    """The phrase rules' verdict per text: a fixture row as bench.suspicion judges it (a screen
    row with its picture, cached by bench.suspicion_fit), any other text on its words."""
    from bench.suspicion_fit import _rules
    from core.suspicion import inspect, should_quarantine

    known: dict[str, bool] = {}
    for name in SETS:
        rows = dataset.load(getattr(dataset, name.upper()))
        for r, v in zip(rows, _rules(name, rows)):
            known[r["text"]] = bool(v)
    out = {}
    for it in items:
        if it.text not in known:
            known[it.text] = should_quarantine(inspect(it.text, structural_model=False))
        out[id(it)] = known[it.text]
    return out


def weights_doc(
    kind: str, st: Sequence[float], w: np.ndarray, b: float, threshold: float
) -> dict[str, Any]:
    """The weights file for a stack of `kind` with coefficients `st` (stack_inputs order, then
    the constant): core.embedded.Model.stacked computes the same probability from it."""
    doc: dict[str, Any] = {
        "version": embedded.WEIGHTS_VERSION,
        "about": "bench/suspicion_embed.py; logistic over the MiniLM embedding of the memory, "
        "stacked with the structural logit and features",
        "w": [round(float(v), 6) for v in w],
        "b": round(b, 6),
        "a_emb": float(st[0]),
        "a_struct": 0.0,
        "c": float(st[-1]),
        "threshold": threshold,
        "windowed": WINDOWED,
    }
    if kind == "stacked":
        doc["a_struct"] = float(st[1])
    elif kind == "stacked_ngrams":
        doc["about"] += "; and the hashed n-gram model (embedded_ngrams.npz)"
        doc["windowed"] = False
        doc["a_ngram"] = float(st[1])
        doc["a_struct"] = float(st[2])
        doc["a_feats"] = dict(zip(STACK_FEATURES, map(float, st[3:-1])))
    elif kind == "stacked_features":
        at = 2 if WINDOWED else 1
        if WINDOWED:
            doc["a_whole"] = float(st[1])
        doc["a_struct"] = float(st[at])
        doc["a_feats"] = dict(zip(STACK_FEATURES, map(float, st[at + 1 : -1])))
    return doc


def main() -> None:
    dry = "--dry-run" in sys.argv
    rng = random.Random(8)
    t0, c0 = time.perf_counter(), time.process_time()
    items, held = collect(rng)
    cache = Cache()
    every = items + held["locomo_held"] + held["docs_calib"] + held["docs_bench"]
    embed_all(cache, every)
    cache.save()
    rules = rules_verdicts(every)
    out: dict[str, Any] = {"bench": "suspicion_embed", "cores": os.cpu_count(), "c": C}
    out["windowed"] = WINDOWED
    out["data"] = {
        "items": len(items),
        "poisoned": sum(i.y for i in items),
        "honest_windows": int(sum(len(i.vecs) for i in items if i.y == 0)),
        "windows_per_text": {
            g: round(float(np.mean([len(i.vecs) for i in v])), 2)
            for g, v in (("sets", [i for i in items if i.group in SETS]), *held.items())
            if v
        },
        "embedded_now": cache.n,
        "embed_cpu_s": round(cache.cpu, 1),
        "ms_cpu_per_window": round(1000 * cache.cpu / max(1, cache.n), 2),
    }
    # Leave one hand-written set out (its carriers too): out-of-fold scores for the stack and
    # the threshold, recall per left-out set.
    folds: dict[str, tuple[np.ndarray, float, embedded_ngrams.Model, list[Item]]] = {}
    stacks = [k for k in STACKS if not (WINDOWED and k == "stacked_ngrams")]
    c1 = time.process_time()
    for name in LOSO:
        train = [i for i in items if i.group not in (name, f"carrier:{name}")]
        w, b = train_windows(train, C)
        folds[name] = (w, b, train_ngrams(train, NGRAM_C), [i for i in items if i.group == name])
    w, b = train_windows(items, C)
    # The n-gram model as it ships (its int8 weights), for the threshold's locomo floor and the
    # honest-text counts.
    ng_path = CACHE / embedded_ngrams.WEIGHTS_PATH.name
    embedded_ngrams.save_model(train_ngrams(items, NGRAM_C), ng_path)
    ng = embedded_ngrams.load_model(ng_path)
    out["fit_cpu_s"] = round(time.process_time() - c1, 1)
    calib = held["locomo_held"] + held["docs_calib"]
    final: dict[str, Any] = {}
    for kind in stacks:
        x = {
            n: np.array([stack_inputs(i, fw, fb, kind, fn) for i in t])
            for n, (fw, fb, fn, t) in folds.items()
        }
        y = {n: np.array([i.y for i in t]) for n, (*_, t) in folds.items()}
        r = {n: np.array([rules[id(i)] for i in t]) for n, (*_, t) in folds.items()}
        xc = np.array([stack_inputs(i, w, b, kind, ng) for i in calib])

        # Nested: each left-out set scored with a stack and threshold chosen on the others.
        loso = {}
        for name in LOSO:
            a, t = choose(x, y, r, xc, [n for n in LOSO if n != name])
            hit = r[name] | (prob(a, x[name]) >= t)
            yy = y[name]
            loso[name] = {
                "recall": round(float(hit[yy == 1].mean()), 4),
                "fpr": round(float(hit[yy == 0].mean()), 4),
            }
        a, t = choose(x, y, r, xc, LOSO)
        real = {}
        for hname, hitems in held.items():
            if not hitems:
                continue
            pp = prob(a, np.array([stack_inputs(i, w, b, kind, ng) for i in hitems]))
            hr = np.array([rules[id(i)] for i in hitems])
            real[hname] = {
                "n": len(hitems),
                "model": int((pp >= t).sum()),
                "rules_or_model": int((hr | (pp >= t)).sum()),
            }
        final[kind] = {
            "stack": [round(float(v), 4) for v in a],
            "threshold": round(t, 4),
            "leave_one_set_out_rules_or_model": loso,
            "loso_mean_recall": round(float(np.mean([v["recall"] for v in loso.values()])), 4),
            "loso_mean_fpr": round(float(np.mean([v["fpr"] for v in loso.values()])), 4),
            "real_honest": real,
        }
    out["models"] = final
    pick = max(final, key=lambda k: final[k]["loso_mean_recall"])
    out["picked"] = pick
    if not dry:
        chosen = final[pick]
        doc = weights_doc(pick, chosen["stack"], w, b, chosen["threshold"])
        embedded.WEIGHTS_PATH.write_text(json.dumps(doc) + "\n", encoding="utf-8")
        if pick == "stacked_ngrams":
            embedded_ngrams.save_model(ng)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    out["cpu_s"] = round(time.process_time() - c0, 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
