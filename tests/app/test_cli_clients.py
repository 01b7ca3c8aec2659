"""`mnemo clients` and `mnemo tool`, run as the user and a script run them (subprocesses, the
real embedder): allow prints the token once, the tools go through the same gate, cut-off
refuses the next call, errors are one readable line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.storehelp import cli_env

ROOT = Path(__file__).resolve().parents[2]


def run(
    tmp: Path, *args: str, token: str | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    env = cli_env(tmp)
    if token is not None:
        env["MNEMO_CLIENT_TOKEN"] = token
    proc = subprocess.run(
        [sys.executable, "main.py", "--data-dir", str(tmp / "store"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.slow
def test_clients_and_tools_from_the_command_line(tmp_path: Path) -> None:
    run(tmp_path, "init", "--json")
    allowed = json.loads(
        run(
            tmp_path, "clients", "allow", "script-bot", "--write", "--read", "notes", "--json"
        ).stdout
    )
    token = allowed["token"]
    assert allowed["status"] == "allowed" and allowed["scope"]["readable"] == ["notes"]
    listed = json.loads(run(tmp_path, "clients", "list", "--json").stdout)
    assert "token" not in json.dumps(listed)  # shown once, at allow only
    wrote = json.loads(
        run(tmp_path, "tool", "remember", "--client", "script-bot", "Kestrel nest on the roof",
            "--json", token=token).stdout
    )  # fmt: skip
    assert wrote["status"] == "stored"
    found = json.loads(
        run(tmp_path, "tool", "search", "--client", "script-bot", "kestrel", "--json",
            token=token).stdout
    )  # fmt: skip
    assert [h["id"] for h in found["hits"]] == [wrote["id"]]
    reads = json.loads(run(tmp_path, "clients", "reads", "script-bot", "--json").stdout)
    assert [r["memory_id"] for r in reads["reads"]] == [wrote["id"]]
    run(tmp_path, "clients", "cut-off", "script-bot")
    refused = run(tmp_path, "tool", "search", "--client", "script-bot", "kestrel", token=token,
                  ok=False)  # fmt: skip
    assert refused.returncode == 1 and "cut off" in refused.stderr
    assert "Traceback" not in refused.stderr and "Kestrel" not in refused.stderr
    wrong = run(tmp_path, "tool", "search", "--client", "script-bot", "x", token="nope", ok=False)
    assert wrong.returncode == 1 and "Wrong or missing token" in wrong.stderr
    erased = json.loads(run(tmp_path, "clients", "erase", "script-bot", "--yes", "--json").stdout)
    assert erased["memories_erased"] == 1
