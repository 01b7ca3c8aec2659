"""Settings → Models: a file that is not a GGUF model is refused with the reason and the
previous model stays (nothing saved); a good one is loaded, then saved; "Test the model" shows
the speed (with a fake host, and once with the real default model)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.services import Services
from app.tasks import TaskRunner
from core.keys import TEST_KDF
from models.llm_host import default_model_path
from tests.app.fake_llm import FakeHost
from tests.storehelp import PASSPHRASE
from ui.model_settings import ModelsBox
from ui.settings_page import SettingsPage


@pytest.fixture(autouse=True)
def _runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    from tests.fakes import FakeEmbedder

    s = Services(tmp_path / "data", embedder=FakeEmbedder())
    s.create(PASSPHRASE, kdf=TEST_KDF)
    yield s
    s.close()


def _box(qtbot: QtBot, services: Services, tasks: TaskRunner) -> ModelsBox:
    box = ModelsBox(services, tasks)
    qtbot.addWidget(box)
    box.show()
    qtbot.waitUntil(lambda: bool(box.stored), timeout=5000)
    return box


def test_bad_file_is_refused_and_the_previous_model_stays(
    qtbot: QtBot, services: Services, tasks: TaskRunner, tmp_path: Path
) -> None:
    host = FakeHost()
    services.llm_host = host
    box = _box(qtbot, services, tasks)
    assert box.path.text() == "" and box.context.value() == 2048
    bad = tmp_path / "notes.gguf"
    bad.write_text("just some notes")
    box.path.setText(str(bad))
    box.path.editingFinished.emit()
    qtbot.waitUntil(lambda: not box.error.isHidden(), timeout=5000)
    assert "not a GGUF model file" in box.error.text()
    assert "previous model stays" in box.message.text()
    assert box.path.text() == ""  # the field shows the model still in use
    assert services.settings.get("models.llm_path") == ""
    assert host.path == "fake.gguf"

    missing = tmp_path / "gone.gguf"
    box.path.setText(str(missing))
    box.apply.click()
    qtbot.waitUntil(lambda: "does not exist" in box.error.text(), timeout=5000)
    assert services.settings.get("models.llm_path") == ""


def test_good_file_is_loaded_then_saved_and_tested(
    qtbot: QtBot, services: Services, tasks: TaskRunner
) -> None:
    host = FakeHost()
    services.llm_host = host
    box = _box(qtbot, services, tasks)
    good = str(default_model_path())
    box.context.setValue(1024)
    box.path.setText(good)
    box.apply.click()
    qtbot.waitUntil(lambda: "loaded in" in box.message.text(), timeout=5000)
    assert services.settings.get("models.llm_path") == good
    assert services.settings.get("models.llm_context") == 1024
    assert host.path == good and host.context == 1024
    assert box.error.isHidden()
    # Applying runs a test by itself; the button's own test starts once that one has ended (a
    # click while it runs is ignored), and the box is idle again when the test ends.
    qtbot.waitUntil(lambda: not box.busy and "tokens/s" in box.message.text(), timeout=5000)
    box.message.clear()
    box.test.click()
    assert box.busy and not box.test.isEnabled()
    qtbot.waitUntil(lambda: not box.busy and "tokens/s" in box.message.text(), timeout=5000)
    assert "100.0 tokens/s" in box.message.text()


def test_models_tab_holds_the_box(qtbot: QtBot, services: Services, tasks: TaskRunner) -> None:
    services.llm_host = FakeHost()
    page = SettingsPage(services, tasks)
    qtbot.addWidget(page)
    assert page.sections["models"].findChild(ModelsBox) is not None
    assert "models.llm_path" not in page.editors  # the box edits it, not the generic form
    qtbot.waitUntil(lambda: bool(page.sections["models"].findChild(ModelsBox).stored))


def test_the_real_model_test_shows_its_speed(
    qtbot: QtBot, services: Services, tasks: TaskRunner
) -> None:
    box = _box(qtbot, services, tasks)
    box.test.click()
    assert not box.test.isEnabled()
    qtbot.waitUntil(lambda: "tokens/s" in box.message.text(), timeout=180_000)
    assert "SmolLM2" in box.message.text() and box.error.isHidden()
    assert box.test.isEnabled()
