"""Claude data export (`conversations.json`, alone or in the export .zip): conversations with
their `chat_messages`, text taken from the content blocks (or the plain `text` field)."""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator
from datetime import UTC
from typing import Any

from core.importers.base import (
    Context,
    Format,
    Head,
    Source,
    clean_text,
    iso_to_epoch,
    sniffed_member,
)
from core.importers.jsonstream import PeekStream, iter_array_items, outline
from core.types import ImportedMessage

NAME = "claude"
SENDERS = {"human": ("user", "user"), "assistant": ("assistant", "Claude")}


def looks_like(head: Head) -> bool:
    top, keys, _ = outline(head)
    if top != "list":
        return False
    return "chat_messages" in keys or (
        {"uuid", "name", "created_at"} <= keys and "mapping" not in keys
    )


def zip_member(zf: zipfile.ZipFile) -> str | None:
    names = [n for n in zf.namelist() if posixpath.basename(n) == "conversations.json"]
    return sniffed_member(zf, names, looks_like)


def read(source: Source, ctx: Context) -> Iterator[ImportedMessage]:
    with source.open() as raw:
        stream = PeekStream(raw, ctx)
        if stream.first != b"[":
            raise ctx.error(
                "is not a Claude export: it should be a list of conversations",
                "Choose conversations.json from the Claude export, or the export .zip.",
            )
        for n, conv in enumerate(iter_array_items(stream, ctx), 1):
            if not isinstance(conv, dict) or not isinstance(conv.get("chat_messages"), list):
                if n == 1:
                    raise ctx.error(
                        "is not a Claude export: its conversations have no 'chat_messages'"
                    )
                ctx.reject(f"item {n}", "not a Claude conversation (no chat_messages)")
                continue
            yield from _conversation(conv, n, ctx)


def _conversation(conv: dict[str, Any], n: int, ctx: Context) -> Iterator[ImportedMessage]:
    name = conv.get("name")
    title = clean_text(name) if isinstance(name, str) else ""
    title = title or f"Untitled conversation {conv.get('uuid') or n}"
    where = f'conversation "{title}"'
    # Claude's times carry a zone; a bare one would be UTC, as the export is written in UTC.
    utc = UTC
    last_time = iso_to_epoch(conv.get("created_at"), utc) or iso_to_epoch(
        conv.get("updated_at"), utc
    )
    for i, msg in enumerate(conv["chat_messages"], 1):
        if not isinstance(msg, dict):
            ctx.reject(f"{where} (message {i})", "message is not an object")
            continue
        sender = msg.get("sender")
        role, author = (
            SENDERS.get(sender, (None, sender)) if isinstance(sender, str) else (None, None)
        )
        t = iso_to_epoch(msg.get("created_at"), utc)
        if t is not None:
            last_time = t
        text, why = _text(msg)
        if text is None:
            ctx.skip(why)
            continue
        if t is None and last_time is None:
            ctx.reject(f"{where} (message {i})", "no time on the message or the conversation")
            continue
        time = t if t is not None else last_time
        assert time is not None
        uuid = msg.get("uuid")
        yield ImportedMessage(
            external_id=str(uuid)
            if isinstance(uuid, str | int) and str(uuid)
            else ctx.ids.make(title, time, author, text),
            time=time,
            author=author,
            text=text,
            conversation=title,
            role=role,
        )


def _text(msg: dict[str, Any]) -> tuple[str | None, str]:
    content = msg.get("content")
    if isinstance(content, list) and content:
        texts: list[str] = []
        other = ""
        for block in content:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif kind == "thinking":
                other = other or "model reasoning"
            elif kind in ("tool_use", "tool_result"):
                other = other or "tool use"
            else:
                other = other or "non-text content"
        text = clean_text("\n\n".join(t for t in texts if t.strip()))
        if text:
            return text, ""
        fallback = msg.get("text")
        if isinstance(fallback, str) and clean_text(fallback):
            return clean_text(fallback), ""
        return None, other or "empty message"
    fallback = msg.get("text")
    if isinstance(fallback, str) and clean_text(fallback):
        return clean_text(fallback), ""
    if msg.get("attachments") or msg.get("files"):
        return None, "attachment without text"
    return None, "empty message"


FORMAT = Format(
    name=NAME,
    description="Claude export (conversations.json or the export .zip)",
    read=read,
    looks_like=looks_like,
    zip_member=zip_member,
)
