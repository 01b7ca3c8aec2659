"""init, status, passwd."""

from __future__ import annotations

import argparse
from typing import Any

from app import paths
from app.cli.context import CliContext
from app.logging_setup import setup_logging
from core.errors import UserFacingError


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("init", parents=[common], help="create a new encrypted store")
    p.set_defaults(
        handler=cmd_init,
        format_human=lambda r: (
            f"Created a new store in "
            f"{r['data_dir']}. Keep your passphrase safe: it cannot be recovered."
        ),
    )

    p = sub.add_parser(
        "status", parents=[common], help="counts, sizes, capture state, index health, model status"
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="also check the database's structure (every page's HMAC is checked anyway)",
    )
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("passwd", parents=[common], help="change the passphrase")
    p.add_argument(
        "--new-passphrase-file", help="read the new passphrase from this file (else a prompt)"
    )
    p.set_defaults(handler=cmd_passwd, format_human=lambda r: "Passphrase changed.")


def cmd_init(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    services = ctx.services(unlock=False)
    if services.initialised:
        from core.errors import AlreadyInitialised

        raise AlreadyInitialised(str(ctx.data_dir))
    passphrase = ctx.passphrase(confirm=True, prompt="Choose a passphrase: ")
    services.create(passphrase)
    setup_logging(paths.log_dir(ctx.data_dir), console=args.verbose)
    return {"data_dir": str(ctx.data_dir), "created": True}


def cmd_status(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    services = ctx.services(unlock=False)
    integrity = None
    if services.initialised:
        ctx.unlock(services)
        # Every unlock reads every page before the first write (~1 s per 60 MB, in the
        # background); status waits for the verdict. Damage is then this command's error.
        damage = services.store.wait_verified()
        if damage is None and args.check:
            # --check adds SQLite's b-tree check (quick_check, ~2x the time of the above).
            from core.db import integrity_ok

            ok, detail = integrity_ok(services.store.reader())
            if not ok:
                services.store.mark_damaged(detail)
                damage = services.store.damage
        integrity = "ok" if damage is None else f"damaged: {damage.detail}"
    doc = services.status()
    if integrity is not None:
        doc["integrity"] = integrity
    return doc


def cmd_passwd(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    services = ctx.services(unlock=False)
    if not services.initialised:
        from core.errors import NotInitialised

        raise NotInitialised(str(ctx.data_dir))
    old = ctx.passphrase(prompt="Current passphrase: ")
    if args.new_passphrase_file:
        try:
            with open(args.new_passphrase_file, encoding="utf-8") as f:
                new = f.readline().rstrip("\r\n")
        except OSError as e:
            raise UserFacingError(
                f"Cannot read {args.new_passphrase_file}: {e.strerror}."
            ) from None
    else:
        import getpass
        import sys

        if not sys.stdin.isatty():
            raise UserFacingError(
                "Give the new passphrase with --new-passphrase-file FILE, "
                "or run in a terminal to be asked."
            )
        new = getpass.getpass("New passphrase: ")
        if getpass.getpass("Again: ") != new:
            raise UserFacingError("The two new passphrases differ. Nothing was changed.")
    services.change_passphrase(old, new)
    return {"changed": True}
