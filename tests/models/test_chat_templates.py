"""Chat templates for GGUFs without one of their own, chosen by architecture, and the
base-model guess shown in Settings → Models (pure: no model loaded)."""

from __future__ import annotations

import jinja2
import pytest

from models.llm_child import _CHATML, fallback_template, looks_like_base_model

MESSAGES = [
    {"role": "system", "content": "SYS"},
    {"role": "user", "content": "Q"},
]


def render(template: str) -> str:
    env = jinja2.Environment(loader=jinja2.BaseLoader())
    return env.from_string(template).render(
        messages=MESSAGES, add_generation_prompt=True, bos_token="<s>", eos_token="</s>"
    )


@pytest.mark.parametrize(
    ("meta", "tokens", "expect"),
    [
        ({"general.architecture": "gemma3"}, set(), "<start_of_turn>model\n"),
        (
            {"general.architecture": "llama"},
            {"<|start_header_id|>"},
            "<|start_header_id|>assistant",
        ),
        (
            {"general.architecture": "llama", "general.name": "Mistral 7B Instruct"},
            set(),
            "[INST] SYS\n\nQ [/INST]",
        ),
        ({"general.architecture": "llama", "general.name": "Llama-2 7b chat"}, set(), "<<SYS>>"),
        ({"general.architecture": "phi3"}, set(), "<|assistant|>\n"),
        ({"general.architecture": "qwen2"}, set(), "<|im_start|>assistant\n"),
    ],
)
def test_template_by_architecture(meta, tokens, expect) -> None:  # type: ignore[no-untyped-def]
    text = render(fallback_template(meta, lambda t: t in tokens))
    assert expect in text
    assert "SYS" in text and "Q" in text


def test_unknown_architecture_speaks_chatml() -> None:
    assert fallback_template({}) == _CHATML


def test_gemma_puts_the_system_text_into_the_first_user_turn() -> None:
    text = render(fallback_template({"general.architecture": "gemma"}))
    assert text.startswith("<s><start_of_turn>user\nSYS\n\nQ<end_of_turn>\n")


@pytest.mark.parametrize(
    ("meta", "path", "base"),
    [
        ({}, "/m/gemma-3-270m-Q8_0.gguf", True),
        ({}, "/m/SmolLM2-135M-Instruct-Q4_1.gguf", False),
        ({}, "/m/gemma-3-270m-it-Q8_0.gguf", False),
        ({"general.finetune": "chat"}, "/m/model.gguf", False),
        ({"tokenizer.chat_template": "{{ x }}"}, "/m/model.gguf", False),
    ],
)
def test_base_model_guess(meta, path, base) -> None:  # type: ignore[no-untyped-def]
    assert looks_like_base_model(meta, path) is base
