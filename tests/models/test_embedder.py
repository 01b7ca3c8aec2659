"""The real MiniLM embedder (bundled model, offline) and the fake one used by unit tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelMissing
from models.embedder import BATCH_CHARS, LENGTH_CAP, MiniLMEmbedder, length_batches
from tests.fakes import FakeEmbedder


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


@pytest.mark.slow
def test_mixed_lengths_keep_their_order(embedder: MiniLMEmbedder) -> None:
    # The embedder regroups texts by length; each vector must still come back in its place.
    texts = [("word " * ((i * 13) % 90)) + f"item {i} about herons" for i in range(40)]
    batch = embedder.embed(texts)
    for i in (0, 7, 22, 39):
        assert np.allclose(batch[i], embedder.embed([texts[i]])[0], atol=1e-5)


def test_length_batches_group_similar_lengths_within_the_budget() -> None:
    texts = ["x" * n for n in [5, 300, 40, 2000, 41, 6, 299, 39] * 10]
    batches = length_batches(texts, max_batch=16, budget=BATCH_CHARS)
    assert sorted(i for b in batches for i in b) == list(range(len(texts)))
    for b in batches:
        longest = max(min(len(texts[i]), LENGTH_CAP) for i in b)
        assert len(b) <= 16
        assert len(b) == 1 or len(b) * (longest + 8) <= BATCH_CHARS
    # Longest first, and a batch never mixes a 300-character text with a 5-character one.
    assert all(len(texts[i]) == 2000 for i in batches[0])
    assert not any({len(texts[i]) for i in b} >= {5, 300} for b in batches)
    assert length_batches([]) == []


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="Reinstall"):
        MiniLMEmbedder(model_dir=tmp_path / "nowhere").embed(["x"])


def test_fake_is_deterministic_and_word_sensitive() -> None:
    fake = FakeEmbedder(dim=64)
    a, b, c = fake.embed(["blue heron river", "the blue heron by the river", "tax invoice"])
    assert np.allclose(a, fake.embed(["blue heron river"])[0])
    assert float(a @ b) > 0.5 > float(a @ c)
    assert np.isclose(np.linalg.norm(c), 1.0)


@pytest.mark.slow
def test_torch_only_model_gives_sentence_transformers_vectors(embedder: MiniLMEmbedder) -> None:
    # The vectors already stored were made by sentence-transformers: the torch-only run of the
    # same model must give the same ones (texts past the 256-token cut, accents, CJK, empty).
    from sentence_transformers import SentenceTransformer

    from models.embedder import bundled_model_dir

    texts = ["", "Café Müller, 9:30", "東京の会議", "invoice " * 400, "the spare key is in the box"]
    st = SentenceTransformer(str(bundled_model_dir()), device="cpu", local_files_only=True)
    want = st.encode(texts, batch_size=len(texts), normalize_embeddings=True)
    got = embedder.embed(texts)
    assert np.abs(got - want).max() < 1e-5


def test_loading_the_embedder_leaves_sentence_transformers_unimported() -> None:
    # sentence-transformers pulls scipy and scikit-learn in: +176 MB resident (footprint bar
    # 700 MB). The capture process loads the model without it.
    import subprocess
    import sys

    code = (
        "import sys; from models.embedder import MiniLMEmbedder; MiniLMEmbedder().embed(['x']); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'sentence_transformers', 'sklearn', 'transformers'}))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
