"""R23 and issue 19 item 4: every refusal names the file and the true problem, and with --json
every error is one JSON document on stdout, `{"error": {"code", "message", "exit"}}`, with the
stable exit status of its class (core.errors.ERROR_CODES, documented in README.md)."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from core.errors import UserFacingError
from tests.reliability.conftest import CliRunner, make_store
from tests.storehelp import ROOT


def _line(i: int, text: str = "hello") -> str:
    return json.dumps({"id": str(i), "time": "2024-05-01T09:30:00Z", "speaker": "a", "text": text})


def test_a_3_mb_single_line_jsonl_is_called_a_line_longer_than_1_mb(
    tmp_path: Path, cli: CliRunner
) -> None:
    data = tmp_path / "data"
    make_store(data, notes=1)
    big = tmp_path / "big.jsonl"
    big.write_text(_line(1, "x" * 3_000_000) + "\n" + _line(2) + "\n")
    text = cli("--data-dir", str(data), "import", str(big))
    assert "longer than 1 MB" in text.err and "not in a format" not in text.err, text.err
    res = cli("--data-dir", str(data), "--json", "import", str(big))
    assert res.code == 2 and res.doc["error"]["code"] == "bad_input"
    message = res.doc["error"]["message"]
    assert "big.jsonl" in message and "longer than 1 MB" in message
    assert "not in a format" not in message
    assert res.doc["files"][0]["imported"] == 0  # the report is in the same document
    also = cli("--data-dir", str(data), "--json", "import", "--format", "jsonl", str(big))
    assert also.code == 2 and "longer than 1 MB" in also.doc["error"]["message"]


def test_a_jsonl_whose_first_line_is_longer_than_the_sniffed_head_is_still_imported(
    tmp_path: Path, cli: CliRunner
) -> None:
    data = tmp_path / "data"
    make_store(data, notes=1)
    f = tmp_path / "long-first.jsonl"
    f.write_text(_line(1, "y" * 200_000) + "\n" + _line(2) + "\n")
    res = cli("--data-dir", str(data), "--json", "import", str(f))
    assert res.code == 0 and res.doc["files"][0]["imported"] == 2


def test_a_zip_with_a_blank_gigabyte_conversations_json_says_what_is_wrong(
    tmp_path: Path, cli: CliRunner
) -> None:
    data = tmp_path / "data"
    make_store(data, notes=1)
    bomb = tmp_path / "export.zip"
    chunk = b" " * (1 << 20)
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open("conversations.json", "w", force_zip64=True) as fh,
    ):
        for _ in range(1024):  # 1 GiB of spaces, about 1 MB compressed
            fh.write(chunk)
    assert bomb.stat().st_size < 8 << 20
    text = cli("--data-dir", str(data), "import", str(bomb))
    assert "blank" in text.err and "no chat export" not in text.err, text.err
    res = cli("--data-dir", str(data), "--json", "import", str(bomb))
    assert res.code == 2
    message = res.doc["error"]["message"]
    assert "export.zip" in message and "conversations.json" in message
    assert "1.0 GiB unzipped" in message and "blank" in message
    assert "no chat export" not in message


@pytest.mark.parametrize(
    ("setup", "argv", "code"),
    [
        ("store", ["status"], "wrong_passphrase"),
        ("none", ["search", "x"], "not_initialised"),
        ("store", ["search", "x", "--k", "0"], "bad_input"),
        ("store", ["no-such-command"], "bad_input"),
        ("store", ["search", "--k", "many"], "bad_input"),
        ("store", ["import", "/no/such/file.json"], "not_found"),
        ("store", ["init"], "already_initialised"),
        ("nopass", ["status"], "locked"),
    ],
)
def test_every_error_is_one_json_document_with_its_stable_exit_code(
    tmp_path: Path, cli: CliRunner, setup: str, argv: list[str], code: str
) -> None:
    data = tmp_path / "data"
    if setup != "none":
        make_store(data, notes=1)
    passphrase = {"store": "wrong passphrase here", "nopass": None}.get(setup, "x")
    if code != "wrong_passphrase" and setup == "store":
        passphrase = "correct horse battery staple"
    from core.errors import ERROR_CODES

    res = cli("--data-dir", str(data), "--json", *argv, passphrase=passphrase)
    assert res.doc["error"]["code"] == code, res.doc
    assert res.code == ERROR_CODES[code].exit == res.doc["error"]["exit"]
    assert res.doc["error"]["message"] and "Traceback" not in res.err


def test_without_json_errors_are_one_line_on_stderr(tmp_path: Path, cli: CliRunner) -> None:
    data = tmp_path / "data"
    make_store(data, notes=1)
    res = cli("--data-dir", str(data), "status", passphrase="wrong passphrase here")
    assert (
        res.code == 3
        and res.err.strip() == "mnemo: Wrong passphrase. Nothing was changed; try again."
    )


def _all_subclasses(cls: type) -> set[type]:
    out = set(cls.__subclasses__())
    for sub in list(out):
        out |= _all_subclasses(sub)
    return out


def test_every_error_class_has_a_code_in_the_table_and_the_table_is_documented() -> None:
    import app.cli  # noqa: F401  (imports every module that defines errors)
    import core.backup
    import core.errors as errors
    import core.importers  # noqa: F401
    from core.errors import ERROR_CODES

    for cls in _all_subclasses(UserFacingError):
        assert cls.code in ERROR_CODES, cls
    exits = [c.exit for c in ERROR_CODES.values()]
    assert len(exits) == len(set(exits)), "two codes share an exit status"
    readme = (ROOT / "README.md").read_text()
    for c in ERROR_CODES.values():
        assert re.search(rf"\|\s*`{c.code}`\s*\|\s*{c.exit}\s*\|", readme), c.code
    assert errors.error_code(KeyError()).code == "internal"
