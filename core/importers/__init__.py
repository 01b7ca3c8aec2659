"""Chat and note importers: parse an export file into a stream of ImportedMessage objects.

    parsed = parse("conversations.json")          # or fmt="chatgpt", tz="Europe/Paris", …
    for msg in parsed.messages:                   # streaming, bounded memory
        store(parsed.as_new_memory(msg))
    parsed.rejected, parsed.skipped, parsed.report()

Storing, per-file transactions and dedup by external_id are the caller's job."""

from core.importers.api import ParsedFile, iter_messages, parse
from core.importers.base import ImportFileError, Rejected
from core.importers.detect import FORMATS, detect

__all__ = [
    "FORMATS",
    "ImportFileError",
    "ParsedFile",
    "Rejected",
    "detect",
    "iter_messages",
    "parse",
]
