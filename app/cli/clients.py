"""mcp, clients, tool: the MCP server for one connected app, the user's control over connected
apps (allow, scope, cut off, read log, erase), and the client tools for scripts."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import Any

from app.cli.context import ENV_PASSPHRASE, CliContext
from core import clients as cl
from core.errors import BadInput, StoreLocked, UserFacingError


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "mcp",
        parents=[common],
        help="MCP server over stdio for one connected app (the app starts this)",
    )
    p.add_argument("--client", required=True, help="the connected app's name, as you allowed it")
    p.add_argument("--token-file", help=f"read the app's token from this file (else ${cl_env()})")
    p.set_defaults(handler=cmd_mcp)

    p = sub.add_parser("clients", parents=[common], help="connected apps: allow, scope, cut off")
    csub = p.add_subparsers(dest="clients_command", metavar="ACTION", required=True)
    q = csub.add_parser("list", parents=[common], help="every app that asked or was allowed")
    q.set_defaults(handler=cmd_list, format_human=format_list)
    for name, helptext, handler in (
        ("allow", "allow an app (prints its token once)", cmd_allow),
        ("scope", "change what an allowed app may do", cmd_scope),
    ):
        q = csub.add_parser(name, parents=[common], help=helptext)
        q.add_argument("name")
        q.add_argument(
            "--read",
            help=f"comma-separated: {', '.join(cl.CATEGORIES)} (default: screens,chats,notes)",
        )
        q.add_argument("--write", action=argparse.BooleanOptionalAction, default=None)
        q.add_argument("--screenshots", action=argparse.BooleanOptionalAction, default=None)
        q.add_argument("--exclude-app", action="append", default=None, metavar="APP")
        q.add_argument(
            "--exclude-range", action="append", default=None, metavar="START/END",
            help="an off-limits time range, e.g. 2026-03-01/2026-03-08 (repeatable)",
        )  # fmt: skip
        q.set_defaults(handler=handler, format_human=format_client)
    for name, helptext, handler in (
        ("cut-off", "refuse the app from its next call on", cmd_cut_off),
        ("restore", "undo a cut-off", cmd_restore),
        ("token", "give the app a new token (the old one stops working)", cmd_token),
        ("reads", "what did this app read? (memory ids)", cmd_reads),
        ("written", "what this app wrote, with review status", cmd_written),
    ):
        q = csub.add_parser(name, parents=[common], help=helptext)
        q.add_argument("name")
        q.set_defaults(handler=handler, format_human=_formatters().get(name, format_client))
    q = csub.add_parser("confirm", parents=[common], help="a note the app wrote is right")
    q.add_argument("name")
    q.add_argument("ids", nargs="+", type=int, metavar="ID")
    q.set_defaults(handler=cmd_confirm)
    q = csub.add_parser("erase", parents=[common], help="erase an app and everything it wrote")
    q.add_argument("name")
    q.add_argument("--yes", action="store_true", help="do not ask")
    q.set_defaults(handler=cmd_erase)

    p = sub.add_parser("tool", parents=[common], help="call a connected app's tools from a script")
    tsub = p.add_subparsers(dest="tool_command", metavar="TOOL", required=True)
    t = tsub.add_parser("search", parents=[common])
    t.add_argument("query", nargs="*")
    t.add_argument("--k", type=int, default=10)
    t.add_argument("--since")
    t.add_argument("--until")
    t.add_argument("--app")
    t.add_argument("--source")
    t = tsub.add_parser("get", parents=[common])
    t.add_argument("id", type=int)
    t.add_argument("--screenshot", metavar="FILE", help="write the screenshot to this file")
    t = tsub.add_parser("timeline", parents=[common])
    t.add_argument("--since", required=True)
    t.add_argument("--until", required=True)
    t = tsub.add_parser("remember", parents=[common])
    t.add_argument("text", nargs="+")
    t.add_argument("--title")
    for t in tsub.choices.values():
        t.add_argument("--client", required=True, help="the connected app's name")
        t.add_argument("--token-file", help=f"the app's token (else ${cl_env()})")
        t.set_defaults(handler=cmd_tool)


def cl_env() -> str:
    from app.mcp_server import ENV_TOKEN

    return ENV_TOKEN


def _token(args: argparse.Namespace) -> str | None:
    if getattr(args, "token_file", None):
        try:
            return Path(args.token_file).read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError):
            raise UserFacingError(f"Cannot read a token from {args.token_file}.") from None
    # Taken out of the environment once read, like the passphrase (no child inherits it).
    return os.environ.pop(cl_env(), None)


def _clients(ctx: CliContext) -> Any:
    from app.clients_service import ClientsService

    services = ctx.services()
    services.require_memory()
    return ClientsService(services)


# ---------------------------------------------------------------- mcp
def quiet_passphrase(ctx: CliContext) -> str | None:
    """The passphrase without ever asking (stdin is the protocol): --passphrase-file,
    $MNEMO_PASSPHRASE, else the system keyring when the user turned on unlock-at-login."""
    if ctx.args.passphrase_file or os.environ.get(ENV_PASSPHRASE):
        return ctx.passphrase()
    from app.security import keyring_fetch

    return keyring_fetch(ctx.data_dir)


def cmd_mcp(args: argparse.Namespace, ctx: CliContext) -> None:
    from app import mcp_server as ms
    from app.clients_service import ClientsService

    proto = ms.protect_stdout()
    name = cl.normalise_name(args.client)
    token = _token(args)
    services = ctx.services(unlock=False)
    ready = threading.Event()
    locked: list[str] = []  # why every call answers 'locked', once known

    def unlock() -> None:
        import logging

        from core.errors import WrongPassphrase

        log = logging.getLogger("app.mcp_server")
        try:
            passphrase = quiet_passphrase(ctx)
            if passphrase is None:
                log.warning("no passphrase available: every call answers 'locked'")
                locked.append(ms.NO_PASSPHRASE)
            elif services.initialised:
                services.unlock(passphrase)
                if services.memory is not None:
                    services.memory.warm_up()
        except WrongPassphrase:
            locked.append(ms.WRONG_PASSPHRASE)
        except UserFacingError as e:
            locked.append(ms.UNLOCK_FAILED.format(problem=str(e).rstrip(".")))
        except Exception:
            log.exception("unlock for the MCP server failed")
            locked.append(ms.UNLOCK_FAILED.format(problem="an internal error, see Mnemo's log"))
        finally:
            if locked:
                print(f"mnemo mcp: {locked[0]}", file=sys.stderr)
            ready.set()

    from core.lanes import LANES, Lane

    LANES.submit(Lane.LOAD, unlock, label="MCP server unlock")

    def gate() -> ClientsService:
        if not services.initialised:
            from core.errors import NotInitialised

            raise NotInitialised(str(ctx.data_dir))
        if not services.unlocked or services.memory is None:
            raise StoreLocked()
        return ClientsService(services)

    runner = ms.ToolRunner(gate, name, token, services.clock.now)
    ms.serve(runner, proto, ready, lambda: locked[0] if locked else None)
    return None


# ---------------------------------------------------------------- clients
def _scope_from(args: argparse.Namespace, base: cl.Scope) -> cl.Scope:
    doc = base.to_json()
    if args.read is not None:
        doc["readable"] = [r.strip() for r in args.read.split(",") if r.strip()]
    if args.write is not None:
        doc["may_write"] = args.write
    if args.screenshots is not None:
        doc["screenshots"] = args.screenshots
    if args.exclude_app is not None:
        doc["excluded_apps"] = [a for a in args.exclude_app if a.strip()]
    if args.exclude_range is not None:
        doc["excluded_ranges"] = [list(r) for r in cl.parse_ranges(args.exclude_range)]
    return cl.Scope.from_json(doc)


def cmd_list(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    return {"clients": [c.to_json() for c in _clients(ctx).views()]}


def _view(svc: Any, name: str) -> dict[str, Any]:
    n = cl.normalise_name(name)
    return next(c.to_json() for c in svc.views() if c.name == n)


def cmd_allow(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    svc = _clients(ctx)
    existing = cl.ClientRepository(ctx.services().store.reader()).get(args.name)
    base = existing.scope if existing is not None else cl.Scope()
    client, token = svc.allow(args.name, _scope_from(args, base))
    doc = _view(svc, client.name)
    doc["token"] = token
    return doc


def cmd_scope(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    svc = _clients(ctx)
    client = svc.set_scope(args.name, _scope_from(args, svc.get(args.name).scope))
    return _view(svc, client.name)


def cmd_cut_off(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    svc = _clients(ctx)
    return _view(svc, svc.cut_off(args.name).name)


def cmd_restore(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    svc = _clients(ctx)
    return _view(svc, svc.restore(args.name).name)


def cmd_token(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    svc = _clients(ctx)
    current = svc.get(args.name)
    if current.status == cl.PENDING:
        raise BadInput(f"{current.name} is not allowed yet: use `mnemo clients allow`.")
    client, token = svc.allow(args.name, current.scope)
    if current.status == cl.CUT_OFF:
        svc.cut_off(client.name)  # a new token does not lift a cut-off
    doc = _view(svc, client.name)
    doc["token"] = token
    return doc


def cmd_reads(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    return {"name": cl.normalise_name(args.name), "reads": _clients(ctx).reads(args.name)}


def cmd_written(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    return {"name": cl.normalise_name(args.name), "written": _clients(ctx).written(args.name)}


def cmd_confirm(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    svc = _clients(ctx)
    done = [i for i in args.ids if svc.confirm(args.name, i)]
    return {"confirmed": done, "skipped": [i for i in args.ids if i not in done]}


def cmd_erase(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    if not args.yes:
        if not sys.stdin.isatty():
            raise BadInput("Add --yes to erase an app and everything it wrote.")
        answer = input(f"Erase {args.name} and every memory it wrote? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise BadInput("Nothing was erased.")
    services = ctx.services()
    doc: dict[str, Any] = _clients(ctx).erase(args.name)
    if services.memory is not None:
        services.memory.save_index()  # erased vectors leave the snapshot before exit
    return doc


# ---------------------------------------------------------------- tool
def cmd_tool(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any]:
    from app.clients_service import ClientsService
    from app.mcp_server import ToolRunner

    services = ctx.services()
    services.require_memory()
    runner = ToolRunner(
        lambda: ClientsService(services), args.client, _token(args), services.clock.now
    )
    tool = args.tool_command
    if tool == "search":
        call = {"query": " ".join(args.query), "k": args.k, "since": args.since,
                "until": args.until, "app": args.app, "source": args.source}  # fmt: skip
        return runner.call("search", call).doc
    if tool == "get":
        result = runner.call("get_memory", {"id": args.id, "screenshot": bool(args.screenshot)})
        if args.screenshot and result.image is not None:
            Path(args.screenshot).write_bytes(result.image[0])
            result.doc["screenshot_file"] = args.screenshot
        return result.doc
    if tool == "timeline":
        return runner.call("timeline", {"since": args.since, "until": args.until}).doc
    return runner.call("remember", {"text": " ".join(args.text), "title": args.title}).doc


# ---------------------------------------------------------------- human output
def format_client(c: dict[str, Any]) -> str:
    s = c["scope"]
    trust = "—" if c["trust"] is None else f"{c['trust']:.2f}"
    lines = [
        f"{c['name']}: {c['status']}, trust {trust}, {c['writes']} written "
        f"({c['waiting_review']} waiting review), {c['reads']} reads",
        f"  reads: {', '.join(s['readable']) or 'nothing'}; writes: "
        f"{'yes' if s['may_write'] else 'no'}; screenshots: {'yes' if s['screenshots'] else 'no'}",
    ]
    if s["excluded_apps"]:
        lines.append(f"  off-limits apps: {', '.join(s['excluded_apps'])}")
    if c.get("token"):
        lines.append(f"  token (shown once; put it in the app's {cl_env()}): {c['token']}")
    return "\n".join(lines)


def format_list(r: dict[str, Any]) -> str:
    if not r["clients"]:
        return "No connected apps yet. An app appears here after it first runs `mnemo mcp`."
    return "\n".join(format_client(c) for c in r["clients"])


def _formatters() -> dict[str, Any]:
    def reads(r: dict[str, Any]) -> str:
        rows = r["reads"]
        if not rows:
            return f"{r['name']} has read nothing."
        return "\n".join(
            f"{x['time'][:19].replace('T', ' ')}  {x['tool']:<10} #{x['memory_id']}"
            + ("" if x["exists"] else " (erased)")
            for x in rows
        )

    def written(r: dict[str, Any]) -> str:
        rows = r["written"]
        if not rows:
            return f"{r['name']} has written nothing."
        return "\n".join(
            f"{x['time'][:19].replace('T', ' ')}  #{x['id']}  {x['status']}" for x in rows
        )

    return {"reads": reads, "written": written}
