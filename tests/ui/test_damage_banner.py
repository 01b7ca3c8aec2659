"""The main window of a store found damaged says so on top of every page: read-only, what is
damaged, what to do. A whole store shows no banner."""

from __future__ import annotations

from pathlib import Path

from app.services import Services
from tests.fakes import FakeEmbedder
from tests.reliability.conftest import PAGE, flip, make_store
from tests.storehelp import PASSPHRASE
from ui.main_window import MainWindow


def _window(qtbot, tasks, data: Path) -> tuple[MainWindow, Services]:  # type: ignore[no-untyped-def]
    services = Services(data, embedder=FakeEmbedder())
    services.unlock(PASSPHRASE)
    services.store.wait_verified(30)
    w = MainWindow(services, tasks, tray_available=False)
    qtbot.addWidget(w)
    w.show()
    w.refresh()
    return w, services


def test_a_damaged_store_shows_a_read_only_banner(qtbot, tasks, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    make_store(data, notes=100)
    flip(data / "mnemo.db", PAGE * 4 + 1000, 16)
    w, services = _window(qtbot, tasks, data)
    try:
        assert w.damage_banner.isVisible()
        text = w.damage_banner.text()
        assert text.startswith("Read-only: the database is damaged")
        assert "restore a backup" in text and str(data / "mnemo.db") in text
    finally:
        w.close()
        services.close()


def test_a_whole_store_shows_no_banner(qtbot, tasks, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    make_store(data, notes=10)
    w, services = _window(qtbot, tasks, data)
    try:
        assert not w.damage_banner.isVisible()
    finally:
        w.close()
        services.close()
