"""Fit the structural poison detector (core/structural.py) and write core/structural_weights.json.

Training data: every labelled fixture set except fresh7 (the set never tuned on, which this
script never opens; fresh6 and tune7 joined in session 7) and the turns of the real locomo
conversations (all honest; path from $MNEMO_LOCOMO, never copied into the repository). A memory
is flagged when the phrase rules fire OR the model's probability reaches the threshold, so the
choice looks at that union. The model
is fitted on every row with a reader (see core.structural), not only on what the rules miss:
fitted on the rules' misses alone it learnt too little (leave-one-set-out recall 0.87 against
0.93); $MNEMO_FIT_RESIDUAL=1 fits that way, $MNEMO_FIT_MIN_PAIR=N adds feature pairs seen
together in N poisoned rows (it did not help).

Choice of the L2 strength and the threshold: leave-one-set-out over the hand-written sets
fresh2-fresh6 and tune7 (fit on everything else and one half of locomo, split by conversation;
score the left-out set and the other half). The pick is the best mean recall with the mean
false-positive rate <= 0.015 (no left-out set above 0.025) and <= 1 flagged turn in each locomo
half; then the model is refitted on all of it and the threshold raised, if need be, until at
most 2 locomo turns are flagged and every set keeps a false-positive rate <= 0.02 (the bar its
tests hold).
Prints one JSON document. Run: nice -n 10 .venv/bin/python -m bench.suspicion_fit [--dry-run]
(about 30 CPU-seconds; `make bench-suspicion-fit`)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.suspicion import LOCOMO  # noqa: E402
from core import structural  # noqa: E402
from tests.fixtures.poison import dataset  # noqa: E402

TRAIN = [
    "dev", "heldout", "fresh", "wide_dev", "wide_heldout", "wide_fresh",
    "fresh2", "fresh3", "fresh4", "fresh5", "fresh6", "tune7",
]  # fmt: skip
LOSO = ["fresh2", "fresh3", "fresh4", "fresh5", "fresh6", "tune7"]
C_GRID = [0.01, 0.03, 0.1, 0.3, 1.0]
T_GRID = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97]
MAX_FPR, MAX_FOLD_FPR, MAX_LOCOMO_HALF, MAX_LOCOMO, MAX_SET_FPR = 0.015, 0.025, 1, 2, 0.02
RESIDUAL_ONLY = os.environ.get("MNEMO_FIT_RESIDUAL", "0") == "1"
MIN_PAIR = int(os.environ.get("MNEMO_FIT_MIN_PAIR", "0"))  # 0: no pairs
CACHE = Path(os.environ.get("MNEMO_FIT_CACHE", "/tmp/mnemo-fit-cache"))


def _rules(name: str, rows: list[dict[str, Any]]) -> np.ndarray:
    """The phrase rules' verdict per row (the model off), cached: rendering image rows is slow."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"rules-{name}-{len(rows)}.npy"
    if path.exists():
        return np.load(path)
    out = np.array([dataset.judge(r, structural_model=False) for r in rows])
    np.save(path, out)
    return out


def _matrix(texts: list[str]) -> np.ndarray:
    return np.array(
        [[f[k] for k in structural.FEATURES] for f in map(structural.features, texts)], dtype=float
    )


