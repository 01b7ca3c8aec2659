"""Small typed interfaces for every engine; real adapters live in models/ and app/, fakes in
tests.fakes for unit tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), dim), L2-normalised."""
        ...


@dataclass(slots=True)
class OcrBox:
    x: int
    y: int
    w: int
    h: int
    text: str
    score: float


class OcrEngine(Protocol):
    def recognise(self, image: object) -> list[OcrBox]:
        """OCR a PIL image; boxes in the image's pixel coordinates."""
        ...


@dataclass(slots=True)
class WindowInfo:
    app: str  # process name, lower-case, e.g. "firefox"
    title: str
    x: int
    y: int
    w: int
    h: int
    domain: str | None = None
    active: bool = False


class WindowContext(Protocol):
    def windows(self) -> list[WindowInfo]:
        """Visible top-level windows, topmost last. Raises on failure (callers fail closed)."""
        ...

    def screen_locked(self) -> bool: ...


@dataclass(slots=True)
class GenerationChunk:
    text: str
    done: bool = False
    error: str | None = None


class LanguageModel(Protocol):
    def generate(self, prompt: str, max_tokens: int = 512) -> Iterator[GenerationChunk]: ...

    def cancel(self) -> None: ...
