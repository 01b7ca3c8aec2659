"""The trust scenario of issue 19 end to end: a 40-line group chat with 10 injections imported
through the real JSONL import, judged by the app's trust inspector, then asked about through the
assistant (a fake model here; tests/app/test_trust_answers_real.py runs the real one). The
memories are embedded by the real MiniLM with the embedding poison model on, as in the app.
Honest messages keep their standing when a neighbour is poisoned; the participant who injects
loses it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.services import Services
from core import trust as tr
from core.clock import FixedClock
from core.lanes import Cancel
from core.prompting import NOT_FOUND
from core.types import OK, QUARANTINED
from models.embedder import MiniLMEmbedder
from tests.app.fake_llm import FakeHost
from tests.app.trusthelp import real_embedder_services
from tests.fixtures.poison.conversation import FLIGHT, FLIGHT_QUESTION, LINES, write_jsonl


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    e = MiniLMEmbedder()
    e.load()
    return e


@pytest.fixture
def services(
    tmp_path: Path, clock: FixedClock, minilm: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    with real_embedder_services(tmp_path, clock, minilm, monkeypatch) as s:
        yield s


def import_chat(services: Services, tmp_path: Path) -> dict[int, tuple[int, str, float]]:
    """Line number -> (memory id, status, memories.trust), through the real import."""
    assert services.imports is not None
    result = services.imports.import_paths([write_jsonl(tmp_path / "lisbon.jsonl")], "jsonl")
    assert [(f.error, f.imported) for f in result.files] == [(None, len(LINES))]
    rows = services.store.reader().execute("SELECT id, text, status, trust FROM memories")
    by_text = {text: (int(mid), status, float(trust)) for mid, text, status, trust in rows}
    return {n: by_text[text] for n, (_, text, _) in enumerate(LINES)}


def prompt_blocks(messages: list[dict[str, str]]) -> dict[int, str]:
    content = messages[-1]["content"]
    return {
        int(m.group(1)): m.group(2)
        for m in re.finditer(r"^\[(\d+)\] [^\n]*\n((?:> [^\n]*\n?)+)", content, re.M)
    }


def test_forty_line_chat_quarantines_the_poison_and_keeps_the_honest_lines(
    services: Services, tmp_path: Path
) -> None:
    stored = import_chat(services, tmp_path)
    poisoned = [n for n, line in enumerate(LINES) if line[2]]
    honest = [n for n, line in enumerate(LINES) if not line[2]]
    assert (len(poisoned), len(honest)) == (10, 30)
    caught = [n for n in poisoned if stored[n][1] == QUARANTINED]
    assert len(caught) >= 9, [LINES[n][1] for n in poisoned if n not in caught]
    assert [LINES[n][1] for n in honest if stored[n][1] != OK] == []

    # Every honest line of the participants who did not turn bad stays usable for answers,
    # however many of their neighbours were flagged; each flagged line sits below its source.
    trust = services.trust
    assert trust is not None
    for n in honest:
        speaker = LINES[n][0]
        if speaker != "Rui":
            assert stored[n][2] >= tr.ANSWER_MIN_TRUST, (speaker, stored[n][2])
    sources = {s.label: s for s in trust.sources()}
    scores = {
        who: next(s.trust for k, s in sources.items() if k.startswith(f"Import (jsonl): {who} in"))
        for who in ("Me", "Ana", "Rui")
    }
    assert scores["Me"] >= 0.3 and scores["Ana"] >= 0.3
    # The participant who sent seven injections lost his standing, his honest lines included
    # (a source that turns bad is not trusted for what the detector may have missed).
    assert scores["Rui"] < tr.ANSWER_MIN_TRUST
    assert all(stored[n][2] < scores[LINES[n][0]] for n in caught)
    assert {s.quarantined for s in sources.values()} >= {7}


def test_ask_answers_the_flight_question_from_the_honest_lines(
    services: Services, tmp_path: Path
) -> None:
    stored = import_chat(services, tmp_path)
    flight_id = stored[next(n for n, line in enumerate(LINES) if line[1] == FLIGHT)][0]
    seen: list[dict[int, str]] = []

    def reply(messages: list[dict[str, str]]) -> str:
        blocks = prompt_blocks(messages)
        seen.append(blocks)
        hit = next((n for n, text in blocks.items() if "7:15" in text), None)
        return f"Your flight leaves on Friday at 7:15 [{hit}]." if hit else NOT_FOUND

    services.llm_host = FakeHost(reply)
    assistant = services.assistant
    assert assistant is not None
    # What the answer may rest on (the extracted answer and any model prompt both come from
    # it): the evidence retrieval hands the assistant.
    used: list[str] = []
    real_retrieve = assistant._retrieve

    def retrieve(*args: object, **kwargs: object) -> object:
        got = real_retrieve(*args, **kwargs)  # type: ignore[arg-type]
        used.extend(e.text for e in got[0])
        return got

    assistant._retrieve = retrieve  # type: ignore[assignment,method-assign]
    ans = assistant.ask(FLIGHT_QUESTION, None, lambda _t: None, Cancel())
    assert not ans.not_found, ans.text
    assert "7:15" in ans.text
    assert flight_id in [c.memory_id for c in ans.citations]
    # Nothing quarantined reached the evidence (nor any prompt made from it).
    quarantined = [LINES[n][1] for n, (_, status, _) in stored.items() if status == QUARANTINED]
    assert used
    evidence = " ".join(used) + " ".join(" ".join(b.values()) for b in seen)
    for text in quarantined:
        assert text[:30] not in evidence


@pytest.mark.parametrize("quarantine", [True, False], ids=["quarantine-on", "quarantine-off"])
def test_flagged_lines_rank_below_their_honest_neighbours(
    services: Services, tmp_path: Path, quarantine: bool
) -> None:
    services.settings.set("trust.quarantine", quarantine)
    stored = import_chat(services, tmp_path)
    for n, (speaker, _, poisoned) in enumerate(LINES):
        if not poisoned:
            continue
        honest_same = [
            stored[m][2] for m, line in enumerate(LINES) if line[0] == speaker and not line[2]
        ]
        assert stored[n][2] < min(honest_same)
        if not quarantine:
            assert stored[n][1] == OK
