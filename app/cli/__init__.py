"""The command line (DESIGN.md "Command line"): `python main.py [--data-dir DIR] COMMAND …`.
Every command accepts --json and then prints one JSON document; errors go to stderr as one
readable line with a non-zero exit, and no traceback for the user's own errors."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from app.cli import assistant, basic, capture, clients, erase, memory, security, trust
from core.errors import UserFacingError

log = logging.getLogger(__name__)

# Each module adds its sub-commands; a handler takes (args, ctx) and returns a JSON-able dict
# (printed as JSON with --json) or prints its own human output and returns None.
COMMAND_MODULES = [basic, memory, security, trust, capture, erase, assistant, clients]

EXIT_USER_ERROR = 1
EXIT_BUG = 70


def _common(suppress: bool) -> argparse.ArgumentParser:
    # The same options are accepted before and after the command; after it they default to
    # SUPPRESS so a sub-command does not overwrite a value given before it.
    d: dict[str, object] = {"default": argparse.SUPPRESS} if suppress else {}
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        help="data folder (default: $MNEMO_DATA_DIR or the platform's user data folder)",
        **d,
    )
    common.add_argument(
        "--passphrase-file",
        help="read the passphrase from this file "
        "(first line); else $MNEMO_PASSPHRASE; else a prompt",
        **d,
    )
    common.add_argument("--json", action="store_true", help="print one JSON document", **d)
    common.add_argument("--verbose", action="store_true", help="log warnings to stderr", **d)
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnemo",
        parents=[_common(False)],
        description="Mnemo: your encrypted, local screen and chat memory. Without a command, "
        "the desktop app starts.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common(True)
    for module in COMMAND_MODULES:
        module.register(sub, common)
    return parser


def run(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[..., Any] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    from app.cli.context import CliContext

    ctx = CliContext(args)
    try:
        result = handler(args, ctx)
    except UserFacingError as e:
        print(f"mnemo: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("mnemo: interrupted", file=sys.stderr)
        return 130
    except Exception:
        log.exception("command %s failed", args.command)
        print(
            f"mnemo: internal error in '{args.command}'; details are in the log at "
            f"{ctx.log_path()}",
            file=sys.stderr,
        )
        return EXIT_BUG
    finally:
        ctx.close()
    if result is not None:
        if args.json:
            json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
            sys.stdout.write("\n")
        else:
            text = getattr(args, "format_human", None)
            print(text(result) if text else json.dumps(result, ensure_ascii=False, indent=1))
    return 0
