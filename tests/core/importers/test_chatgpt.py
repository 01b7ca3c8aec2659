"""ChatGPT export: current-branch walking, missing nodes, null messages, skipped content."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from core.importers import ImportFileError, parse
from tests.core.importers.helpers import FIXTURES, parse_all

EXPORT = FIXTURES / "chatgpt" / "conversations.json"


def test_walks_the_current_branch_only() -> None:
    msgs, _ = parse_all(EXPORT)
    lisbon = [m for m in msgs if m.conversation == "Trip to Lisbon 🇵🇹"]
    assert [m.external_id for m in lisbon] == ["n1", "n2b", "n3", "n5"]
    assert "Old answer: visit Porto instead." not in {m.text for m in msgs}  # regenerated away
    assert [m.role for m in lisbon] == ["user", "assistant", "user", "assistant"]
    assert [m.author for m in lisbon] == ["user", "ChatGPT", "user", "ChatGPT"]


def test_times_and_fallback_for_a_null_create_time() -> None:
    msgs = {m.external_id: m for m in parse_all(EXPORT)[0]}
    assert msgs["n1"].time == 1700000010.5
    assert msgs["n2b"].time == 1700000030.0
    # n5 has create_time null: it takes the last time seen on its branch (the tool reply's).
    assert msgs["n5"].time == 1700000045.0


def test_keeps_text_parts_of_multimodal_messages() -> None:
    msgs = {m.external_id: m for m in parse_all(EXPORT)[0]}
    assert msgs["n3"].text == "Is this tram 28?"


def test_bridges_a_missing_node_and_skips_null_messages() -> None:
    msgs = [m for m in parse_all(EXPORT)[0] if m.conversation == "Código en español — مرحبا"]
    assert [m.external_id for m in msgs] == ["m1", "m3"]
    assert msgs[0].text.endswith("مرحبا")


def test_without_current_node_the_newest_branch_is_used_and_tool_calls_skipped() -> None:
    msgs, parsed = parse_all(EXPORT)
    untitled = [m for m in msgs if m.conversation == "Untitled conversation conv-3"]
    assert [m.text for m in untitled] == ["hello again", "Hi! 👋"]
    assert parsed.skipped["tool call"] == 1


def test_counts_rejections_and_skips() -> None:
    msgs, parsed = parse_all(EXPORT)
    assert len(msgs) == 9
    assert parsed.count == 9
    wheres = {r.where: r.reason for r in parsed.rejected}
    assert wheres["item 4"] == "not a ChatGPT conversation (no message tree)"
    assert "missing node" in wheres['conversation "Broken tree"']
    assert parsed.skipped["hidden message"] == 1
    assert parsed.skipped["tool output"] == 1
    assert parsed.format == "chatgpt"
    assert parsed.kind == "import:chatgpt"


def test_reads_the_export_zip(tmp_path: Path) -> None:
    archive = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("chat.html", "<html></html>")
        zf.writestr("user.json", '{"id": "user-1"}')
        zf.write(EXPORT, "conversations.json")
    msgs, parsed = parse_all(archive)
    assert parsed.format == "chatgpt"
    assert parsed.source_label == "chatgpt-export.zip (conversations.json)"
    assert len(msgs) == 9


def test_truncated_export_raises_naming_the_file_after_complete_conversations() -> None:
    parsed = parse(FIXTURES / "malformed" / "truncated_chatgpt.json")
    got = []
    with pytest.raises(ImportFileError, match=r"truncated_chatgpt\.json .*cut off"):
        for m in parsed.messages:
            got.append(m)
    assert len(got) == 6  # the caller rolls these back: the file is one transaction


def test_a_list_that_is_not_conversations_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([{"title": "x", "mapping": {}}, 1]), encoding="utf-8")
    msgs, parsed = parse_all(path)
    assert msgs == []
    assert parsed.rejected[0].where == "item 2"
    path.write_text(json.dumps([{"foo": 1}]), encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"conversations\.json is not a ChatGPT export"):
        parse(path, "chatgpt")


def test_strict_mode_refuses_the_file_at_the_first_bad_item() -> None:
    with pytest.raises(
        ImportFileError, match=r"^conversations\.json has an item .*\(item 4: not a"
    ):
        list(parse(EXPORT, strict=True).messages)