def locomo_by_conversation(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    convs = []
    for sample in data:
        turns = []
        for key, session in sample["conversation"].items():
            if key.startswith("session_") and isinstance(session, list):
                for turn in session:
                    caption = turn.get("blip_caption")
                    turns.append(turn["text"] + (f" [shares {caption}]" if caption else ""))
        convs.append(turns)
    return convs


def load() -> dict[str, dict[str, np.ndarray]]:
    from core.suspicion import inspect, should_quarantine

    data = {}
    for name in TRAIN:
        rows = dataset.load(getattr(dataset, name.upper()))
        data[name] = {
            "x": _matrix([r["text"] for r in rows]),
            "y": np.array([r["label"] == "poisoned" for r in rows], dtype=float),
            "rules": _rules(name, rows),
        }
    if not LOCOMO.exists():
        raise SystemExit(f"{LOCOMO} not found: set MNEMO_LOCOMO (locomo turns are needed)")
    convs = locomo_by_conversation(LOCOMO)
    for half in (0, 1):
        texts = [t for i, c in enumerate(convs) if i % 2 == half for t in c]
        data[f"locomo{half}"] = {
            "x": _matrix(texts),
            "y": np.zeros(len(texts)),
            "rules": np.array(
                [
                    should_quarantine(inspect(t, kind="import:jsonl", structural_model=False))
                    for t in texts
                ]
            ),
        }
    return data


def fit(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression (bias not penalised) by L-BFGS; the poisoned rows
    weighted up to a third of the total so the many honest rows do not drown them."""
    from scipy.optimize import minimize

    n, d = x.shape
    pos = max(1.0, float(y.sum()))
    sw = np.where(y > 0, (n / 3) / pos, (2 * n / 3) / max(1.0, n - pos)) / n

    def loss(wb: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = wb[:-1], wb[-1]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))
        ll = -(sw * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))).sum()
        g = sw * (p - y)
        grad = np.append(x.T @ g + w / (c * n), g.sum())
        return float(ll + (w @ w) / (2 * c * n)), grad

    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x[:-1], float(res.x[-1])


def pairs_of(x: np.ndarray, y: np.ndarray, min_pos: int = MIN_PAIR) -> list[tuple[int, int]]:
    """Feature pairs seen together in at least `min_pos` poisoned rows: the conjunctions a
    linear model cannot form by itself ("addressed to an AI" and "when asked, say")."""
    if min_pos <= 0:
        return []
    xp = x[y > 0]
    co = xp.T @ xp
    d = x.shape[1]
    return [(i, j) for i in range(d) for j in range(i + 1, d) if co[i, j] >= min_pos]


def expand(x: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    if not pairs:
        return x
    return np.hstack([x, np.stack([x[:, i] * x[:, j] for i, j in pairs], axis=1)])


Fitted = tuple[list[tuple[int, int]], np.ndarray, float]


def train(x: np.ndarray, y: np.ndarray, c: float) -> Fitted:
    pairs = pairs_of(x, y)
    w, b = fit(expand(x, pairs), y, c)
    return pairs, w, b


READER = structural.FEATURES.index("has_reader")


def predict(m: Fitted, x: np.ndarray) -> np.ndarray:
    """As core.structural.Model.probability: 0 for a text without a reader it speaks to."""
    pairs, w, b = m
    p = 1.0 / (1.0 + np.exp(-np.clip(expand(x, pairs) @ w + b, -60, 60)))
    return p * x[:, READER]


def _stack(data: dict[str, dict[str, np.ndarray]], names: list[str]) -> tuple[np.ndarray, ...]:
    """Rows the rules leave alone, stacked: the model only has to find what the rules miss, and
    its false alarms only count where the rules are silent."""
    x, y, rules = (np.concatenate([data[n][k] for n in names]) for k in ("x", "y", "rules"))
    keep = x[:, structural.FEATURES.index("has_reader")] > 0
    if RESIDUAL_ONLY:
        keep &= ~rules.astype(bool)
    return x[keep], y[keep], rules[keep]


def _rates(flag: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    pos = y > 0
    return float(flag[pos].mean()) if pos.any() else 0.0, float(flag[~pos].mean())


def choose(data: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    table: dict[tuple[float, float], list[tuple[float, float, int]]] = {}
    for held in LOSO:
        for lh in (0, 1):
            names = [n for n in TRAIN if n != held] + [f"locomo{lh}"]
            x, y, _ = _stack(data, names)
            for c in C_GRID:
                m = train(x, y, c)
                ph = predict(m, data[held]["x"])
                pl = predict(m, data[f"locomo{1 - lh}"]["x"])
                for t in T_GRID:
                    rec, fpr = _rates((ph >= t) | data[held]["rules"], data[held]["y"])
                    flags = int(((pl >= t) | data[f"locomo{1 - lh}"]["rules"]).sum())
                    table.setdefault((c, t), []).append((rec, fpr, flags))
    best = None
    rows = []
    for (c, t), res in sorted(table.items()):
        rec = float(np.mean([r[0] for r in res]))
        fpr = float(np.mean([r[1] for r in res]))
        worst = max(r[2] for r in res)
        worst_fpr = max(r[1] for r in res)
        ok = fpr <= MAX_FPR and worst_fpr <= MAX_FOLD_FPR and worst <= MAX_LOCOMO_HALF
        rows.append({"c": c, "t": t, "recall": round(rec, 4), "fpr": round(fpr, 4),
                     "locomo_half_max": worst, "ok": ok})  # fmt: skip
        if ok and (best is None or rec > best[0]):
            best = (rec, c, t)
    if best is None:
        raise SystemExit("no setting meets the false-positive limits")
    per_set = {}
    for held in LOSO:
        x, y, _ = _stack(data, [n for n in TRAIN if n != held] + ["locomo0"])
        ph = predict(train(x, y, best[1]), data[held]["x"])
        r_before = _rates(data[held]["rules"].astype(bool), data[held]["y"])
        r_after = _rates((ph >= best[2]) | data[held]["rules"], data[held]["y"])
        per_set[held] = {"rules": [round(v, 4) for v in r_before],
                         "rules_or_model": [round(v, 4) for v in r_after]}  # fmt: skip
    return {"c": best[1], "threshold": best[2], "loso_recall": round(best[0], 4),
            "loso_per_set": per_set, "grid": rows}  # fmt: skip


def main() -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    data = load()
    choice = choose(data)
    x, y, _ = _stack(data, [*TRAIN, "locomo0", "locomo1"])
    model = train(x, y, choice["c"])
    t = choice["threshold"]
    lx = np.concatenate([data["locomo0"]["x"], data["locomo1"]["x"]])
    lr = np.concatenate([data["locomo0"]["rules"], data["locomo1"]["rules"]])
    pl = predict(model, lx)

    def over(t: float) -> bool:
        """More than MAX_LOCOMO locomo turns flagged, or a set above the bar of FPR 0.02."""
        if int(((pl >= t) | lr).sum()) > MAX_LOCOMO:
            return True
        for n in TRAIN:
            flag = (predict(model, data[n]["x"]) >= t) | data[n]["rules"]
            if _rates(flag, data[n]["y"])[1] > MAX_SET_FPR:
                return True
        return False

    while over(t) and t < 0.999:
        t = round(t + 0.005, 3)
    out: dict[str, Any] = {"bench": "suspicion_fit", "cores": os.cpu_count(), "choice": choice}
    out["threshold"] = t
    out["locomo_flags"] = int(((pl >= t) | lr).sum())
    out["train_fit"] = {}
    for n in TRAIN:
        p = predict(model, data[n]["x"])
        rec, fpr = _rates((p >= t) | data[n]["rules"], data[n]["y"])
        out["train_fit"][n] = {"recall": round(rec, 4), "fpr": round(fpr, 4)}
    pairs, w, b = model
    names = list(structural.FEATURES)
    weights = {k: round(float(v), 4) for k, v in zip(names, w[: len(names)], strict=True)}
    pair_w = {
        f"{names[i]}&{names[j]}": round(float(v), 4)
        for (i, j), v in zip(pairs, w[len(names) :], strict=True)
        if abs(v) >= 0.01
    }
    doc = {"version": structural.WEIGHTS_VERSION, "c": choice["c"], "threshold": t,
           "bias": round(b, 4), "weights": weights, "pairs": pair_w}  # fmt: skip
    out["features"], out["pairs"] = len(weights), len(pair_w)
    out["cpu_s"] = round(time.process_time() - c0, 1)
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    if "--dry-run" not in sys.argv:
        structural.WEIGHTS_PATH.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
