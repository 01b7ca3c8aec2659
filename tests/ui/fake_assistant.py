"""A deterministic stand-in for the assistant service (`services.assistant`): the same methods,
signatures and result shapes, scripted answers streamed token by token, a cancel that is
honoured, injectable errors and model states, so the chat window is tested without a model."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.assistant import Answer, Citation, ConversationSummary, Related, Turn
from core.errors import UserFacingError


@dataclass
class Scripted:
    """One scripted reply: the pieces streamed, the citations, the related memories (live
    answers only: a past conversation keeps none, as the real service), whether it is 'not found'.
    `error` is raised (after the pieces) instead of answering. `endless` keeps streaming
    `pieces` again and again until cancelled (for Stop)."""

    pieces: list[str]
    citations: list[Citation] = field(default_factory=list)
    related: list[Related] = field(default_factory=list)
    not_found: bool = False
    error: BaseException | None = None
    endless: bool = False


class FakeAssistant:
    """Replies are taken from `script` in order (the last one repeats). `token_delay` seconds
    between pieces; when `step` is set each piece waits for one `step.release()` (tests drive
    the stream piece by piece). Every call lands in `calls`; `cancel_seen` records whether an
    ask noticed its cancel event."""

    def __init__(
        self,
        script: list[Scripted] | None = None,
        conversations: dict[int, tuple[str, list[Turn]]] | None = None,
        token_delay: float = 0.0,
        step: threading.Semaphore | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.script = list(script or [Scripted(["Nothing scripted."])])
        self.convs: dict[int, tuple[str, list[Turn]]] = dict(conversations or {})
        self.updated: dict[int, float] = {cid: now() - 3600 * cid for cid in self.convs}
        self.token_delay = token_delay
        self.step = step
        self.now = now
        self.state: tuple[str, str] = ("ready", "")
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        self.cancel_seen = False
        self.preloaded = 0
        self._ids = itertools.count(max(self.convs, default=0) + 1)
        self._answers = itertools.count(9000)
        self._lock = threading.Lock()

    def _record(self, name: str, *args: object) -> None:
        with self._lock:
            self.calls.append((name, args))

    def asked(self) -> list[tuple[str, int | None]]:
        return [(str(a[0]), a[1]) for n, a in self.calls if n == "ask"]  # type: ignore[misc]

    # -- the AssistantService interface --------------------------------------------------------
    def on_lock(self) -> None:
        """Services calls this when the store locks (the real one stops running answers)."""
        self._record("on_lock")

    def ask(
        self,
        question: str,
        conversation_id: int | None,
        on_token: Callable[[str], None],
        cancel: threading.Event,
    ) -> Answer:
        self._record("ask", question, conversation_id)
        with self._lock:
            n = sum(1 for name, _ in self.calls if name == "ask")
        reply = self.script[min(n, len(self.script)) - 1]
        t0 = time.perf_counter()
        first: float | None = None
        sent: list[str] = []
        pieces = itertools.cycle(reply.pieces) if reply.endless else iter(reply.pieces)
        cancelled = False
        for piece in pieces:
            if cancel.is_set():
                cancelled = True
                break
            if self.step is not None:
                while not self.step.acquire(timeout=0.05):
                    if cancel.is_set():
                        break
                if cancel.is_set():
                    cancelled = True
                    break
            elif self.token_delay:
                cancel.wait(self.token_delay)
                if cancel.is_set():
                    cancelled = True
                    break
            if first is None:
                first = time.perf_counter()
            sent.append(piece)
            on_token(piece)
        if cancelled:
            self.cancel_seen = True
        if reply.error is not None and not cancelled:
            raise reply.error
        cid = conversation_id if conversation_id is not None else next(self._ids)
        text = "".join(sent)
        with self._lock:
            title, turns = self.convs.get(cid, (question[:40], []))
            turns = [
                *turns,
                Turn("user", question, self.now(), []),
                Turn("assistant", text, self.now(), [] if cancelled else list(reply.citations)),
            ]
            self.convs[cid] = (title, turns)
            self.updated[cid] = self.now()
        total = (time.perf_counter() - t0) * 1000
        return Answer(
            conversation_id=cid,
            text=text,
            citations=[] if cancelled else list(reply.citations),
            not_found=reply.not_found and not cancelled,
            timings={
                "retrieval_ms": 12.0,
                "first_token_ms": ((first or time.perf_counter()) - t0) * 1000,
                "total_ms": total,
            },
            answer_memory_id=next(self._answers),
            cancelled=cancelled,
            related=[] if cancelled else [r.memory_id for r in reply.related],
            related_memories=[] if cancelled else list(reply.related),
        )

    def conversations(self) -> list[ConversationSummary]:
        self._record("conversations")
        with self._lock:
            out = [
                ConversationSummary(cid, title, self.updated[cid], len(turns))
                for cid, (title, turns) in self.convs.items()
            ]
        return sorted(out, key=lambda s: -s.updated_at)

    def conversation(self, conversation_id: int) -> list[Turn]:
        self._record("conversation", conversation_id)
        with self._lock:
            if conversation_id not in self.convs:
                raise UserFacingError("This conversation is no longer there.")
            return list(self.convs[conversation_id][1])

    def delete_conversation(self, conversation_id: int) -> None:
        self._record("delete_conversation", conversation_id)
        with self._lock:
            self.convs.pop(conversation_id, None)

    def model_status(self) -> tuple[str, str]:
        self._record("model_status")
        return self.state

    def preload(self) -> None:
        self._record("preload")
        self.preloaded += 1


def citation(
    n: int,
    memory_id: int,
    snippet: str,
    t: float,
    source: str = "screen",
    app: str | None = "firefox",
    title: str | None = None,
) -> Citation:
    return Citation(n, memory_id, snippet, t, source, app, title)


def related(
    memory_id: int,
    snippet: str,
    t: float,
    source: str = "screen",
    app: str | None = "firefox",
    title: str | None = None,
) -> Related:
    return Related(memory_id, snippet, t, source, app, title)
