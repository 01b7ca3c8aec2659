"""A fake model host for fast assistant tests: the same surface as models.llm_host.LlmHost
(status, generate -> stream with cancel/result, ensure_loaded, count_tokens, n_ctx, set_model,
test_model, close), answering with a scripted function, token by token."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from core.interfaces import GenerationChunk
from core.prompting import estimate_tokens
from models.llm_host import (
    GenerationResult,
    GenerationTimings,
    LlmState,
    LlmStatus,
    ModelTest,
    validate_gguf,
)

Reply = Callable[[list[dict[str, str]]], str]


def memories_in(messages: list[dict[str, str]]) -> str:
    return messages[-1]["content"]


@dataclass
class FakeStream(Iterator[GenerationChunk]):
    pieces: list[str]
    delay: float
    fail_after: int | None = None  # pieces delivered before the "model" stops
    result: GenerationResult | None = None
    _i: int = 0
    _cancelled: threading.Event = field(default_factory=threading.Event)
    _t0: float = field(default_factory=time.perf_counter)
    _first: float = 0.0

    def cancel(self) -> None:
        self._cancelled.set()

    def _finish(self, *, cancelled: bool = False, error: str | None = None) -> GenerationChunk:
        total = time.perf_counter() - self._t0
        self.result = GenerationResult(
            "fake",
            "".join(self.pieces[: self._i]),
            cancelled=cancelled,
            error=error,
            timings=GenerationTimings(
                first_token_s=self._first, total_s=total, tokens_per_s=100.0, tokens=self._i
            ),
        )
        return GenerationChunk("", done=True, error=error)

    def __next__(self) -> GenerationChunk:
        if self.result is not None:
            raise StopIteration
        if self._cancelled.wait(self.delay):
            return self._finish(cancelled=True)
        if self.fail_after is not None and self._i >= self.fail_after:
            return self._finish(error="The model stopped (killed by SIGKILL); restarting it.")
        if self._i >= len(self.pieces):
            return self._finish()
        if self._i == 0:
            self._first = time.perf_counter() - self._t0
        self._i += 1
        return GenerationChunk(self.pieces[self._i - 1])


class FakeHost:
    def __init__(self, reply: Reply | str = "I couldn't find that.", *, delay: float = 0.0):
        self.reply: Reply = (lambda _m: reply) if isinstance(reply, str) else reply
        self.delay = delay
        self.prompts: list[list[dict[str, str]]] = []
        self.fail_next_after: int | None = None
        self.honor_stop = False  # cut the reply at the first stop string, as llama.cpp does
        self.loads = 0
        self.closed = False
        self.path = "fake.gguf"
        self.context = 2048
        self._status = LlmStatus(LlmState.NOT_LOADED)

    @property
    def status(self) -> LlmStatus:
        return self._status

    def ensure_loaded(self) -> float:
        if self._status.state is LlmState.NOT_LOADED:
            self.loads += 1
        self._status = LlmStatus(LlmState.READY)
        return 0.0

    def generate(self, prompt: Any, max_tokens: int = 512, *, stop: Any = None) -> FakeStream:
        self.ensure_loaded()
        self.prompts.append(list(prompt))
        text = self.reply(list(prompt))
        if self.honor_stop:
            for s in stop or []:
                text = text.split(s, 1)[0]
        pieces = [w + " " for w in text.split(" ")]
        pieces[-1] = pieces[-1].rstrip()
        fail, self.fail_next_after = self.fail_next_after, None
        return FakeStream(pieces[:max_tokens], self.delay, fail_after=fail)

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    def n_ctx(self) -> int:
        return self.context

    def set_model(self, path: str, n_ctx: int | None = None, n_threads: int | None = None) -> float:
        validate_gguf(path)  # raises ModelMissing like the real host; the old model stays
        self.path, self.context = str(path), n_ctx or self.context
        return 0.01

    def test_model(self) -> ModelTest:
        return ModelTest(tokens_per_s=100.0, first_token_s=0.01, load_s=0.0, model_path=self.path)

    def close(self) -> None:
        self.closed = True
