"""Shared helpers for the importer tests: the fixture folder and a parse-everything helper."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.importers import ParsedFile, parse
from core.types import ImportedMessage

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports"


def parse_all(
    path: Path, fmt: str = "auto", **options: Any
) -> tuple[list[ImportedMessage], ParsedFile]:
    parsed = parse(path, fmt, **options)
    return list(parsed.messages), parsed
