"""erase: preview (default) or erase (--yes) memories by id, time range, app, window title,
domain, search query, source, import file, or everything; prints the preview or the receipt."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from app.cli.context import CliContext
from core.erase import EraseSpec
from core.errors import BadInput


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "erase",
        parents=[common],
        help="erase memories for good (shows what would go unless --yes)",
        description="Without --yes, shows what would be erased and erases nothing. With --yes, "
        "erases rows, search entries, vectors, screenshots and answers that cited them, and "
        "prints a receipt.",
    )
    p.add_argument("--id", type=int, nargs="+", dest="ids", metavar="N", help="memory ids")
    p.add_argument("--since", help="from this time: ISO date/time or words like 'yesterday'")
    p.add_argument("--until", help="up to this time: ISO date/time or words like 'today'")
    p.add_argument("--app", help="everything captured from this app")
    p.add_argument("--title", help="window titles matching this (* and ? wildcards)")
    p.add_argument("--domain", help="pages from this web domain (and its subdomains)")
    p.add_argument(
        "--query",
        help="exactly what 'search' for these words shows, with the same --k, --since, "
        "--until, --app and --source",
    )
    p.add_argument("--k", type=int, default=20, help="with --query: as search's --k (20)")
    p.add_argument("--source", help="screen, chat, note, api, import, or import:<format>")
    p.add_argument("--file", help="everything imported from this file")
    p.add_argument("--all", action="store_true", help="everything")
    p.add_argument("--yes", action="store_true", help="really erase (else only a preview)")
    p.set_defaults(handler=cmd_erase, format_human=format_erase)


def _time(value: str, name: str, now: float, end: bool) -> float:
    from core.timeparse import parse_bound

    try:
        return parse_bound(value, now, end=end)
    except ValueError:
        raise BadInput(
            f"--{name} {value!r}: give a date like 2026-03-14, a date-time like "
            "2026-03-14T09:30, or words like 'yesterday' or 'last week'."
        ) from None


def spec_from_args(args: argparse.Namespace, now: float) -> tuple[EraseSpec, str | None]:
    """The spec, and the query when one was given (resolved by a search)."""
    # With --query, --app and --source narrow the search, as they do for `search`.
    filters = ("app", "source") if args.query is not None else ()
    chosen = [
        name
        for name in ("ids", "app", "title", "domain", "query", "source", "file")
        if getattr(args, name) is not None and name not in filters
    ]
    if args.all:
        chosen.append("all")
    ranged = args.since is not None or args.until is not None
    if not chosen and not ranged:
        raise BadInput(
            "Say what to erase: --id N…, --since T --until T, --app A, --title PATTERN, "
            "--domain D, --query Q, --source S, --file F, or --all."
        )
    if len(chosen) > 1:
        raise BadInput("Give one kind of selection at a time (a time range may be added).")
    if args.all and ranged:
        raise BadInput("--all erases everything; leave out --since/--until, or drop --all.")
    since = _time(args.since, "since", now, end=False) if args.since else None
    until = _time(args.until, "until", now, end=True) if args.until else None
    if since is not None and until is not None and until <= since:
        raise BadInput("--until must come after --since.")
    if args.query is not None:
        return EraseSpec(ids=[]), args.query
    spec = EraseSpec(
        ids=args.ids,
        since=since,
        until=until,
        app=args.app,
        title_pattern=args.title,
        domain=args.domain,
        source=args.source,
        file=args.file,
        everything=bool(args.all),
    )
    if args.ids is not None and ranged:
        raise BadInput("--id picks exact memories; leave out --since/--until.")
    return spec, None


def cmd_erase(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    services = ctx.services()
    erase = services.erase
    if erase is None:
        from core.errors import StoreLocked

        raise StoreLocked()
    now = services.clock.now()
    spec, query = spec_from_args(args, now)
    left_out: list[int] = []
    if query is not None:
        if not query.strip():
            raise BadInput("Type the words to search for; the matching memories are erased.")
        from app.cli.memory import run_search
        from app.erase_service import spec_for_results

        # The very search `search QUERY` runs with these options: the same hits, in order.
        spec, left_out = spec_for_results(run_search(services, query, args, fallback=False))
    if not args.yes:
        pv = erase.preview(spec)
        doc: dict[str, Any] = {"erased": False, "preview": pv.to_json()}
        if query is not None:
            doc["preview"]["ids"] = list(spec.ids or [])
            doc["preview"]["left_out"] = left_out
        return doc
    receipt = erase.erase(spec)
    doc = {"erased": True, "receipt": receipt.to_json()}
    if query is not None:
        doc["receipt"]["ids"] = list(spec.ids or [])
    return doc


def _when(t: float | None) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M") if t is not None else "?"


def format_erase(result: dict[str, Any]) -> str:
    if result["erased"]:
        r = result["receipt"]
        return (
            f"Erased {r['memories']} memories ({r['vectors']} vectors, {r['media_items']} "
            f"screenshots, {r['derived_answers']} answers that cited them) in "
            f"{r['took_ms'] / 1000:.1f} s."
        )
    p = result["preview"]
    if not p["memories"]:
        return "Nothing matches; nothing would be erased."
    lines = [
        f"Would erase {p['memories']} memories from {_when(p['oldest'])} to "
        f"{_when(p['newest'])} ({p['media_items']} screenshots, {p['derived_answers']} answers "
        "that cited them):"
    ]
    for kind, n in sorted(p["by_source"].items(), key=lambda kv: -kv[1]):
        lines.append(f"  {n:>6}  {kind}")
    for ex in p["examples"]:
        where = ex["app"] or ex["source"]
        lines.append(f"  e.g. #{ex['id']} {_when(ex['time'])} {where}: {ex['text'][:60]}")
    if "ids" in p:
        lines.append("  memories: " + " ".join(f"#{i}" for i in p["ids"]))
    if p.get("left_out"):
        lines.append(
            "  kept (shown by search only for a loose resemblance in meaning): "
            + " ".join(f"#{i}" for i in p["left_out"])
        )
    lines.append("Nothing was erased. Add --yes to erase them.")
    return "\n".join(lines)
