"""Backups as the windows use them: the file suffix, what a backup and a restore report, and
restoring a backup into a new folder. The work itself is in `core.backup`."""

from __future__ import annotations

from pathlib import Path

from core import backup as _backup

SUFFIX = _backup.SUFFIX
BackupInfo = _backup.BackupInfo
RestoreInfo = _backup.RestoreInfo


def restore(source: Path, target: Path, passphrase: str) -> RestoreInfo:
    """Restore the backup `source` into the empty folder `target` (needs no unlocked store)."""
    return _backup.restore_backup(source, target, passphrase)
