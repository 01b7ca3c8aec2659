"""Streaming: parsing memory does not grow with the export's size (the 100-200 MB numbers are
in bench/import_parse.py)."""

from __future__ import annotations

import tracemalloc
import zipfile
from pathlib import Path

from bench.gen_exports import write_chatgpt, write_telegram
from core.importers import parse


def peak_while_parsing(path: Path, fmt: str = "auto") -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = sum(1 for _ in parse(path, fmt).messages)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak


def test_chatgpt_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    small = write_chatgpt(tmp_path / "small.json", target_mb=1)
    big = write_chatgpt(tmp_path / "conversations.json", target_mb=4)
    n_small, peak_small = peak_while_parsing(tmp_path / "small.json")
    n_big, peak_big = peak_while_parsing(tmp_path / "conversations.json")
    assert (n_small, n_big) == (small["messages"], big["messages"])
    assert peak_big < peak_small * 1.5 + 512 * 1024
    assert peak_big < big["bytes"] / 4
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(tmp_path / "conversations.json", "conversations.json")
    n_zip, peak_zip = peak_while_parsing(archive)
    assert n_zip == big["messages"]
    assert peak_zip < peak_small * 1.5 + 512 * 1024


def test_telegram_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    small = write_telegram(tmp_path / "small.json", messages=1_500)
    big = write_telegram(tmp_path / "result.json", messages=6_000)
    n_small, peak_small = peak_while_parsing(tmp_path / "small.json", "telegram")
    n_big, peak_big = peak_while_parsing(tmp_path / "result.json", "telegram")
    assert (n_small, n_big) == (small["messages"], big["messages"])
    assert peak_big < peak_small * 1.5 + 512 * 1024
