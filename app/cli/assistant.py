"""ask: a question answered from your memories by the local model, with the memories it cites.
Human output streams the answer as it is written, then lists the sources, then the memories
related to the question that do not hold the answer (never listed as sources)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from app.assistant import Answer
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


def answer_json(ans: Answer) -> dict[str, Any]:
    return {
        "answer": ans.text,
        "detail": ans.detail,
        "kind": ans.kind,
        "not_found": ans.not_found,
        "cancelled": ans.cancelled,
        "conversation_id": ans.conversation_id,
        "answer_id": ans.answer_memory_id,
        "citations": [
            {
                "n": c.n,
                "id": c.memory_id,
                "snippet": c.snippet,
                "time": utc_iso(c.time),
                "source": c.source,
                "app": c.app,
                "title": c.title,
                "external_id": c.external_id,
            }
            for c in ans.citations
        ],
        "related": [
            {
                "id": r.memory_id,
                "snippet": r.snippet,
                "time": utc_iso(r.time),
                "source": r.source,
                "app": r.app,
                "title": r.title,
                "external_id": r.external_id,
            }
            for r in ans.related_memories
        ],
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
            where = " · ".join(x for x in (c.source, c.app, c.title) if x)
            out.write(f"  [{c.n}] {utc_iso(c.time)}  {where}  (memory {c.memory_id})\n")
            out.write(f"      {c.snippet}\n")
    if ans.related_memories:
        out.write("\nRelated (not cited):\n")
        for r in ans.related_memories:
            where = " · ".join(x for x in (r.source, r.app, r.title) if x)
            out.write(f"  -   {utc_iso(r.time)}  {where}  (memory {r.memory_id})\n")
            out.write(f"      {r.snippet}\n")
    out.write(f"\nConversation {ans.conversation_id}; continue it with --conversation.\n")
