"""JSONL ids are scoped by the message: two files that both number their messages 1, 2, 3 are
both imported in full, while the same file imported again (from another folder, under another
name, or grown by newer messages) adds nothing twice. Through the real store and ingest."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.importers import parse
from core.importers.jsonl import scoped_id
from core.ingest import Ingestor, IngestReport
from core.keys import TEST_KDF
from core.store import Store
from tests.core.importers.helpers import parse_all
from tests.fakes import FakeEmbedder

T = "2024-05-01T09:{:02d}:00Z"


def line(i: int, text: str, conversation: str | None = None, speaker: str = "Ana") -> str:
    obj: dict[str, object] = {"id": i, "time": T.format(i), "speaker": speaker, "text": text}
    if conversation is not None:
        obj["conversation"] = conversation
    return json.dumps(obj, ensure_ascii=False)


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "data")
    s.create("a good passphrase", TEST_KDF)
    yield s
    s.lock()


def import_file(store: Store, path: Path) -> IngestReport:
    ingestor = Ingestor(
        write=store.write,
        read_conn=store.reader,
        embedder=FakeEmbedder(),
        model_name="fake",
        index=lambda: None,
        now=lambda: 0.0,
    )
    with parse(path) as parsed:
        return ingestor.add_many(parsed.as_new_memory(m) for m in parsed.messages)


def texts(store: Store) -> list[str]:
    return [r[0] for r in store.reader().execute("SELECT text FROM memories ORDER BY id")]


A = [line(1, "the boiler was serviced"), line(2, "paid the plumber"), line(3, "new filter")]
B = [line(1, "flight lands at nine"), line(2, "taxi booked"), line(3, "hotel confirmed")]


def test_a_second_file_numbered_alike_is_imported_in_full(store: Store, tmp_path: Path) -> None:
    first = import_file(store, write(tmp_path / "home.jsonl", A))
    second = import_file(store, write(tmp_path / "travel.jsonl", B))
    assert (first.added, first.duplicates) == (3, 0)
    assert (second.added, second.duplicates) == (3, 0)
    assert len(texts(store)) == 6 and "taxi booked" in texts(store)


def test_the_same_file_again_adds_nothing_from_any_folder_or_name(
    store: Store, tmp_path: Path
) -> None:
    original = write(tmp_path / "home.jsonl", A)
    assert import_file(store, original).added == 3
    again = import_file(store, original)
    moved = tmp_path / "elsewhere" / "renamed export.jsonl"
    moved.parent.mkdir()
    shutil.copy(original, moved)
    elsewhere = import_file(store, moved)
    assert [(r.added, r.duplicates) for r in (again, elsewhere)] == [(0, 3), (0, 3)]
    assert len(texts(store)) == 3


def test_a_longer_export_of_the_same_chat_adds_only_the_new_messages(
    store: Store, tmp_path: Path
) -> None:
    import_file(store, write(tmp_path / "a" / "chat.jsonl", A))
    grown = import_file(store, write(tmp_path / "b" / "chat.jsonl", [*A, line(4, "fixed")]))
    assert (grown.added, grown.duplicates) == (1, 3)
    assert texts(store)[-1] == "fixed"


def test_an_edited_message_is_kept_beside_the_old_version(store: Store, tmp_path: Path) -> None:
    import_file(store, write(tmp_path / "a.jsonl", A))
    edited = [A[0], line(2, "paid the plumber 80 euros"), A[2]]
    report = import_file(store, write(tmp_path / "b.jsonl", edited))
    assert (report.added, report.duplicates) == (1, 2)
    assert {"paid the plumber", "paid the plumber 80 euros"} <= set(texts(store))


def test_conversation_is_part_of_the_scope(tmp_path: Path) -> None:
    same = [line(1, "ok", "Work"), line(1, "ok", "Family")]
    msgs, _ = parse_all(write(tmp_path / "x.jsonl", same), strict=False)
    assert msgs[0].external_id != msgs[1].external_id
    assert all(m.external_id.startswith("1#") for m in msgs)


def test_the_same_instant_written_another_way_keeps_its_id(tmp_path: Path) -> None:
    z = '{"id": "m1", "time": "2024-05-01T09:30:00Z", "speaker": "Ana", "text": "hi"}'
    offset = '{"id": "m1", "time": "2024-05-01T11:30:00+02:00", "speaker": "Ana", "text": "hi"}'
    (a,), _ = parse_all(write(tmp_path / "z.jsonl", [z]))
    (b,), _ = parse_all(write(tmp_path / "o.jsonl", [offset]))
    assert a.external_id == b.external_id


def test_the_stored_fields_give_back_the_external_id(store: Store, tmp_path: Path) -> None:
    """scoped_id works from what the store keeps, so stored rows can be checked (or, for rows
    imported before ids were scoped, given their scoped id) without the original file."""
    messy = [
        line(1, "  spaced   out\r\ntext\u200b  ", "Work\tteam", speaker=" Ana  María "),
        line(2, "Ünïcödé cafe\u0301", "Work\tteam"),
        # A control character between a letter and its accent: the store drops it.
        line(3, "cafe\x01\u0301 \ue000\x7f", "we\x02\u0301", speaker="Jose\x1b\u0301"),
        line(4, "a\u00a0\u00a0b\n\n\n\nc", None, speaker="\t Eli \t"),
    ]
    import_file(store, write(tmp_path / "messy.jsonl", messy))
    rows = store.reader().execute(
        "SELECT external_id, conversation, time, author, text FROM memories ORDER BY id"
    )
    for external_id, conversation, time, author, text in rows.fetchall():
        given = external_id.partition("#")[0]
        assert scoped_id(given, conversation, time, author, text) == external_id


def test_own_id_gives_back_what_the_file_said() -> None:
    from core.importers.jsonl import own_id, scoped_id

    ext = scoped_id("msg#7", "home", 1_700_000_000.0, "Ana", "hello")
    assert ext != "msg#7" and own_id(ext) == "msg#7"
    assert own_id("no-scope") == "no-scope"
