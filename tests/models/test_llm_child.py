"""models.llm_child in-process with the real bundled model: the F16 copy made for Q4_1
weights (once, reused, made again when damaged, the source itself when no copy can be made,
never for other types or without a cache folder)
and the warm-up that leaves the answer prompt's system message in the KV cache."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.prompting import SYSTEM_PROMPT
from models.llm_child import _load, _Model, fast_copy_path
from models.llm_host import default_model_path

pytestmark = pytest.mark.slow

QUESTION = [
    {"role": "system", "content": SYSTEM_PROMPT},
    {
        "role": "user",
        "content": "Memories:\n[1] Wed 18 Nov 10:06, note\n> The cat is called Tom.\n\n"
        "Question: What is the cat called?",
    },
]


def _load_msg(path: Path | str, cache_dir: Path | None) -> dict[str, Any]:
    msg: dict[str, Any] = {"op": "load", "id": "1", "model_path": str(path), "n_ctx": 512}
    msg["n_threads"] = os.cpu_count() or 1
    if cache_dir is not None:
        msg["cache_dir"] = str(cache_dir)
    return msg


def _answer(model: _Model) -> str:
    out = model.llm.create_completion(
        prompt=model.chat_tokens(QUESTION), max_tokens=12, temperature=0.0, stop=model.stops([])
    )
    return str(out["choices"][0]["text"])


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A private copy of the bundled model, so its mtime can be changed.
    dest = tmp_path_factory.mktemp("src") / default_model_path().name
    shutil.copyfile(default_model_path(), dest)
    return dest


@pytest.fixture(scope="module")
def converted(
    source: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[_Model, Path]]:
    cache = tmp_path_factory.mktemp("cache")
    model = _load(_load_msg(source, cache), None)
    yield model, cache
    model.llm.close()


def test_q4_1_model_is_loaded_from_an_f16_copy_in_the_cache(
    converted: tuple[_Model, Path], source: Path
) -> None:
    model, cache = converted
    copy = fast_copy_path(str(source), str(cache))
    assert copy.is_file() and copy.parent == cache
    assert [p.name for p in cache.iterdir()] == [copy.name]  # no temporary file left
    assert model.llm.metadata["general.file_type"] == "1"  # LLAMA_FTYPE_MOSTLY_F16
    assert model.path == str(source)  # the host still sees the file it asked for
    assert "Tom" in _answer(model)


def test_the_copy_is_reused_and_a_changed_source_gets_a_new_one(
    converted: tuple[_Model, Path], source: Path
) -> None:
    _, cache = converted
    copy = fast_copy_path(str(source), str(cache))
    before = copy.stat().st_mtime_ns
    again = _load(_load_msg(source, cache), None)
    try:
        assert copy.stat().st_mtime_ns == before
        assert again.llm.metadata["general.file_type"] == "1"
    finally:
        again.llm.close()
    st = source.stat()
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    newer = fast_copy_path(str(source), str(cache))
    assert newer != copy
    other = cache / "SmolLM2-other-0123456789abcdef.F16.gguf"  # another model's copy
    other.write_bytes(b"x")
    updated = _load(_load_msg(source, cache), None)
    updated.llm.close()
    # The updated file got its own copy; the earlier version's copy was removed.
    assert sorted(p.name for p in cache.iterdir()) == sorted([newer.name, other.name])
    other.unlink()


def test_a_damaged_copy_is_made_again(source: Path, tmp_path: Path) -> None:
    copy = fast_copy_path(str(source), str(tmp_path))
    copy.write_bytes(b"GGUF" + b"\0" * 64)
    stale = tmp_path / f".{copy.name}.999999.part"
    stale.write_bytes(b"half")
    os.utime(stale, (1, 1))
    model = _load(_load_msg(source, tmp_path), None)
    try:
        assert copy.stat().st_size > 1_000_000
        assert not stale.exists()
        assert model.llm.metadata["general.file_type"] == "1"
        assert "Tom" in _answer(model)
    finally:
        model.llm.close()


def test_an_unusable_cache_folder_falls_back_to_the_source(source: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    model = _load(_load_msg(source, blocked / "cache"), None)
    try:
        assert model.llm.metadata["general.file_type"] == "3"  # the Q4_1 source itself
        assert "Tom" in _answer(model)
    finally:
        model.llm.close()


def test_no_copy_without_a_cache_folder_or_for_a_fast_type(
    converted: tuple[_Model, Path], source: Path, tmp_path: Path
) -> None:
    plain = _load(_load_msg(source, None), None)
    try:
        assert plain.llm.metadata["general.file_type"] == "3"
    finally:
        plain.llm.close()
    _, cache = converted
    f16 = tmp_path / "f16.gguf"
    f16.symlink_to(next(cache.glob("*.F16.gguf")))
    other = tmp_path / "cache"
    model = _load(_load_msg(f16, other), None)
    model.llm.close()
    assert not other.exists() or not any(other.iterdir())


def test_warm_up_leaves_the_system_message_for_the_first_question_to_reuse() -> None:
    fresh = _load(_load_msg(default_model_path(), None), None)
    try:
        prompt = fresh.chat_tokens(QUESTION)
        empty_user = fresh.chat_tokens([QUESTION[0], {"role": "user", "content": ""}])
        closing = fresh._tok("<|im_end|>\n<|im_start|>assistant\n", special=True)
        up_to_user_content = len(empty_user) - len(closing)
        cached = list(fresh.llm.input_ids[: fresh.llm.n_tokens])
        shared = 0
        for a, b in zip(cached, prompt, strict=False):
            if a != b:
                break
            shared += 1
        # Everything up to the user's content is already evaluated.
        assert up_to_user_content > 60
        assert shared >= up_to_user_content
    finally:
        fresh.llm.close()
