"""locomo-dev as Mnemo memories: each conversation imported through the `import --format jsonl`
code path (Services -> ImportService, the trust review included) into its own encrypted store,
and its questions with the gold evidence turns mapped to memory ids.

    with LocomoStores() as convs:
        for conv in convs:                        # one unlocked store per conversation
            conv.services.require_memory().search(q.question, None, 10)

The data is read from env MNEMO_LOCOMO, default `<repo>/../shared/data/locomo-dev/locomo-dev.json`
(never copied into the repository). The stores are cached between runs under
`$MNEMO_BENCH_CACHE` (default `~/.cache/mnemo-bench`), keyed by a hash of the data file and of
the code that decides what a store holds (importers, ingest, migrations, memory service,
indexes); a change to either builds them again.

How a conversation becomes memories: one JSONL line per turn, `id` = the turn's `dia_id`
("D3:7"), `time` = its session's date-time (read as UTC) plus one minute per turn (keeps the
order), `speaker` = the turn's speaker, `conversation` = the sample id; a shared photo's caption
is appended to the text ("[shares a photo: a dog on a beach]")."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from bench.common import PASSPHRASE, ROOT
from core.importers.jsonl import own_id
from core.keys import TEST_KDF

if TYPE_CHECKING:
    from app.services import Services
    from core.interfaces import Embedder

# Bump when the way a conversation is turned into JSONL changes.
FORMAT_VERSION = 1
# Code whose change alters what an import writes (rows, text, vectors): a glob each, relative
# to the repo. What is derived from the rows (schema migrations, retrieval units, the vector
# index snapshot) is brought up to date by unlocking the store, as a user's upgraded store is.
STORE_CODE = (
    "core/ingest.py",
    "core/importers/*.py",
    "core/memories.py",
    "app/import_service.py",
    "models/embedder.py",
)
# The locomo-dev conversations held out from development: benches that fit or tune report them
# apart (the rest is the development split).
HELD_OUT = ("conv-42", "conv-43")
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
_DIA = re.compile(r"D\d+:\d+")
_SESSION = re.compile(r"session_(\d+)\Z")


def data_path() -> Path:
    env = os.environ.get("MNEMO_LOCOMO")
    return Path(env) if env else ROOT.parent / "shared" / "data" / "locomo-dev" / "locomo-dev.json"


def cache_root() -> Path:
    env = os.environ.get("MNEMO_BENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "mnemo-bench"


def load(path: Path | None = None) -> list[dict[str, Any]]:
    p = path or data_path()
    if not p.is_file():
        raise SystemExit(
            f"locomo-dev data not found at {p}; set MNEMO_LOCOMO to the locomo-dev.json file."
        )
    data = json.loads(p.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise SystemExit(f"{p} is not a list of conversations.")
    return data


def session_time(text: str) -> datetime:
    """ "1:56 pm on 8 May, 2023" -> that instant, read as UTC."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def turn_text(turn: dict[str, Any]) -> str:
    text = str(turn.get("text") or "").strip()
    caption = str(turn.get("blip_caption") or "").strip()
    if caption:
        text = f"{text} [shares a photo: {caption}]".strip()
    return text


def jsonl_lines(sample: dict[str, Any]) -> list[dict[str, Any]]:
    """The conversation as import lines, in order."""
    conv = sample["conversation"]
    sessions = sorted(
        (int(m.group(1)), key) for key in conv if (m := _SESSION.match(key)) and conv[key]
    )
    out: list[dict[str, Any]] = []
    for number, key in sessions:
        start = session_time(conv[f"session_{number}_date_time"])
        for n, turn in enumerate(conv[key]):
            text = turn_text(turn)
            if not text:
                continue
            t = start + timedelta(minutes=n)
            out.append(
                {
                    "id": turn["dia_id"],
                    "time": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "speaker": turn["speaker"],
                    "text": text,
                    "conversation": sample["sample_id"],
                }
            )
    return out


def evidence_ids(raw: Sequence[Any]) -> list[str]:
    """The dia ids a question cites; the data has a few malformed entries ("D8:6; D9:17")."""
    out: list[str] = []
    for item in raw:
        out.extend(_DIA.findall(str(item)))
    return list(dict.fromkeys(out))


@dataclass(slots=True)
class Question:
    conversation: str
    question: str
    answer: str | None
    category: int
    evidence: list[str]  # dia ids
    gold: list[int]  # memory ids of the evidence turns found in the store
    missing: list[str] = field(default_factory=list)  # evidence dia ids that are no memory


