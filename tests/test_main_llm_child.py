"""main.py --llm-child (how a frozen app starts its model process) runs the model child and
nothing else: it greets the host on stdout, shuts down on request, and never imports Qt."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.storehelp import ROOT


def test_llm_child_route_starts_the_child_without_qt() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", str(ROOT / "main.py"), "--llm-child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        hello = json.loads(proc.stdout.readline())
        assert hello["type"] == "hello" and hello["pid"] == proc.pid
        proc.stdin.write(b'{"op": "shutdown"}\n')
        proc.stdin.flush()
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    imported = err.decode()
    assert "models.llm_child" in imported
    for heavy in ("PySide6", "app.cli", "ui.gui", "torch"):
        assert heavy not in imported, heavy
