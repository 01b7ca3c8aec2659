"""The real MiniLM embedder (bundled model, offline) and the fake one used by unit tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelMissing
from core.fakes import FakeEmbedder
from models.embedder import MiniLMEmbedder


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    e = MiniLMEmbedder()
    e.load()
    return e


@pytest.mark.slow
def test_similar_sentences_are_closer_than_unrelated(embedder: MiniLMEmbedder) -> None:
    v = embedder.embed(
        [
            "My dentist appointment was moved to Thursday.",
            "The dental checkup is now on Thursday instead.",
            "The quarterly budget spreadsheet has a formula error.",
        ]
    )
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > 0.6 > v[0] @ v[2] + 0.3


@pytest.mark.slow
def test_batches_match_single_calls(embedder: MiniLMEmbedder) -> None:
    texts = [f"note number {i} about gardening" for i in range(70)]  # more than one batch
    batch = embedder.embed(texts)
    one = embedder.embed([texts[65]])
    assert batch.shape == (70, 384)
    assert np.allclose(batch[65], one[0], atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="Reinstall"):
        MiniLMEmbedder(model_dir=tmp_path / "nowhere").embed(["x"])


def test_fake_is_deterministic_and_word_sensitive() -> None:
    fake = FakeEmbedder(dim=64)
    a, b, c = fake.embed(["blue heron river", "the blue heron by the river", "tax invoice"])
    assert np.allclose(a, fake.embed(["blue heron river"])[0])
    assert float(a @ b) > 0.5 > float(a @ c)
    assert np.isclose(np.linalg.norm(c), 1.0)
