"""Backup and restore throughput on a synthetic store (prints one JSON document)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.services import Services
from core import backup as backups
from core.keys import TEST_KDF

PASSPHRASE = "correct horse battery staple"


def main(notes: int = 20_000) -> None:
    root = Path(tempfile.mkdtemp(prefix="mnemo-bench-"))
    try:
        s = Services(root / "data")
        s.create(PASSPHRASE, kdf=TEST_KDF)
        text = "lorem ipsum dolor sit amet " * 40

        def fill(c: object) -> None:
            for i in range(notes):
                c.execute(  # type: ignore[attr-defined]
                    "INSERT INTO memories(kind, time, text, dedup_key, trust, status, derived, "
                    "created_at) VALUES ('note', ?, ?, ?, 1, 'ok', 0, 0)",
                    (i, f"{text} {i}", str(i)),
                )

        s.store.write(fill)
        s.store.checkpoint()
        db_bytes = (root / "data" / "mnemo.db").stat().st_size
        (root / "out").mkdir()
        t0 = time.perf_counter()
        info = s.backup(root / "out")
        backup_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        s.check_integrity()
        check_s = time.perf_counter() - t0
        s.close()
        t0 = time.perf_counter()
        backups.restore_backup(info.path, root / "restored", PASSPHRASE)
        restore_s = time.perf_counter() - t0
        print(
            json.dumps(
                {
                    "cores": os.cpu_count(),
                    "notes": notes,
                    "database_mb": round(db_bytes / 1e6, 1),
                    "backup_mb": round(info.bytes / 1e6, 1),
                    "backup_s": round(backup_s, 2),
                    "restore_s": round(restore_s, 2),
                    "integrity_check_s": round(check_s, 2),
                    "note": "restore includes decrypt, manifest hashes and PRAGMA integrity_check",
                },
                indent=1,
            )
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
