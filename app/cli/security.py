"""backup PATH, restore PATH [--force]."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.context import CliContext
from core import backup as backups
from core.errors import NotInitialised


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "backup",
        parents=[common],
        help="write one encrypted backup file (safe while Mnemo is running)",
    )
    p.add_argument("path", help="backup file to write, or a folder to put it in")
    p.set_defaults(
        handler=cmd_backup,
        format_human=lambda r: (
            f"Backup written to {r['path']} ({r['bytes'] / 1e6:.1f} MB, {r['files']} parts). "
            "It opens only with your passphrase."
        ),
    )

    p = sub.add_parser(
        "restore",
        parents=[common],
        help="restore a backup into an empty or new data folder",
    )
    p.add_argument("path", help="the backup file")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing store: its folder is moved aside (not deleted) first",
    )
    p.set_defaults(handler=cmd_restore, format_human=_restore_text)


def cmd_backup(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    services = ctx.services(unlock=False)
    if not services.initialised:
        raise NotInitialised(str(ctx.data_dir))
    ctx.unlock(services)
    info = services.backup(Path(args.path).expanduser())
    return {
        "path": str(info.path),
        "bytes": info.bytes,
        "files": info.files,
        "schema_version": info.schema_version,
        "seconds": round(info.seconds, 3),
    }


def cmd_restore(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    source = Path(args.path).expanduser()
    backups.read_header(source)  # refuse a non-backup or a newer one before asking anything
    if not backups.target_is_empty(ctx.data_dir) and not args.force:
        raise backups.RestoreTargetNotEmpty(ctx.data_dir)
    passphrase = ctx.passphrase(prompt="Passphrase you had when the backup was made: ")
    info = backups.restore_backup(source, ctx.data_dir, passphrase, force=args.force)
    return {
        "data_dir": str(info.data_dir),
        "files": info.files,
        "schema_version": info.schema_version,
        "created": info.created,
        "moved_aside": str(info.moved_aside) if info.moved_aside else None,
        "seconds": round(info.seconds, 3),
    }


def _restore_text(r: dict[str, Any]) -> str:
    text = f"Restored into {r['data_dir']} ({r['files']} parts). The search index is rebuilt "
    text += "the first time you unlock."
    if r["moved_aside"]:
        text += f" The previous contents were moved to {r['moved_aside']}."
    return text
