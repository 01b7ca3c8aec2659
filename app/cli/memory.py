"""note, search, import: adding memories and finding them again."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from app.cli.context import CliContext
from core.errors import BadInput
from core.types import HL_END, HL_START, ImportedMessage, SearchFilters

Parser = Callable[[Path, str], Iterable[ImportedMessage]]
FORMATS = ("auto", "chatgpt", "claude", "whatsapp", "telegram", "jsonl", "markdown", "screenshots")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("note", parents=[common], help="add a typed memory")
    p.add_argument("text", nargs="+", help="the note's text")
    p.set_defaults(handler=cmd_note, format_human=lambda r: f"Noted (memory {r['id']}).")

    p = sub.add_parser("search", parents=[common], help="hybrid search over your memories")
    p.add_argument("query", nargs="*", help="words or a question; time words become filters")
    p.add_argument("--k", type=int, default=20, help="how many results (default 20)")
    p.add_argument("--since", help="ISO date/time or an expression like 'last week'")
    p.add_argument("--until", help="ISO date/time or an expression like 'yesterday'")
    p.add_argument("--app", help="only memories from this app")
    p.add_argument("--source", help="screen, chat, note, api, import, or import:<format>")
    p.set_defaults(handler=cmd_search, format_human=format_search)

    p = sub.add_parser("import", parents=[common], help="import chats (one transaction per file)")
    p.add_argument("path", help="a file, or a folder of files")
    p.add_argument("--format", default="auto", choices=FORMATS, help="the export's format")
    p.set_defaults(handler=cmd_import, format_human=format_import)


def cmd_note(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    services = ctx.services()
    mid = services.add_note(" ".join(args.text))
    return {"id": mid}


# -- search ----------------------------------------------------------------------------------
def cmd_search(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    from core.timeparse import parse_bound

    if not 1 <= args.k <= 500:
        raise BadInput("--k must be between 1 and 500.")
    services = ctx.services()
    memory = services.require_memory()
    now = services.clock.now()
    filters = SearchFilters(app=args.app, source=args.source)
    for name, end in (("since", False), ("until", True)):
        value = getattr(args, name)
        if value:
            try:
                setattr(filters, name, parse_bound(value, now, end=end))
            except ValueError:
                raise BadInput(
                    f"--{name} {value!r}: give a date like 2026-03-14, a date-time like "
                    "2026-03-14T09:30, or words like 'yesterday' or 'last week'."
                ) from None
    results = memory.search(" ".join(args.query), filters, args.k)
    f = results.filters
    return {
        "query": results.query,
        "filters": {
            "since": f.since,
            "until": f.until,
            "app": f.app,
            "source": f.source,
        },
        "hits": [h.to_json() for h in results.hits],
        "took_ms": round(results.took_ms, 2),
    }


def format_search(result: dict[str, Any]) -> str:
    if not result["hits"]:
        return "No memories found."
    lines = []
    for h in result["hits"]:
        snippet = h["snippet"].replace(HL_START, "[").replace(HL_END, "]")
        where = h["app"] or h["conversation"] or h["source"]
        more = f" (+{h['count'] - 1} alike)" if h["count"] > 1 else ""
        lines.append(f"{h['time'][:16].replace('T', ' ')}  #{h['id']}  {where}: {snippet}{more}")
    return "\n".join(lines)


# -- import ----------------------------------------------------------------------------------
def parser_for(fmt: str) -> Parser:
    """jsonl is parsed here; every other format comes from core.importers when present."""
    if fmt == "jsonl":
        from core.importers_jsonl import parse_jsonl

        return lambda path, _fmt: parse_jsonl(path)
    try:
        from core import importers  # type: ignore[attr-defined]
    except ImportError:
        raise BadInput(
            f"Importing the '{fmt}' format is not available in this version; use --format jsonl."
        ) from None
    parse: Parser = importers.parse
    return parse


def detect_format(path: Path) -> str:
    try:
        from core import importers  # type: ignore[attr-defined]

        detect = getattr(importers, "detect_format", None)
        if detect is not None:
            return str(detect(path))
    except ImportError:
        pass
    if path.suffix.lower() == ".jsonl":
        return "jsonl"
    raise BadInput(f"Cannot tell the format of {path}; give it with --format.")


def cmd_import(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    if args.format == "screenshots":
        from app.cli.capture import import_screenshots

        return import_screenshots(args, ctx)
    root = Path(args.path).expanduser()
    if not root.exists():
        raise BadInput(f"{root} does not exist.")
    if root.is_dir():
        files = sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))
        if args.format == "jsonl":
            files = [p for p in files if p.suffix.lower() == ".jsonl"]
    else:
        files = [root]
    if not files:
        raise BadInput(f"No files to import in {root}.")
    memory = ctx.services().require_memory()
    reports: list[dict[str, Any]] = []
    failed = 0
    for path in files:
        fmt = args.format if args.format != "auto" else detect_format(path)
        parse = parser_for(fmt)
        try:
            reports.append(memory.import_file(path, fmt, parse(path, fmt)))
        except BadInput as e:
            if len(files) == 1:
                raise
            failed += 1
            reports.append({"path": str(path), "format": fmt, "error": str(e)})
            print(f"mnemo: {e}", file=sys.stderr)
    result: dict[str, Any] = {"files": reports}
    if failed:
        result["failed"] = failed
    return result


def format_import(result: dict[str, Any]) -> str:
    lines = []
    for f in result["files"]:
        if "error" in f:
            lines.append(f"{f['path']}: not imported ({f['error']})")
        else:
            lines.append(
                f"{f['path']}: {f['imported']} imported, {f['duplicates']} already there, "
                f"{len(f['rejected'])} rejected"
            )
    return "\n".join(lines)
