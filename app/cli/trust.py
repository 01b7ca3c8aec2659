"""trust list | sources | approve ID… | reject ID…: the trust review queue and source scores."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.context import CliContext
from app.services import Services
from app.trust_service import TrustService
from core.errors import StoreLocked


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("trust", parents=[common], help="the trust review queue and source scores")
    tsub = p.add_subparsers(dest="trust_command", metavar="ACTION", required=True)
    q = tsub.add_parser("list", parents=[common], help="memories waiting for review")
    q.add_argument("--limit", type=int, default=500, help="at most this many (default 500)")
    q.set_defaults(handler=cmd_list, format_human=format_list)
    s = tsub.add_parser("sources", parents=[common], help="every source and its trust")
    s.set_defaults(handler=cmd_sources, format_human=format_sources)
    a = tsub.add_parser("approve", parents=[common], help="approve quarantined memories")
    a.add_argument("ids", nargs="+", type=int, metavar="ID")
    a.set_defaults(handler=cmd_approve, format_human=lambda r: _format_done("Approved", r))
    r = tsub.add_parser("reject", parents=[common], help="reject and erase memories")
    r.add_argument("ids", nargs="+", type=int, metavar="ID")
    r.set_defaults(handler=cmd_reject, format_human=lambda r: _format_done("Rejected", r))


def _trust(ctx: CliContext) -> tuple[Services, TrustService]:
    services = ctx.services()
    if services.trust is None:
        raise StoreLocked()
    return services, services.trust


def cmd_list(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    _, trust = _trust(ctx)
    items = trust.queue(limit=max(1, args.limit))
    return {"count": trust.pending_count(), "items": [i.to_json() for i in items]}


def cmd_sources(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    _, trust = _trust(ctx)
    return {"sources": [s.to_json() for s in trust.sources()]}


def cmd_approve(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    _, trust = _trust(ctx)
    result = trust.approve(args.ids)
    return {"approved": result.done, "skipped": result.skipped}


def cmd_reject(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    services, trust = _trust(ctx)
    result = trust.reject(args.ids)
    if services.memory is not None:
        services.memory.save_index()  # the erased vectors must leave the snapshot before exit
    doc: dict[str, Any] = {"rejected": result.done, "skipped": result.skipped}
    if result.receipt is not None:
        doc["receipt"] = result.receipt.to_json()
    return doc


def format_list(result: dict[str, Any]) -> str:
    if not result["items"]:
        return "Nothing waits for review."
    lines = [f"{result['count']} memories wait for review:"]
    for item in result["items"]:
        first = item["preview"].splitlines()[0] if item["preview"] else ""
        lines.append(f"  [{item['id']}] {item['time']}  {item['source']}")
        lines.append(f"      {first[:100]}")
        for reason in item["reasons"]:
            lines.append(f"      - {reason}")
    return "\n".join(lines)


def format_sources(result: dict[str, Any]) -> str:
    if not result["sources"]:
        return "No sources yet."
    lines = []
    for s in result["sources"]:
        pin = f" (pinned: {s['pinned']})" if s["pinned"] else ""
        bar = "#" * round(s["trust"] * 20)
        lines.append(f"  [{s['id']:>4}] {s['trust']:.2f} {bar:<20} {s['label']}{pin}")
    return "\n".join(lines)


def _format_done(verb: str, result: dict[str, Any]) -> str:
    done = result.get("approved", result.get("rejected", []))
    text = f"{verb} {len(done)} memories."
    if result["skipped"]:
        text += " Skipped (not waiting for review, or not found): " + ", ".join(
            map(str, result["skipped"])
        )
    return text
