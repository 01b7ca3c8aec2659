"""The 40-line group chat of issue 19 (10 injections) through the real JSONL import, trust
inspector and answer retrieval (fake embedder, no model), at two grains in one run: the chat as
exported (a source per participant) and the same chat with its speakers removed (one source for
the whole conversation, which is what every chat got before participants were scored apart).
Prints one JSON document. Run: .venv/bin/python -m bench.trust_conversation"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.services import Services  # noqa: E402
from core import trust as tr  # noqa: E402
from core.clock import FixedClock  # noqa: E402
from core.keys import TEST_KDF  # noqa: E402
from tests.fakes import FakeEmbedder  # noqa: E402
from tests.fixtures.poison.conversation import (  # noqa: E402
    FLIGHT,
    FLIGHT_QUESTION,
    LINES,
    write_jsonl,
)

PASSPHRASE = "bench passphrase, not a secret"
START = 1_780_000_000.0


def run(folder: Path, with_speakers: bool) -> dict[str, Any]:
    path = write_jsonl(folder / "lisbon.jsonl")
    if not with_speakers:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        path.write_text(
            "".join(
                json.dumps({k: v for k, v in r.items() if k != "speaker"}, ensure_ascii=False)
                + "\n"
                for r in rows
            ),
            encoding="utf-8",
        )
    services = Services(folder / "data", clock=FixedClock(START), embedder=FakeEmbedder())
    services.create(PASSPHRASE, kdf=TEST_KDF)
    try:
        assert services.imports is not None and services.assistant is not None
        t0, c0 = time.perf_counter(), time.process_time()
        services.imports.import_paths([path], "jsonl")
        import_s = (time.perf_counter() - t0, time.process_time() - c0)
        rows = services.store.reader().execute("SELECT text, status, trust FROM memories")
        stored = {text: (status, float(trust)) for text, status, trust in rows}
        poisoned = [t for _, t, p in LINES if p]
        honest = [t for _, t, p in LINES if not p]
        usable = [t for t in honest if stored[t][0] == "ok" and tr.usable_in_answers(stored[t][1])]
        evidence = services.assistant.evidence(FLIGHT_QUESTION)
        texts = [e.text for e in evidence]
        return {
            "poisoned_quarantined": sum(stored[t][0] == "quarantined" for t in poisoned),
            "poisoned": len(poisoned),
            "honest_quarantined": sum(stored[t][0] == "quarantined" for t in honest),
            "honest": len(honest),
            "honest_usable_in_answers": len(usable),
            "honest_usable_by_speaker": {
                who: sum(1 for s, t, p in LINES if s == who and not p and t in usable)
                for who in ("Me", "Ana", "Rui")
            },
            "source_trust": {
                s.label: round(s.trust, 4)
                for s in (services.trust.sources() if services.trust else [])
            },
            "flight_line_in_evidence": FLIGHT in texts,
            "evidence_count": len(texts),
            "import_wall_s": round(import_s[0], 3),
            "import_cpu_s": round(import_s[1], 3),
        }
    finally:
        services.close()


def main() -> None:
    out: dict[str, Any] = {"bench": "trust_conversation", "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        for name, speakers in (("per_participant", True), ("one_source_per_chat", False)):
            folder = Path(tmp) / name
            folder.mkdir()
            out[name] = run(folder, speakers)
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
