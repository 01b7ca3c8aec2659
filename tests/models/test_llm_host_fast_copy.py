"""The host hands its cache folder to the child: the bundled Q4_1 model is answered from its
F16 copy, and a model switch keeps the folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.llm_host import LlmHost, ModelConfig, default_cache_dir, default_model_path

pytestmark = pytest.mark.slow


def test_host_loads_through_the_cache_folder_and_keeps_it_on_switch(tmp_path: Path) -> None:
    model = str(default_model_path())
    host = LlmHost(ModelConfig(model, n_ctx=1024, cache_dir=str(tmp_path)))
    try:
        host.ensure_loaded()
        copies = list(tmp_path.glob("*.F16.gguf"))
        assert len(copies) == 1
        result = host.complete(
            [{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0.0
        )
        assert result.text.strip()
        host.set_model(model)
        cfg = host.config
        assert cfg is not None and cfg.cache_dir == str(tmp_path)
        assert list(tmp_path.glob("*.F16.gguf")) == copies
    finally:
        host.close()


def test_default_cache_folder_is_the_users_cache_not_the_data_folder() -> None:
    import platformdirs

    assert default_cache_dir().parent == Path(platformdirs.user_cache_dir("Mnemo", appauthor=False))