def questions_of(sample: dict[str, Any], ids_by_dia: dict[str, int]) -> list[Question]:
    out = []
    for qa in sample.get("qa", []):
        ev = evidence_ids(qa.get("evidence") or [])
        answer = qa.get("answer")
        out.append(
            Question(
                conversation=sample["sample_id"],
                question=str(qa["question"]),
                answer=None if answer is None else str(answer),
                category=int(qa["category"]),
                evidence=ev,
                gold=[ids_by_dia[d] for d in ev if d in ids_by_dia],
                missing=[d for d in ev if d not in ids_by_dia],
            )
        )
    return out


def code_hash() -> str:
    h = hashlib.sha256(f"format {FORMAT_VERSION}".encode())
    for pattern in STORE_CODE:
        for p in sorted(ROOT.glob(pattern)):
            h.update(str(p.relative_to(ROOT)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def store_key(data_file: Path) -> str:
    data = hashlib.sha256(data_file.read_bytes()).hexdigest()[:16]
    return f"{data}-{code_hash()}"


@dataclass
class Conversation:
    sample_id: str
    services: Services
    ids_by_dia: dict[str, int]
    questions: list[Question]
    built: bool  # imported in this run (False: reused from the cache)
    import_seconds: float = 0.0


def _ids_by_dia(services: Services) -> dict[str, int]:
    rows = services.store.reader().execute("SELECT id, external_id FROM memories").fetchall()
    return {own_id(str(ext)): int(mid) for mid, ext in rows if ext}


def _build(sample: dict[str, Any], folder: Path, embedder: Embedder) -> float:
    """Import the conversation into a new store at `folder` (replacing anything there)."""
    import time

    from app.services import Services

    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=folder.parent))
    services = Services(tmp / "data", embedder=embedder)
    services.create(PASSPHRASE, kdf=TEST_KDF)
    try:
        memory = services.require_memory()
        memory.wait_ready(120)
        src = tmp / f"{sample['sample_id']}.jsonl"
        src.write_text(
            "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in jsonl_lines(sample)),
            encoding="utf-8",
        )
        assert services.imports is not None
        t0 = time.perf_counter()
        result = services.imports.import_paths([src], fmt="jsonl", tz="UTC")
        took = time.perf_counter() - t0
        if result.failed:
            raise RuntimeError(f"importing {sample['sample_id']} failed: {result.failed[0].error}")
        src.unlink()
    finally:
        services.close()
    (tmp / "done").write_text(json.dumps({"import_seconds": took}))
    tmp.rename(folder)
    return took


class LocomoStores:
    """Context manager: the conversations' stores, each unlocked (built when not cached)."""

    def __init__(
        self,
        samples: Sequence[str] | None = None,
        *,
        embedder: Embedder | None = None,
        path: Path | None = None,
        rebuild: bool = False,
    ) -> None:
        self.path = path or data_path()
        self.samples = list(samples) if samples else None
        self.embedder = embedder
        self.rebuild = rebuild
        self.conversations: list[Conversation] = []

    def __enter__(self) -> list[Conversation]:
        from app.services import Services

        if self.embedder is None:
            from models.embedder import MiniLMEmbedder

            self.embedder = MiniLMEmbedder()
        data = load(self.path)
        root = cache_root() / "locomo" / store_key(self.path)
        try:
            for sample in data:
                sid = str(sample["sample_id"])
                if self.samples is not None and sid not in self.samples:
                    continue
                folder = root / sid
                built, took = False, 0.0
                if self.rebuild or not (folder / "done").is_file():
                    took, built = _build(sample, folder, self.embedder), True
                services = Services(folder / "data", embedder=self.embedder)
                services.unlock(PASSPHRASE)
                services.require_memory().wait_ready(120)
                ids = _ids_by_dia(services)
                self.conversations.append(
                    Conversation(sid, services, ids, questions_of(sample, ids), built, took)
                )
        except BaseException:
            self.close()
            raise
        return self.conversations

    def close(self) -> None:
        for conv in self.conversations:
            conv.services.close()
        self.conversations = []

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def iter_questions(
    conversations: Sequence[Conversation], categories: Sequence[int] = (1, 2, 3, 4)
) -> Iterator[tuple[Conversation, Question]]:
    """Questions of the given categories that have at least one gold memory."""
    for conv in conversations:
        for q in conv.questions:
            if q.category in categories and q.gold:
                yield conv, q


def main() -> None:
    """Build (or check) the cached stores and print what they hold."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m bench.locomo")
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    with LocomoStores(rebuild=args.rebuild) as convs:
        doc = {
            "bench": "locomo",
            "data": str(data_path()),
            "conversations": [
                {
                    "sample": c.sample_id,
                    "memories": len(c.ids_by_dia),
                    "questions": len(c.questions),
                    "questions_cat1_4_with_gold": sum(
                        1 for q in c.questions if q.category <= 4 and q.gold
                    ),
                    "evidence_not_found": sum(len(q.missing) for q in c.questions),
                    "built": c.built,
                    "import_seconds": round(c.import_seconds, 1),
                }
                for c in convs
            ],
        }
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
