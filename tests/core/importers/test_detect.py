"""Auto-detection by content, zip members, and clean errors for every malformed file."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from core.errors import BadInput, UserFacingError
from core.importers import FORMATS, ImportFileError, detect, parse
from tests.core.importers.helpers import FIXTURES, parse_all

M = FIXTURES / "malformed"


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("chatgpt/conversations.json", "chatgpt"),
        ("claude/conversations.json", "claude"),
        ("whatsapp/WhatsApp Chat with Ana María.txt", "whatsapp"),
        ("whatsapp/_chat.txt", "whatsapp"),
        ("whatsapp/chat_german.txt", "whatsapp"),
        ("whatsapp/chat_bracket_24h_seconds.txt", "whatsapp"),
        ("telegram/result.json", "telegram"),
        ("telegram/full_export.json", "telegram"),
        ("jsonl/chat.jsonl", "jsonl"),
        ("notes", "markdown"),
        ("notes/inbox.md", "markdown"),
        ("whatsapp/not_whatsapp.txt", "markdown"),
    ],
)
def test_detects_each_format(path: str, fmt: str) -> None:
    assert detect(FIXTURES / path) == fmt


def test_detection_uses_content_not_the_name(tmp_path: Path) -> None:
    renamed = tmp_path / "export.dat"
    shutil.copy(FIXTURES / "telegram" / "result.json", renamed)
    assert detect(renamed) == "telegram"
    chat = tmp_path / "conversations.json"
    shutil.copy(FIXTURES / "whatsapp" / "chat_german.txt", chat)
    assert detect(chat) == "whatsapp"


def test_zip_members_are_detected(tmp_path: Path) -> None:
    for fmt, src, member in [
        ("claude", "claude/conversations.json", "conversations.json"),
        ("telegram", "telegram/result.json", "ChatExport_2024/result.json"),
        ("jsonl", "jsonl/chat.jsonl", "chat.jsonl"),
        ("whatsapp", "whatsapp/chat_german.txt", "WhatsApp Chat with Jürgen.txt"),
    ]:
        archive = tmp_path / f"{fmt}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(FIXTURES / src, member)
        assert detect(archive) == fmt
        parsed = parse(archive)
        assert parsed.member == member
        assert len(list(parsed.messages)) > 0


def test_whatsapp_zip_conversation_comes_from_the_member_name(tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(FIXTURES / "whatsapp" / "chat_german.txt", "WhatsApp Chat with Jürgen.txt")
    assert {m.conversation for m in parse_all(archive)[0]} == {"Jürgen"}


@pytest.mark.parametrize(
    ("name", "fmt", "problem"),
    [
        ("empty.json", "auto", "is empty"),
        ("whitespace.json", "auto", "is blank (only spaces and line breaks)"),
        ("wrong_format.json", "auto", "is not in a format Mnemo can import"),
        ("wrong_format.json", "chatgpt", "is not a ChatGPT export"),
        ("binary_junk.bin", "auto", "is not a chat export or a text file (it holds binary data)"),
        ("binary_junk.bin", "whatsapp", "is not a chat export or a text file"),
        ("latin1_chat.txt", "auto", "is not UTF-8 text (invalid byte at offset 23)"),
        ("not_a_zip.zip", "auto", "is a damaged zip archive"),
        ("missing.json", "auto", "does not exist"),
    ],
)
def test_malformed_files_get_a_message_naming_the_file(name: str, fmt: str, problem: str) -> None:
    with pytest.raises(ImportFileError) as err:
        list(parse(M / name, fmt).messages)
    message = str(err.value)
    assert message.startswith(f"{name} {problem}")
    assert isinstance(err.value, BadInput) and isinstance(err.value, UserFacingError)


@pytest.mark.parametrize(
    "name", ["garbage.json", "truncated_chatgpt.json", "truncated_telegram.json"]
)
def test_damaged_json_fails_while_streaming_naming_the_file(name: str) -> None:
    with pytest.raises(ImportFileError, match=rf"^{name.replace('.', '[.]')} "):
        list(parse(M / name).messages)


def test_wrong_explicit_format_says_what_it_looks_like() -> None:
    with pytest.raises(ImportFileError) as err:
        parse(FIXTURES / "telegram" / "result.json", "claude")
    assert "result.json is not a Claude export" in str(err.value)
    assert "looks like a Telegram Desktop export" in str(err.value)


def test_zip_without_an_export(tmp_path: Path) -> None:
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.jpg", b"\xff\xd8")
    assert detect(archive) is None
    with pytest.raises(ImportFileError, match=r"^photos\.zip is a zip archive with no chat export"):
        parse(archive)
    with pytest.raises(ImportFileError, match=r"^photos\.zip is a zip archive without a ChatGPT"):
        parse(archive, "chatgpt")


def test_folder_with_a_file_format_and_unknown_format_name() -> None:
    with pytest.raises(ImportFileError, match="is a folder"):
        parse(FIXTURES / "notes", "telegram")
    with pytest.raises(BadInput, match="Unknown import format 'icq'"):
        parse(FIXTURES / "notes", "icq")


def test_every_format_is_registered() -> None:
    assert set(FORMATS) == {"chatgpt", "claude", "whatsapp", "telegram", "jsonl", "markdown"}
