"""Markdown/text notes: one memory per short note, sections for long ones, stable ids."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.importers import ImportFileError, parse
from core.importers.notes import MAX_SECTION_CHARS, split_sections
from tests.core.importers.helpers import FIXTURES, parse_all

N = FIXTURES / "notes"


def test_folder_walk_skips_hidden_and_rejects_non_utf8() -> None:
    msgs, parsed = parse_all(N)
    assert parsed.format == "markdown"
    convs = [m.conversation for m in msgs]
    assert "inbox.md" in convs and "journal/2024-01-01.txt" in convs
    assert not any(".obsidian" in (c or "") for c in convs)
    assert [(r.where, r.reason) for r in parsed.rejected] == [
        ("broken.md", "is not UTF-8 text (invalid byte at offset 3)")
    ]


def test_file_time_is_the_memory_time() -> None:
    msgs = parse_all(N)[0]
    inbox = next(m for m in msgs if m.conversation == "inbox.md")
    assert inbox.time == (N / "inbox.md").stat().st_mtime
    assert inbox.text == "# Inbox\n\nCall the plumber about the leak 🚰."
    assert inbox.author is None


def test_long_note_is_split_at_headings_with_context() -> None:
    msgs = [m for m in parse_all(N)[0] if m.conversation == "projects/mnemo.md"]
    assert len(msgs) == 5
    assert msgs[1].text.startswith("# Mnemo project\n## Goals\n")
    last = msgs[-1].text
    assert last.startswith("# Mnemo project\n## Open questions\n### Sub-question\n")
    assert "# not a heading inside code" in last  # fenced code is not split
    assert all(len(m.text) <= MAX_SECTION_CHARS for m in msgs)


def test_ids_are_stable_and_change_with_content(tmp_path: Path) -> None:
    note = tmp_path / "a.md"
    note.write_text("first version", encoding="utf-8")
    first = parse_all(tmp_path)[0][0].external_id
    assert parse_all(tmp_path)[0][0].external_id == first
    note.write_text("second version", encoding="utf-8")
    assert parse_all(tmp_path)[0][0].external_id != first


def test_huge_section_is_cut_at_paragraphs() -> None:
    text = "# T\n\n" + "\n\n".join("word " * 200 for _ in range(30))
    sections = split_sections(text)
    assert len(sections) > 1
    assert all(len(s) <= MAX_SECTION_CHARS and s.startswith("# T\n") for s in sections)


def test_single_non_utf8_note_is_refused_and_empty_folder_too(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match=r"^broken\.md is not UTF-8 text"):
        parse(N / "broken.md", "markdown")
    (tmp_path / "pic.png").write_bytes(b"\x89PNG")
    with pytest.raises(ImportFileError, match=rf"^{tmp_path.name} has no \.md or \.txt notes"):
        parse(tmp_path)


def test_old_mtime_is_kept(tmp_path: Path) -> None:
    note = tmp_path / "old.md"
    note.write_text("from 2015", encoding="utf-8")
    os.utime(note, (1420070400, 1420070400))
    assert parse_all(note)[0][0].time == 1420070400
