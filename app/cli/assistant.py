"""ask: a question answered from your memories by the local model, with the memories it cites.
Human output streams the answer as it is written, then lists the sources, then the memories
related to the question that do not hold the answer (never listed as sources)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from app.assistant import Answer, Citation, Related
from app.cli.context import CliContext
from core.clock import utc_iso
from core.errors import BadInput
from core.lanes import Cancel


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("ask", parents=[common], help="answer a question from your memories")
    p.add_argument("question", nargs="+", help="the question; time words become filters")
    p.add_argument("--k", type=int, default=8, help="memories given to the model (default 8)")
    p.add_argument("--model", help="a GGUF model file to use for this question")
    p.add_argument("--conversation", type=int, help="continue this conversation (its id)")
    p.set_defaults(handler=cmd_ask)


def _memory_json(m: Citation | Related) -> dict[str, Any]:
    """A cited or related memory as `ask --json` gives it (a citation adds its [n])."""
    return {
        "id": m.memory_id,
        "snippet": m.snippet,
        "time": utc_iso(m.time),
        "source": m.source,
        "app": m.app,
        "title": m.title,
        "external_id": m.external_id,
    }


def answer_json(ans: Answer) -> dict[str, Any]:
    return {
        "answer": ans.text,
        "detail": ans.detail,
        "kind": ans.kind,
        "not_found": ans.not_found,
        "cancelled": ans.cancelled,
        "conversation_id": ans.conversation_id,
        "answer_id": ans.answer_memory_id,
        "citations": [{"n": c.n, **_memory_json(c)} for c in ans.citations],
        "related": [_memory_json(r) for r in ans.related_memories],
        "timings": ans.timings,
    }


def cmd_ask(args: argparse.Namespace, ctx: CliContext) -> dict[str, Any] | None:
    if not 1 <= args.k <= 32:
        raise BadInput("--k must be between 1 and 32.")
    services = ctx.services()
    services.require_memory()
    assistant = services.assistant
    assert assistant is not None  # attached on unlock
    assistant.k = args.k
    if args.model:
        host: Any = services.model_host()
        host.set_model(args.model)  # ModelMissing (one readable line) if it cannot be used
    question = " ".join(args.question)
    streamed: list[str] = []

    def on_token(text: str) -> None:
        streamed.append(text)
        if not args.json:
            sys.stdout.write(text)
            sys.stdout.flush()

    ans = assistant.ask(question, args.conversation, on_token, Cancel())
    if args.json:
        return answer_json(ans)
    write_answer(sys.stdout, ans, "".join(streamed))
    return None


def write_answer(out: TextIO, ans: Answer, streamed: str) -> None:
    """What follows the streamed answer: the checked answer if it differs, the sentence it
    rests on, its sources, and the related memories apart from them."""
    raw = streamed.strip()
    out.write("\n")
    if ans.text.strip() != raw:
        # The checked answer differs (an invention replaced, a citation added or removed).
        out.write(f"\nChecked answer: {ans.text}\n")
    if ans.detail and ans.detail not in raw:
        out.write(f"  “{ans.detail}”\n")  # the sentence the answer rests on
    if ans.citations:
        out.write("\nSources:\n")
        for c in ans.citations:
            out.write(_memory_lines(f"[{c.n}]", c))
    if ans.related_memories:
        out.write("\nRelated (not cited):\n")
        for r in ans.related_memories:
            out.write(_memory_lines("-  ", r))
    out.write(f"\nConversation {ans.conversation_id}; continue it with --conversation.\n")


def _memory_lines(mark: str, m: Citation | Related) -> str:
    """A cited ([n]) or related (-) memory in plain `ask` output: when, where, its id, and
    its snippet on the next line."""
    where = " · ".join(x for x in (m.source, m.app, m.title) if x)
    return f"  {mark} {utc_iso(m.time)}  {where}  (memory {m.memory_id})\n      {m.snippet}\n"
