"""The command line (DESIGN.md "Command line"): `python main.py [--data-dir DIR] COMMAND …`.
Every command accepts --json and then prints one JSON document on stdout, errors included
(`{"error": {"code", "message", "exit"}}`); without --json an error is one readable line on
stderr. Either way the exit status says which kind of error it was (core.errors.ERROR_CODES),
and the user's own errors never show a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from app.cli import assistant, basic, capture, clients, erase, memory, security, trust
from core.errors import ERROR_CODES, PartialFailure, StoreDamaged, UserFacingError

log = logging.getLogger(__name__)

# Each module adds its sub-commands; a handler takes (args, ctx) and returns a JSON-able dict
# (printed as JSON with --json) or prints its own human output and returns None.
COMMAND_MODULES = [basic, memory, security, trust, capture, erase, assistant, clients]

EXIT_USER_ERROR = ERROR_CODES["error"].exit
EXIT_BAD_INPUT = ERROR_CODES["bad_input"].exit
EXIT_BUG = ERROR_CODES["internal"].exit


class _UsageError(SystemExit):
    """A wrong command line. A SystemExit (status 2, as argparse's own) for callers that parse
    without `run`; `run` reports it like every other error."""

    def __init__(self, message: str) -> None:
        super().__init__(EXIT_BAD_INPUT)
        self.message = message

    def __str__(self) -> str:
        return self.message


class _Parser(argparse.ArgumentParser):
    """argparse, but a wrong command line is raised (and then reported like every error)."""

    def error(self, message: str) -> Any:
        raise _UsageError(f"{message}. See '{self.prog} --help'.")


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
    parser = _Parser(
        prog="mnemo",
        parents=[_common(False)],
        description="Mnemo: your encrypted, local screen and chat memory. Without a command, "
        "the desktop app starts.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    common = _common(True)
    for module in COMMAND_MODULES:
        module.register(sub, common)
    return parser


def _emit_error(json_mode: bool, code: str, message: str, doc: dict[str, Any] | None = None) -> int:
    exit_code = ERROR_CODES[code].exit
    if json_mode:
        out = dict(doc or {})
        out["error"] = {"code": code, "message": message, "exit": exit_code}
        _print_json(out)
    else:
        print(f"mnemo: {message}", file=sys.stderr)
    return exit_code


def _print_json(doc: Any) -> None:
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    sys.stdout.flush()


def run(argv: list[str]) -> int:
    json_mode = "--json" in argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as e:
        if not json_mode:
            parser.print_usage(sys.stderr)
        return _emit_error(json_mode, "bad_input", str(e))
    handler: Callable[..., Any] | None = getattr(args, "handler", None)
    if handler is None:
        if json_mode:
            return _emit_error(True, "bad_input", "Give a command; see 'mnemo --help'.")
        parser.print_help()
        return EXIT_BAD_INPUT
    json_mode = bool(args.json)
    from app.cli.context import CliContext

    ctx = CliContext(args)
    damage: StoreDamaged | None = None
    try:
        result = handler(args, ctx)
        # A damaged store is never used silently: whatever the command read, it says so.
        damage = ctx.damage()
    except PartialFailure as e:
        ctx.print_notices()
        return _emit_error(json_mode, e.code, str(e), e.report)
    except UserFacingError as e:
        ctx.print_notices()
        return _emit_error(json_mode, e.code, str(e))
    except KeyboardInterrupt:
        return _emit_error(json_mode, "interrupted", "interrupted")
    except Exception:
        log.exception("command %s failed", args.command)
        return _emit_error(
            json_mode,
            "internal",
            f"internal error in '{args.command}'; details are in the log at {ctx.log_path()}",
        )
    finally:
        ctx.close()
    ctx.print_notices()
    if damage is not None:
        if not json_mode and result is not None:
            _print_human(args, result)
        return _emit_error(json_mode, damage.code, str(damage), result)
    if result is not None:
        if json_mode:
            if ctx.notices:
                result = {**result, "notices": ctx.notices}
            _print_json(result)
        else:
            _print_human(args, result)
    return 0


def _print_human(args: argparse.Namespace, result: dict[str, Any]) -> None:
    text = getattr(args, "format_human", None)
    print(text(result) if text else json.dumps(result, ensure_ascii=False, indent=1))
