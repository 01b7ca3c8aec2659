"""Settings → Connected apps: an app that asked is listed as waiting, Allow shows its token once
in a config to paste, a scope checkbox is saved, Cut off takes effect in the store at once, and
the read log shows what it read."""

from __future__ import annotations

import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.clients_service import ClientsService
from app.services import Services
from app.tasks import TaskRunner
from core import clients as cl
from core.keys import TEST_KDF
from core.types import SCREEN, NewMemory
from tests.fakes import FakeEmbedder
from tests.storehelp import PASSPHRASE
from ui.connected_apps import ConnectedAppsPanel


@pytest.fixture
def env(qtbot: QtBot, tmp_path: Path) -> Iterator[tuple[Services, TaskRunner]]:
    services = Services(tmp_path / "data", embedder=FakeEmbedder(dim=32))
    services.create(PASSPHRASE, kdf=TEST_KDF)
    assert services.memory is not None and services.memory.wait_ready(30)
    tasks = TaskRunner()
    yield services, tasks
    tasks.wait(10_000)
    services.close()


def test_allow_scope_cut_off_and_read_log(qtbot: QtBot, env: tuple[Services, TaskRunner]) -> None:
    services, tasks = env
    assert services.memory is not None
    (mid,) = services.memory.add(
        [NewMemory(kind=SCREEN, text="albatross sighting", time=services.clock.now(), app="x")]
    )
    gate = ClientsService(services)
    with pytest.raises(cl.ClientRefused):
        gate.connect("editor-bot", None, "Editor Bot")
    panel = ConnectedAppsPanel(services, tasks)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.list.count() == 1 and panel.current == "editor-bot", timeout=5000)
    assert panel.allow_button.isVisible() and not panel.cut_button.isVisible()
    assert "not allowed yet" in panel.status.text()

    panel.allow_button.click()
    qtbot.waitUntil(lambda: panel.token_box.isVisible(), timeout=5000)
    snippet = panel.token_box.toPlainText()
    config = json.loads(snippet[snippet.index("{") :])
    server = config["mcpServers"]["mnemo"]
    assert server["args"][-3:] == ["mcp", "--client", "editor-bot"]
    token = server["env"]["MNEMO_CLIENT_TOKEN"]
    client = gate.connect("editor-bot", token)
    qtbot.waitUntil(lambda: panel.cut_button.isVisible(), timeout=5000)

    panel.read_boxes[cl.SCREENS].setChecked(False)
    qtbot.waitUntil(lambda: cl.SCREENS not in gate.get("editor-bot").scope.readable, timeout=5000)
    panel.read_boxes[cl.SCREENS].setChecked(True)
    qtbot.waitUntil(lambda: cl.SCREENS in gate.get("editor-bot").scope.readable, timeout=5000)

    gate.search(client, "albatross")
    panel.refresh()
    qtbot.waitUntil(lambda: panel.reads.topLevelItemCount() == 1, timeout=5000)
    assert panel.reads.topLevelItem(0).text(2) == f"#{mid}"

    panel.cut_button.click()
    qtbot.waitUntil(lambda: gate.get("editor-bot").status == cl.CUT_OFF, timeout=5000)
    with pytest.raises(cl.ClientRefused, match="cut off"):
        gate.connect("editor-bot", token)
    qtbot.waitUntil(lambda: panel.restore_button.isVisible(), timeout=5000)


def test_off_limits_times_are_saved_and_trust_is_said_in_words(
    qtbot: QtBot, env: tuple[Services, TaskRunner]
) -> None:
    services, tasks = env
    gate = ClientsService(services)
    gate.allow("notes-bot", cl.Scope(may_write=True))
    panel = ConnectedAppsPanel(services, tasks)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.current == "notes-bot", timeout=5000)
    # Plain words: what the score means for its notes, no distribution parameters on screen.
    assert "its notes are stored" in panel.trust_line.text()
    assert "Beta" not in panel.status.text() + panel.trust_line.text()

    panel.ranges_edit.setText("2026-03-01/2026-03-08")
    panel.ranges_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: bool(gate.get("notes-bot").scope.excluded_ranges), timeout=5000)
    ((start, end),) = gate.get("notes-bot").scope.excluded_ranges
    assert cl.parse_ranges("2026-03-01/2026-03-08") == ((start, end),)
    assert end - start >= 8 * 86400 - 3600  # the whole of the last day too
    qtbot.waitUntil(lambda: panel.ranges_edit.text() == "2026-03-01/2026-03-08", timeout=5000)

    panel.ranges_edit.setText("last march")
    panel.ranges_edit.editingFinished.emit()
    assert panel.scope_error.isVisible() and "START/END" in panel.scope_error.text()
    assert len(gate.get("notes-bot").scope.excluded_ranges) == 1  # the bad text saved nothing
