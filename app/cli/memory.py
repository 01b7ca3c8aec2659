"""note, search, import: adding memories and finding them again."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from app.cli.context import CliContext
from core.errors import BadInput, PartialFailure
from core.types import HL_END, HL_START, SearchFilters, SearchResults

if TYPE_CHECKING:
    from app.services import Services


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("note", parents=[common], help="add a typed memory")
    p.add_argument("text", nargs="+", help="the note's text")
    p.set_defaults(handler=cmd_note, format_human=lambda r: f"Noted (memory {r['id']}).")

    p = sub.add_parser("search", parents=[common], help="hybrid search over your memories")
    p.add_argument("query", nargs="*", help="words or a question; time words become filters")
    add_search_options(p)
    p.set_defaults(handler=cmd_search, format_human=format_search)

    from app.import_service import format_names

    p = sub.add_parser(
        "import", parents=[common], help="import chats and notes (one transaction per file)"
    )
    p.add_argument("path", nargs="+", help="export files, folders of exports, or a folder of notes")
    p.add_argument(
        "--format",
        default="auto",
        choices=[*format_names(), "screenshots"],
        help="the exports' format (auto); screenshots: a folder of images, read with OCR",
    )
    p.add_argument(
        "--tz", help="time zone of times the export writes without one (default: this machine's)"
    )
    p.set_defaults(handler=cmd_import, format_human=format_import)


def cmd_note(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    services = ctx.services()
    mid = services.add_note(" ".join(args.text))
    return {"id": mid}


# -- search ----------------------------------------------------------------------------------
def add_search_options(p: argparse.ArgumentParser, *, erase: bool = False) -> None:
    """The options of `search`; `erase --query` takes the same ones, meaning the same."""
    p.add_argument("--k", type=int, default=20, help="how many results (default 20)")
    if not erase:  # erase has its own --since/--until/--app/--source (also used with --query)
        p.add_argument("--since", help="ISO date/time or an expression like 'last week'")
        p.add_argument("--until", help="ISO date/time or an expression like 'yesterday'")
        p.add_argument("--app", help="only memories from this app")
        p.add_argument("--source", help="screen, chat, note, api, import, or import:<format>")


def run_search(
    services: Services, query: str, args: argparse.Namespace, *, fallback: bool = True
) -> SearchResults:
    """What `search QUERY` shows with these options: the one search both `search` and
    `erase --query` go through, so an erase acts on exactly what the user searched."""
    from core.timeparse import parse_bound

    if not 1 <= args.k <= 500:
        raise BadInput("--k must be between 1 and 500.")
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
    return memory.search(query, filters, args.k, fallback=fallback)


def cmd_search(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    results = run_search(ctx.services(), " ".join(args.query), args)
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
        # False: no hit holds the words, every one is a meaning match ("No exact matches").
        "exact": results.exact,
        # The time read from the query's words: it ranks memories from then first.
        "time_hint": None
        if results.time_hint is None
        else {"since": results.time_hint[0], "until": results.time_hint[1]},
        # A sentence when the filters left nothing and the hits come from everywhere.
        "fallback": results.fallback,
        "took_ms": round(results.took_ms, 2),
    }


def format_search(result: dict[str, Any]) -> str:
    if not result["hits"]:
        return "No memories found."
    lines = []
    if result.get("fallback"):
        lines.append(result["fallback"])
    if result.get("exact") is False:
        lines.append("No exact matches; these are close in meaning:")
    for h in result["hits"]:
        snippet = h["snippet"].replace(HL_START, "[").replace(HL_END, "]")
        where = h["app"] or h["conversation"] or h["source"]
        more = f" (+{h['count'] - 1} alike)" if h["count"] > 1 else ""
        lines.append(f"{h['time'][:16].replace('T', ' ')}  #{h['id']}  {where}: {snippet}{more}")
    return "\n".join(lines)


# -- import ----------------------------------------------------------------------------------
def cmd_import(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    """Each file in its own transaction; the report names every file that failed, and the exit
    code is non-zero when any did (the others are still imported)."""
    if args.format == "screenshots":  # OCR'd images, not chats: the capture pipeline's import
        from app.cli.capture import import_screenshots

        docs = [
            import_screenshots(argparse.Namespace(**{**vars(args), "path": p}), ctx)
            for p in args.path
        ]
        return {"files": [f for d in docs for f in d.get("files", [])]}
    services = ctx.services()
    services.require_memory()
    imports = services.imports
    assert imports is not None  # present whenever memory is
    result = imports.import_paths(args.path, args.format, args.tz)
    doc = result.to_json()
    if result.failed:
        # One document: the report (the good files were imported) with the error beside it;
        # "bad_input" when nothing was imported, "partial" when some files were.
        names = ", ".join(f.file for f in result.failed)
        done = len(result.files) - len(result.failed)
        message = (
            f"{len(result.failed)} of {len(result.files)} files could not be imported "
            f"({names}); {done} imported. " + " ".join(f.error or "" for f in result.failed)
        )
        if not args.json:
            print(format_import(doc))
            sys.stdout.flush()
        if done:
            raise PartialFailure(message, doc if args.json else {})
        code = next((f.error_code for f in result.failed if f.error_code), "bad_input")
        raise PartialFailure(message, doc if args.json else {}, code)
    return doc


def format_import(result: dict[str, Any]) -> str:
    lines = []
    for f in result["files"]:
        if f["cancelled"]:
            lines.append(f"{f['file']}: cancelled, nothing from it was stored")
        elif f["error"]:
            lines.append(f"{f['file']}: not imported. {f['error']}")
        else:
            more = "".join(
                f"\n    rejected {r['where']}: {r['reason']}" for r in f["rejections"][:20]
            )
            skipped = sum(f["skipped"].values())
            lines.append(
                f"{f['file']} ({f['format']}): {f['imported']} imported, "
                f"{f['duplicates']} already there, {f['rejected']} rejected, "
                f"{skipped} skipped, {f['seconds']:.1f} s{more}"
            )
    return "\n".join(lines)
