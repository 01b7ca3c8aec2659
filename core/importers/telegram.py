"""Telegram Desktop export (`result.json`): one chat, or a full export with `chats.list`.
Streams message by message; text may be a string or an array of strings and entities."""

from __future__ import annotations

import posixpath
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import ijson

from core.importers.base import Context, Format, Head, Source, clean_text, iso_to_epoch, valid_epoch
from core.importers.jsonstream import PeekStream, build_value, json_error, outline
from core.types import ImportedMessage

NAME = "telegram"
CHAT_TYPES = {
    "personal_chat",
    "private_group",
    "private_supergroup",
    "public_supergroup",
    "private_channel",
    "public_channel",
    "bot_chat",
    "saved_messages",
}
EXPORT_KEYS = {"messages", "chats", "left_chats", "personal_information", "frequent_contacts"}
# Chats inside a full export; "" is a single-chat export whose top object is the chat.
CHAT_PREFIXES = ("", "chats.list.item", "left_chats.list.item")
MEDIA_KEYS = (
    "photo",
    "file",
    "media_type",
    "sticker_emoji",
    "location_information",
    "contact_information",
)
REPLY_CACHE = 2000
SNIPPET = 80


def looks_like(head: Head) -> bool:
    top, keys, scalars = outline(head)
    if top != "dict":
        return False
    return bool(keys & EXPORT_KEYS) or scalars.get("type") in CHAT_TYPES


def zip_member(zf: zipfile.ZipFile) -> str | None:
    for name in zf.namelist():
        if posixpath.basename(name) == "result.json":
            return name
    return None


def _key(chat_prefix: str, key: str) -> str:
    return f"{chat_prefix}.{key}" if chat_prefix else key


_NAME_KEYS = {_key(p, "name"): p for p in CHAT_PREFIXES}
_TYPE_KEYS = {_key(p, "type"): p for p in CHAT_PREFIXES}
_ID_KEYS = {_key(p, "id"): p for p in CHAT_PREFIXES}
_MSG_PREFIXES = {_key(p, "messages.item"): p for p in CHAT_PREFIXES}


class _Chat:
    def __init__(self, n: int) -> None:
        self.n = n
        self.name: str | None = None
        self.type: str | None = None
        self.id: str | None = None
        self.count = 0
        self.recent: OrderedDict[Any, tuple[str | None, str]] = OrderedDict()

    @property
    def title(self) -> str:
        if self.name:
            return self.name
        if self.type == "saved_messages":
            return "Saved Messages"
        return f"Telegram chat {self.id or self.n}"


def read(source: Source, ctx: Context) -> Iterator[ImportedMessage]:
    with source.open() as raw:
        stream = PeekStream(raw, ctx)
        if stream.first != b"{":
            raise ctx.error(
                "is not a Telegram export: it should be a JSON object (result.json)",
                "Choose result.json from Telegram Desktop's 'Export chat history' (JSON).",
            )
        seen_chat_data = False
        chats = 0
        chat = _Chat(0)
        events = iter(ijson.parse(stream, use_float=True))
        try:
            for prefix, event, value in events:
                if event == "start_map" and prefix in ("chats.list.item", "left_chats.list.item"):
                    chats += 1
                    chat = _Chat(chats)
                elif prefix == "" and event == "map_key" and value in EXPORT_KEYS:
                    seen_chat_data = True
                elif prefix in _NAME_KEYS and event == "string":
                    chat.name = clean_text(value) or None
                elif prefix in _TYPE_KEYS and event == "string":
                    chat.type = value
                elif prefix in _ID_KEYS and event in ("number", "string"):
                    chat.id = _id_text(value)
                elif prefix in _MSG_PREFIXES and event not in ("end_array", "map_key"):
                    chat.count += 1
                    msg = build_value(events, event, value)
                    out = _message(msg, chat, ctx)
                    if out is not None:
                        yield out
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            raise json_error(ctx, exc, stream) from exc
        if not seen_chat_data:
            raise ctx.error("is not a Telegram export: it has no messages or chats")


def _message(msg: object, chat: _Chat, ctx: Context) -> ImportedMessage | None:
    where = f'chat "{chat.title}" (item {chat.count})'
    if not isinstance(msg, dict):
        ctx.reject(where, "not a message object")
        return None
    if msg.get("type") == "service":
        ctx.skip("service message")
        return None
    mid = msg.get("id")
    author = msg.get("from") if isinstance(msg.get("from"), str) else None
    if author is None and isinstance(msg.get("from_id"), str):
        author = msg["from_id"]
    text = _text(msg.get("text"))
    if not text:
        text = _text(msg.get("text_entities"))
    poll = msg.get("poll")
    if isinstance(poll, dict) and isinstance(poll.get("question"), str):
        answers = [a.get("text") for a in poll.get("answers") or [] if isinstance(a, dict)]
        text = "\n".join([text, poll["question"], *[a for a in answers if isinstance(a, str)]])
    text = clean_text(text)
    if not text:
        media = any(k in msg for k in MEDIA_KEYS)
        ctx.skip("media without text" if media else "empty message")
        return None
    time = valid_epoch(msg.get("date_unixtime"))
    if time is None:
        time = iso_to_epoch(msg.get("date"), ctx.options.tz)
    if time is None:
        ctx.reject(where, "no valid date")
        return None
    # Remember a snippet of recent messages so replies can say what they answer.
    if mid is not None and isinstance(mid, int | str | float):
        chat.recent[mid] = (author, text[:SNIPPET])
        if len(chat.recent) > REPLY_CACHE:
            chat.recent.popitem(last=False)
    body = text
    reply_to = msg.get("reply_to_message_id")
    if reply_to is not None and isinstance(reply_to, int | str | float):
        replied = chat.recent.get(reply_to)
        if replied is not None:
            who = f"{replied[0]}: " if replied[0] else ""
            body = f"(in reply to {who}“{replied[1]}”)\n{body}"
        else:
            body = f"(in reply to message {reply_to})\n{body}"
    forwarded = msg.get("forwarded_from")
    if isinstance(forwarded, str) and forwarded:
        body = f"(forwarded from {forwarded})\n{body}"
    chat_key = chat.id or chat.title
    ext = (
        f"{chat_key}:{_id_text(mid)}"
        if isinstance(mid, int | str | float) and not isinstance(mid, bool)
        else ctx.ids.make(chat.title, time, author, text)
    )
    return ImportedMessage(
        external_id=ext,
        time=time,
        author=author,
        text=body,
        conversation=chat.title,
        role=None,
    )


def _id_text(value: int | str | float) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return ""


FORMAT = Format(
    name=NAME,
    description="Telegram Desktop export (result.json, one chat or the full export)",
    read=read,
    looks_like=looks_like,
    zip_member=zip_member,
)
