"""Importing every sample export through ImportService into a real store (fake embedder):
reports, provenance found by search, idempotence, rollback of bad files, cancel, folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.import_service import FILE_IMPORTERS, FileReport, ImportService, format_names
from app.memory_service import MemoryService
from app.services import Services
from core.errors import BadInput
from core.importers import parse
from core.importers.jsonl import own_id
from core.types import ImportedMessage

FIX = Path(__file__).parents[1] / "fixtures" / "imports"

# (path, format, imported, rejected, skipped, query, external id of the expected hit)
SAMPLES = [
    ("chatgpt/conversations.json", "chatgpt", 9, 2, 5, "Belém Tower Alfama", "n2b"),
    ("claude/conversations.json", "claude", 4, 1, 2, "review my résumé", "m-1"),
    ("whatsapp/WhatsApp Chat with Ana María.txt", "whatsapp", 6, 0, 4, "café", None),
    ("telegram/result.json", "telegram", 5, 1, 2, "Breaking cats", "4242:5"),
    ("jsonl/chat.jsonl", "jsonl", 4, 0, 0, "Agreed ship", None),
    ("notes", "markdown", 7, 1, 0, "plumber leak", None),
]


def imports_of(services: Services) -> ImportService:
    assert services.imports is not None
    return services.imports


def parsed_messages(path: Path) -> dict[str, ImportedMessage]:
    with parse(path) as p:
        return {m.external_id: m for m in p.messages}


def count(memory: MemoryService) -> int:
    return memory.count()


@pytest.mark.parametrize(
    ("rel", "fmt", "imported", "rejected", "skipped", "query", "ext"),
    SAMPLES,
    ids=[s[1] for s in SAMPLES],
)
def test_each_format_imports_once_and_is_found_with_its_provenance(
    services: Services,
    memory: MemoryService,
    rel: str,
    fmt: str,
    imported: int,
    rejected: int,
    skipped: int,
    query: str,
    ext: str | None,
) -> None:
    path = FIX / rel
    result = imports_of(services).import_paths([path])
    (report,) = result.files
    assert report.ok, report.error
    assert report.format == fmt
    assert (report.imported, report.duplicates, report.rejected) == (imported, 0, rejected)
    assert sum(report.skipped.values()) == skipped
    assert len(report.rejections) == rejected
    assert all(r["where"] and r["reason"] for r in report.rejections)
    assert report.seconds > 0
    assert count(memory) == imported

    truth = parsed_messages(path)
    if fmt == "jsonl":  # hits show the line's own id, without the scope the store keys it by
        truth = {own_id(k): v for k, v in truth.items()}
    hits = memory.search(query).hits
    assert hits, f"nothing found for {query!r}"
    hit = hits[0]
    assert hit.source == f"import:{fmt}"
    expected = truth[hit.external_id or ""] if ext is None else truth[ext]
    assert hit.external_id == (
        own_id(expected.external_id) if fmt == "jsonl" else expected.external_id
    )
    assert hit.author == expected.author
    assert hit.conversation == expected.conversation
    assert hit.time == pytest.approx(expected.time)
    stored = memory.get(hit.id)
    assert stored is not None and stored.file == report.file

    again = imports_of(services).import_paths([path]).files[0]
    assert (again.imported, again.duplicates) == (0, imported)
    assert count(memory) == imported


def test_malformed_files_store_nothing_and_name_the_file(
    services: Services, memory: MemoryService
) -> None:
    bad = [
        FIX / "malformed" / "truncated_chatgpt.json",  # fails part-way, after messages parsed
        FIX / "malformed" / "truncated_telegram.json",
        FIX / "malformed" / "garbage.json",
        FIX / "malformed" / "binary_junk.bin",
        FIX / "malformed" / "empty.json",
        FIX / "malformed" / "not_a_zip.zip",
        FIX / "malformed" / "latin1_chat.txt",
        FIX / "jsonl" / "bad_line.jsonl",
    ]
    result = imports_of(services).import_paths([*bad, FIX / "jsonl" / "chat.jsonl"])
    *failed, good = result.files
    for path, report in zip(bad, failed, strict=True):
        assert report.error is not None, path.name
        assert path.name in report.error
        assert report.imported == 0
    assert "line 3" in failed[-1].error  # type: ignore[operator]
    assert good.ok and good.imported == 4
    assert [f.file for f in result.failed] == [p.name for p in bad]
    assert count(memory) == 4  # nothing from the bad files, the good one whole


def test_a_missing_path_is_reported_not_raised(services: Services) -> None:
    result = imports_of(services).import_paths(["/nonexistent/export.json"])
    assert "export.json does not exist" in (result.files[0].error or "")


def test_unknown_format_is_refused(services: Services) -> None:
    with pytest.raises(BadInput, match="Unknown import format"):
        imports_of(services).import_paths([FIX / "jsonl" / "chat.jsonl"], fmt="fax")


def test_wrong_format_override_names_the_file(services: Services, memory: MemoryService) -> None:
    (report,) = (
        imports_of(services).import_paths([FIX / "jsonl" / "chat.jsonl"], fmt="whatsapp").files
    )
    assert report.error and "chat.jsonl" in report.error and "WhatsApp" in report.error
    assert count(memory) == 0


def write_jsonl(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            doc = {
                "id": f"x{i}",
                "time": f"2024-05-01T10:{i // 60 % 60:02d}:{i % 60:02d}+00:00",
                "speaker": "Dana",
                "text": f"message number {i} about the harbour",
                "conversation": "Long chat",
            }
            fh.write(json.dumps(doc) + "\n")
    return path


def test_cancel_mid_file_stores_nothing_from_it(
    services: Services, memory: MemoryService, tmp_path: Path
) -> None:
    big = write_jsonl(tmp_path / "big.jsonl", 300)
    seen: list[int] = []

    def cancelled() -> bool:
        return bool(seen) and seen[-1] >= 128  # after two embedding batches

    result = imports_of(services).import_paths(
        [FIX / "jsonl" / "chat.jsonl", big, FIX / "telegram" / "result.json"],
        progress=lambda p: seen.append(p.messages),
        cancelled=cancelled,
    )
    first, second = result.files  # the third is never started
    assert first.ok and first.imported == 4
    assert second.cancelled and second.imported == 0
    assert result.cancelled
    assert count(memory) == 4  # the earlier file stays, nothing from the cancelled one
    assert max(seen) >= 128


def test_progress_counts_messages_and_files(services: Services, tmp_path: Path) -> None:
    big = write_jsonl(tmp_path / "big.jsonl", 150)
    events = []
    imports_of(services).import_paths([big, FIX / "jsonl" / "chat.jsonl"], progress=events.append)
    assert events[0].files_total == 2 and events[0].messages == 0
    assert [e.messages for e in events if e.file == "big.jsonl"][-1] == 150
    last = events[-1]
    assert (last.files_done, last.messages_total) == (2, 154)


def test_folder_of_exports_is_several_files(services: Services, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(FIX / "jsonl" / "chat.jsonl", folder)
    shutil.copy(FIX / "whatsapp" / "WhatsApp Chat with Ana María.txt", folder)
    (folder / ".DS_Store").write_bytes(b"\x00junk")
    result = imports_of(services).import_paths([folder])
    assert [(f.file, f.format, f.imported) for f in result.files] == [
        ("WhatsApp Chat with Ana María.txt", "whatsapp", 6),
        ("chat.jsonl", "jsonl", 4),
    ]


def test_folder_of_notes_is_one_file(services: Services, memory: MemoryService) -> None:
    (report,) = imports_of(services).import_paths([FIX / "notes"]).files
    assert (report.file, report.format, report.imported) == ("notes", "markdown", 7)
    assert report.rejections == [
        {"where": "broken.md", "reason": "is not UTF-8 text (invalid byte at offset 3)"}
    ]
    hit = memory.search("Lisbonne").hits[0]
    assert hit.conversation == "journal/2024-01-01.txt"


def test_conversations_and_neighbours_browse_an_import(
    services: Services, memory: MemoryService
) -> None:
    imports = imports_of(services)
    imports.import_paths([FIX / "chatgpt" / "conversations.json", FIX / "jsonl" / "chat.jsonl"])
    convs = {(c.kind, c.conversation): c for c in imports.conversations()}
    lisbon = convs[("import:chatgpt", "Trip to Lisbon 🇵🇹")]
    assert lisbon.file == "conversations.json"
    assert (lisbon.messages, lisbon.first, lisbon.last) == (4, 1700000010.5, 1700000045.0)
    first = memory.get(lisbon.first_id)
    assert first is not None and first.external_id == "n1"
    assert convs[("import:jsonl", "Work")].messages == 4
    thread = memory.neighbours(lisbon.first_id, before=5, after=10)
    assert [m.external_id for m in thread] == ["n1", "n2b", "n3", "n5"]
    assert [m.author for m in thread] == ["user", "ChatGPT", "user", "ChatGPT"]


def test_a_registered_file_importer_gets_its_format(services: Services, tmp_path: Path) -> None:
    calls = []

    def fake(service, path, options, progress, cancelled):  # type: ignore[no-untyped-def]
        calls.append((path.name, options.fmt))
        progress(3)
        return FileReport(file=path.name, path=str(path), format="screenshots", imported=3)

    FILE_IMPORTERS["screenshots"] = fake
    try:
        assert "screenshots" in format_names()
        folder = tmp_path / "shots"
        folder.mkdir()
        result = imports_of(services).import_paths([folder], fmt="screenshots")
    finally:
        del FILE_IMPORTERS["screenshots"]
    assert calls == [("shots", "screenshots")]
    assert result.files[0].imported == 3
    assert "screenshots" not in format_names()


def test_imports_go_with_the_lock(services: Services) -> None:
    assert services.imports is not None
    services.lock()
    assert services.imports is None


def test_an_empty_folder_is_reported(services: Services, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (report,) = imports_of(services).import_paths([tmp_path / "empty"]).files
    assert report.error == "empty has no .md or .txt notes in it."
