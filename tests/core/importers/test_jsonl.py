"""JSONL: strict by default (one bad line refuses the file before any message), lenient on ask;
a line's "id" is scoped by the message, so files numbered alike do not collide on import."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.importers import ImportFileError, parse
from core.types import ImportedMessage
from tests.core.importers.helpers import FIXTURES, parse_all

J = FIXTURES / "jsonl"


def given(msgs: list[ImportedMessage]) -> list[str]:
    """The ids as the file gave them (external_ids are "<id>#<fingerprint>")."""
    return [m.external_id.partition("#")[0] for m in msgs]


def test_fields_map_to_messages() -> None:
    msgs, parsed = parse_all(J / "chat.jsonl")
    assert parsed.format == "jsonl"
    assert given(msgs[:2]) == ["j1", "j2"]
    assert all(re.fullmatch(r"j\d#[0-9a-f]{16}", m.external_id) for m in msgs[:2])
    assert [m.author for m in msgs] == ["Dana", "Eli", "Dana", "Dana"]
    assert {m.conversation for m in msgs} == {"Work"}
    when = datetime(2024, 5, 1, 9, 30, tzinfo=UTC).timestamp()
    assert msgs[0].time == when
    assert msgs[1].time == when  # 11:30+02:00


def test_lines_without_id_get_distinct_stable_hashes() -> None:
    msgs = parse_all(J / "chat.jsonl")[0]
    again = parse_all(J / "chat.jsonl")[0]
    assert msgs[2].external_id != msgs[3].external_id
    assert [m.external_id for m in msgs] == [m.external_id for m in again]
    assert len(msgs[2].external_id) == 64


def test_a_bad_line_refuses_the_whole_file_before_any_message() -> None:
    parsed = parse(J / "bad_line.jsonl")
    got = []
    with pytest.raises(
        ImportFileError, match=r"^bad_line\.jsonl has a bad line 3: it is not valid JSON"
    ):
        for m in parsed.messages:
            got.append(m)
    assert got == []


def test_lenient_mode_reports_the_line_and_goes_on() -> None:
    msgs, parsed = parse_all(J / "bad_line.jsonl", strict=False)
    assert given(msgs) == ["j1", "j2", "j4"]
    assert parsed.rejected[0].where == "line 3"
    assert "not valid JSON" in parsed.rejected[0].reason


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('["a list"]', "is not a JSON object"),
        ('{"time": "2024-01-01T00:00:00Z", "text": ""}', 'has no "text"'),
        ('{"time": "yesterday", "text": "hi"}', 'has no valid "time"'),
        ('{"time": "2024-01-01T00:00:00Z", "text": "x", "n": NaN}', "is not valid JSON"),
    ],
)
def test_bad_line_reasons(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": 1, "time": "2024-01-01T00:00:00Z", "text": "ok"}\n' + line + "\n")
    with pytest.raises(ImportFileError, match="bad line 2: it " + reason.replace("(", r"\(")):
        list(parse(path, "jsonl").messages)


def test_a_huge_line_is_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    ok = '{"id": 1, "time": "2024-01-01T00:00:00Z", "text": "ok"}\n'
    path.write_text(ok + '{"text": "' + "a" * (2 * 1024 * 1024) + '"}\n' + ok.replace("1", "2", 1))
    msgs, parsed = parse_all(path, strict=False)
    assert given(msgs) == ["1", "2"]
    assert [(r.where, r.reason) for r in parsed.rejected] == [("line 2", "it is longer than 1 MB")]
