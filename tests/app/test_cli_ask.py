"""`ask`'s output (in process, the assistant on a fake embedder, answering by extraction): the
citations and, apart from them, the memories related to the question that do not hold the
answer, in `--json` and in the plain text."""

from __future__ import annotations

import io
import json

import pytest

from app.assistant import AssistantService
from app.cli.assistant import answer_json, write_answer
from app.services import Services
from core.clock import utc_iso
from core.lanes import Cancel
from core.types import NOTE, NewMemory
from tests.app.fake_llm import FakeHost

DAY = 86400.0


@pytest.fixture
def extractive(services: Services) -> AssistantService:
    services.llm_host = FakeHost(lambda _m: "")
    assert services.assistant is not None
    services.assistant.phrase_with_model = False
    return services.assistant


def add(services: Services, text: str, days_ago: float, **kw: object) -> int:
    now = services.clock.now()
    m = NewMemory(kind=NOTE, text=text, time=now - days_ago * DAY, **kw)  # type: ignore[arg-type]
    (mid,) = services.require_memory().add([m])
    return mid


@pytest.fixture
def painting(services: Services) -> dict[str, int]:
    return {
        "painted": add(services, "I painted a sunset with a palm tree for the art show.", 2),
        "shown": add(services, "Here's the painting, it took me weeks.", 1, app="Signal"),
        "camping": add(services, "We went camping by the lake.", 3),
    }


def test_json_lists_related_memories_beside_the_citations(
    services: Services, extractive: AssistantService, painting: dict[str, int]
) -> None:
    ans = extractive.ask("What did I paint for the art show?", None, lambda _t: None, Cancel())
    doc = json.loads(json.dumps(answer_json(ans)))  # what --json prints
    assert [c["id"] for c in doc["citations"]] == [painting["painted"]]
    assert doc["related"] == [
        {
            "id": painting["shown"],
            "snippet": "Here's the painting, it took me weeks.",
            "time": utc_iso(services.clock.now() - DAY),
            "source": NOTE,
            "app": "Signal",
            "title": None,
            "external_id": None,
        }
    ]
    # A citation's fields but its [n]: a related memory is not a source of the answer.
    assert set(doc["citations"][0]) - set(doc["related"][0]) == {"n"}


def test_plain_output_has_a_related_block_after_the_sources(
    extractive: AssistantService, painting: dict[str, int]
) -> None:
    streamed: list[str] = []
    ans = extractive.ask("What did I paint for the art show?", None, streamed.append, Cancel())
    out = io.StringIO()
    write_answer(out, ans, "".join(streamed))
    text = out.getvalue()
    sources, related = text.split("\nRelated (not cited):\n")
    assert f"(memory {painting['painted']})" in sources.split("\nSources:\n")[1]
    assert f"(memory {painting['shown']})" in related
    assert "Here's the painting, it took me weeks." in related
    assert f"(memory {painting['shown']})" not in sources  # never listed as a source
    assert "[" not in related.split("\nConversation")[0]  # no [n] marker


def test_no_related_block_when_nothing_is_related(
    services: Services, extractive: AssistantService
) -> None:
    add(services, "The train to Lyon leaves at 7:42 from platform 3.", 1)
    streamed: list[str] = []
    ans = extractive.ask("When does the train to Lyon leave?", None, streamed.append, Cancel())
    assert ans.citations and not ans.related_memories
    out = io.StringIO()
    write_answer(out, ans, "".join(streamed))
    assert "Related" not in out.getvalue()
    assert answer_json(ans)["related"] == []
