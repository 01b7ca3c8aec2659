"""Screen-lock detection over a real (private) session D-Bus: a stand-in
org.freedesktop.ScreenSaver answers GetActive, and the probe reads it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.storehelp import ROOT

FAKE_SERVICE = """
import sys
from PySide6.QtCore import ClassInfo, QCoreApplication, QObject, Slot
from PySide6.QtDBus import QDBusConnection

@ClassInfo({"D-Bus Interface": "org.freedesktop.ScreenSaver"})
class ScreenSaver(QObject):
    @Slot(result=bool)
    def GetActive(self) -> bool:
        return sys.argv[1] == "locked"

app = QCoreApplication([])
bus = QDBusConnection.sessionBus()
assert bus.registerService("org.freedesktop.ScreenSaver")
saver = ScreenSaver()
assert bus.registerObject(
    "/org/freedesktop/ScreenSaver", saver, QDBusConnection.RegisterOption.ExportAllSlots
)
print("ready", flush=True)
app.exec()
"""

DRIVER = """
import subprocess, sys
from PySide6.QtCore import QCoreApplication
app = QCoreApplication([])
from app.autolock import ScreenLockProbe
for state in ("locked", "unlocked"):
    fake = subprocess.Popen([sys.executable, "-c", sys.argv[1], state], stdout=subprocess.PIPE)
    assert fake.stdout.readline().strip() == b"ready"
    probe = ScreenLockProbe()
    print(state, probe.method, probe.locked(), flush=True)
    fake.kill()
    fake.wait()
"""


@pytest.mark.skipif(shutil.which("dbus-run-session") is None, reason="no dbus-run-session")
def test_probe_reads_the_screensaver_over_dbus(tmp_path: Path) -> None:
    out = subprocess.run(
        ["dbus-run-session", "--", sys.executable, "-c", DRIVER, FAKE_SERVICE],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = out.stdout.strip().splitlines()
    assert lines == [
        "locked D-Bus (org.freedesktop.ScreenSaver) True",
        "unlocked D-Bus (org.freedesktop.ScreenSaver) False",
    ], out.stderr
