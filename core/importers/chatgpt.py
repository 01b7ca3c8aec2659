"""ChatGPT data export (`conversations.json`, alone or in the export .zip): each conversation's
message tree walked along its current branch, from `current_node` up to the root."""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from typing import Any

from core.importers.base import (
    Context,
    Format,
    Head,
    Source,
    clean_text,
    sniffed_member,
    valid_epoch,
)
from core.importers.jsonstream import PeekStream, iter_array_items, outline
from core.types import ImportedMessage

NAME = "chatgpt"
AUTHORS = {"user": "user", "assistant": "ChatGPT"}
# Content the user never saw as a message, or that is not text.
SKIPPED_CONTENT = {
    "thoughts": "model reasoning",
    "reasoning_recap": "model reasoning",
    "tether_browsing_display": "tool output",
    "tether_quote": "tool output",
    "execution_output": "tool output",
    "system_error": "tool output",
    "user_editable_context": "hidden message",
    "model_editable_context": "hidden message",
}


def looks_like(head: Head) -> bool:
    top, keys, _ = outline(head)
    return top == "list" and bool(keys & {"mapping", "current_node"})


def zip_member(zf: zipfile.ZipFile) -> str | None:
    names = [n for n in zf.namelist() if posixpath.basename(n) == "conversations.json"]
    return sniffed_member(zf, names, looks_like)


def read(source: Source, ctx: Context) -> Iterator[ImportedMessage]:
    with source.open() as raw:
        stream = PeekStream(raw, ctx)
        if stream.first != b"[":
            raise ctx.error(
                "is not a ChatGPT export: it should be a list of conversations",
                "Choose conversations.json from the ChatGPT export, or the export .zip.",
            )
        for n, conv in enumerate(iter_array_items(stream, ctx), 1):
            if not isinstance(conv, dict) or not isinstance(conv.get("mapping"), dict):
                if n == 1:
                    raise ctx.error(
                        "is not a ChatGPT export: its conversations have no message tree "
                        "('mapping')"
                    )
                ctx.reject(f"item {n}", "not a ChatGPT conversation (no message tree)")
                continue
            yield from _conversation(conv, n, ctx)


def _conversation(conv: dict[str, Any], n: int, ctx: Context) -> Iterator[ImportedMessage]:
    title = conv.get("title")
    title = clean_text(title) if isinstance(title, str) and title.strip() else ""
    title = title or f"Untitled conversation {conv.get('id') or conv.get('conversation_id') or n}"
    where = f'conversation "{title}"'
    mapping: dict[str, Any] = conv["mapping"]
    branch = _current_branch(mapping, conv.get("current_node"), where, ctx)
    last_time = valid_epoch(conv.get("create_time")) or valid_epoch(conv.get("update_time"))
    for i, (node_id, node) in enumerate(branch, 1):
        msg = node.get("message")
        if msg is None:
            continue  # the tree's root and placeholders carry no message
        if not isinstance(msg, dict):
            ctx.reject(f"{where} (message {i})", "message is not an object")
            continue
        author: dict[str, Any] = msg["author"] if isinstance(msg.get("author"), dict) else {}
        role = author.get("role") if isinstance(author.get("role"), str) else None
        metadata: dict[str, Any] = msg["metadata"] if isinstance(msg.get("metadata"), dict) else {}
        t = valid_epoch(msg.get("create_time"))
        if t is not None:
            last_time = t
        if metadata.get("is_visually_hidden_from_conversation"):
            ctx.skip("hidden message")
            continue
        if role == "system":
            ctx.skip("system message")
            continue
        if role == "tool":
            ctx.skip("tool output")
            continue
        if msg.get("recipient") not in (None, "all"):
            ctx.skip("tool call")
            continue
        text, why = _text(msg.get("content"))
        if text is None:
            ctx.skip(why)
            continue
        time = t if t is not None else last_time
        if time is None:
            ctx.reject(f"{where} (message {i})", "no time on the message or the conversation")
            continue
        name = author.get("name") if isinstance(author.get("name"), str) else None
        yield ImportedMessage(
            external_id=node_id,
            time=time,
            author=name or AUTHORS.get(role or "", role),
            text=text,
            conversation=title,
            role=role if role in ("user", "assistant") else None,
        )


def _current_branch(
    mapping: dict[str, Any], current: object, where: str, ctx: Context
) -> list[tuple[str, dict[str, Any]]]:
    """Nodes from the root to the current node. A missing node is bridged through the node
    that lists it as a child; without `current_node`, the newest leaf is used."""
    start = current if isinstance(current, str) and isinstance(mapping.get(current), dict) else None
    if start is None:
        start = _newest_leaf(mapping)
        if start is None:
            return []
        ctx.skip("conversation without current node: newest branch used")
    chain: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    node_id: object = start
    while isinstance(node_id, str) and node_id not in seen:
        node = mapping.get(node_id)
        if not isinstance(node, dict):
            bridge = _parent_listing(mapping, node_id, seen)
            if bridge is None:
                orphans = sum(
                    1
                    for k, v in mapping.items()
                    if k not in seen and isinstance(v, dict) and v.get("message")
                )
                if orphans:
                    ctx.reject(
                        where,
                        f"its message tree is broken at a missing node; {orphans} earlier "
                        "message(s) could not be placed",
                    )
                break
            ctx.skip("missing tree node bridged")
            node_id = bridge
            continue
        seen.add(node_id)
        chain.append((node_id, node))
        node_id = node.get("parent")
    chain.reverse()
    return chain


def _parent_listing(mapping: dict[str, Any], child: str, seen: set[str]) -> str | None:
    for key, node in mapping.items():
        if key in seen or not isinstance(node, dict):
            continue
        children = node.get("children")
        if isinstance(children, list) and child in children:
            return key
    return None


def _newest_leaf(mapping: dict[str, Any]) -> str | None:
    best: tuple[float, int] | None = None
    best_id = None
    for order, (key, node) in enumerate(mapping.items()):
        if not isinstance(node, dict):
            continue
        children = node.get("children")
        if isinstance(children, list) and any(isinstance(mapping.get(c), dict) for c in children):
            continue
        msg = node.get("message")
        t = valid_epoch(msg.get("create_time")) if isinstance(msg, dict) else None
        rank = (t or 0.0, order)
        if best is None or rank > best:
            best, best_id = rank, key
    return best_id


def _text(content: object) -> tuple[str | None, str]:
    """The message's text, or None and why it was left out."""
    if not isinstance(content, dict):
        return None, "message without content"
    ctype = content.get("content_type")
    if isinstance(ctype, str) and ctype in SKIPPED_CONTENT:
        return None, SKIPPED_CONTENT[ctype]
    parts = content.get("parts")
    if isinstance(parts, list):
        texts: list[str] = []
        other = 0
        for part in parts:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                other += 1
        text = clean_text("\n".join(t for t in texts if t.strip()))
        if text:
            return text, ""
        return None, ("image or file without text" if other else "empty message")
    if isinstance(content.get("text"), str):
        text = clean_text(content["text"])
        return (text, "") if text else (None, "empty message")
    return None, f"unsupported content ({ctype})" if isinstance(ctype, str) else "empty message"


FORMAT = Format(
    name=NAME,
    description="ChatGPT export (conversations.json or the export .zip)",
    read=read,
    looks_like=looks_like,
    zip_member=zip_member,
)
