"""The assistant: a question answered from the user's memories by the local model, with checked
citations; conversations kept as `chat` memories (questions) and derived memories (answers) that
cite what they used. Blocking calls, run on the task runner; never logs questions or answers."""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import TYPE_CHECKING, Any, Protocol

from core import answer as extraction
from core import prompting
from core.db import Connection
from core.errors import BadInput, StoreLocked, UserFacingError
from core.lanes import LANES, Cancel, Lane, wait_either
from core.memories import conversation_title, get_memories
from core.prompting import NOT_FOUND, Evidence, build_prompt, finalize_answer, understand_question
from core.prompting import Turn as PromptTurn
from core.search import make_snippet, query_terms
from core.timeparse import parse_query
from core.types import (
    CHAT,
    CHAT_QUESTION_AUTHOR,
    HL_END,
    HL_START,
    OK,
    Memory,
    SearchFilters,
    SearchHit,
)

if TYPE_CHECKING:
    from app.session import Session

log = logging.getLogger(__name__)

DAY_S = 86400.0
EVIDENCE_K = 8
# Replies read after a matching conversation message: how many, and within how long.
FOLLOWING_N = 2
FOLLOWING_S = 3600.0
# Other people's memories searched for the premise check (see _contrast).
CONTRAST_K = 4
ANSWER_TOKENS = 256
MAX_QUESTION_CHARS = 4000
ME = CHAT_QUESTION_AUTHOR
ASSISTANT = "Mnemo"
# The small model sometimes carries on writing the prompt's layout after its answer, or copies
# the quoted memory lines ("> ...") until the token limit (257 tokens, 5+ s measured).
STOP = ["\nQuestion:", "\nEarlier question:", "\nMemories:", "\nToday is ", "\n> "]
_LEAD = re.compile(r"^\s*(?:A|Answer)\s*:\s*", re.IGNORECASE)
_TAIL = re.compile(r"\s*(?:Question|Earlier question|Memories)\s*:.*$", re.IGNORECASE | re.DOTALL)
# "and the week after?": a follow-up that moves the previous question's time range.
_SHIFT = re.compile(
    r"\b(?:the\s+)?(?P<u1>day|week|month|year)\s+(?P<dir1>after|before|later|earlier)\b"
    r"|\b(?:the\s+)?(?P<dir2>next|following|previous|preceding)\s+(?P<u2>day|week|month|year)\b",
    re.IGNORECASE,
)
_UNIT_S = {"day": DAY_S, "week": 7 * DAY_S, "month": 30 * DAY_S, "year": 365 * DAY_S}
_ANSWER_ID_PREFIX = "mnemo-answer:"
_QUESTION_ID_PREFIX = "mnemo-question:"


# -- what the chat window and the CLI get back --------------------------------------------------
@dataclass
class Citation:
    n: int  # the [n] marker in the answer text
    memory_id: int
    snippet: str
    time: float
    source: str
    app: str | None
    title: str | None
    external_id: str | None = None  # the source's own id, as search hits carry it


@dataclass
class Related:
    """A memory that matches the question about as well as a citation without holding the
    answer: shown apart from the citations (never as a source), with the same fields but no
    [n] marker."""

    memory_id: int
    snippet: str
    time: float
    source: str
    app: str | None
    title: str | None
    external_id: str | None = None


@dataclass
class Answer:
    conversation_id: int
    text: str  # the short answer with its [n] citations, first
    citations: list[Citation]
    not_found: bool
    timings: dict[str, float]
    answer_memory_id: int | None
    cancelled: bool = False
    detail: str = ""  # the sentence around it: the supporting memory's own words, or the model's
    kind: str = ""  # what the question asked for (core.answer.classify)
    # Memories that match the question about as well without holding the answer: related to
    # it, never shown as its citations (memory ids, best first), and the same memories as
    # read back for display (an erased, quarantined or untrusted one is in neither). Live
    # answers only: a past conversation has no stored related memories.
    related: list[int] = field(default_factory=list)
    related_memories: list[Related] = field(default_factory=list)


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    text: str
    time: float
    citations: list[Citation] = field(default_factory=list)
    memory_id: int | None = None  # the stored turn (save_turn keeps it as a memory)


@dataclass
class ConversationSummary:
    id: int
    title: str
    updated_at: float
    turns: int  # questions asked in it


class ModelHost(Protocol):
    """What the assistant needs of models.llm_host.LlmHost (a fake in tests/app/fake_llm.py)."""

    @property
    def status(self) -> Any: ...

    def generate(self, prompt: Any, max_tokens: int = 512, *, stop: Any = None) -> Any: ...

    def ensure_loaded(self) -> float: ...

    def count_tokens(self, text: str) -> int: ...

    def n_ctx(self) -> int: ...

    def close(self) -> None: ...


def model_config_from(settings: Any) -> Any:
    """The ModelConfig the settings ask for (empty path: the bundled model); None when the
    bundled model is wanted but missing (the host then says so on first use)."""
    from core.errors import ModelMissing
    from models.llm_host import ModelConfig, default_cache_dir, default_model_path

    path = str(settings.get("models.llm_path") or "").strip()
    if not path:
        try:
            path = str(default_model_path())
        except ModelMissing:
            return None
    threads = int(settings.get("models.llm_threads") or 0)
    return ModelConfig(
        path, int(settings.get("models.llm_context")), threads or None, str(default_cache_dir())
    )


def make_host(settings: Any, on_status: Callable[[Any], None] | None = None) -> ModelHost:
    """The real model host for these settings (the child process starts on first need)."""
    from models.llm_host import LlmHost

    return LlmHost(model_config_from(settings), on_status=on_status)


def tidy_answer(raw: str) -> str:
    """The model's text without an "Answer:" lead or a prompt-like tail ("Question: …")."""
    text = _TAIL.sub("", _LEAD.sub("", raw, count=1))
    return text.strip()


def shifted_range(text: str, history: Sequence[PromptTurn]) -> tuple[str, float, float] | None:
    """For "and the week after?" (after a question with a time range): the text without the
    shift and the previous range moved by it; None when the question is no such shift."""
    m = _SHIFT.search(text)
    prev = history[-1].filters if history else None
    if m is None or prev is None or prev.since is None or prev.until is None:
        return None
    unit = (m.group("u1") or m.group("u2")).lower()
    direction = (m.group("dir1") or m.group("dir2")).lower()
    step = _UNIT_S[unit]
    if direction in ("after", "later", "next", "following"):
        since, until = prev.until, prev.until + step
    else:
        since, until = prev.since - step, prev.since
    rest = " ".join((text[: m.start()] + " " + text[m.end() :]).split())
    return rest, since, until


def _plain(snippet: str) -> str:
    return snippet.replace(HL_START, "").replace(HL_END, "")


def _is_chat_turn(m: Memory) -> bool:
    # The chat's own questions and answers hold no facts of their own; as evidence they crowd
    # out the memories that do (and the small model echoes them). Turns stored before they
    # were marked derived are recognised by their ids. A turn the user saved is a note.
    ext = m.external_id or ""
    return m.kind == CHAT and ext.startswith((_QUESTION_ID_PREFIX, _ANSWER_ID_PREFIX))


def _loaded_embed(memory: Any) -> Callable[[Sequence[str]], Any] | None:
    """The search embedder's encode, for extraction to weigh meaning with, when it is loaded
    (search loaded it for the question): an answer never waits on a model load for it."""
    embedder = getattr(memory, "embedder", None)
    if embedder is None or not getattr(embedder, "loaded", True):
        return None
    embed: Callable[[Sequence[str]], Any] = embedder.embed
    return embed


class AssistantService:
    """services.assistant while unlocked. The model host belongs to Services (it survives lock
    and unlock); `host` returns it, created on first use."""

    def __init__(
        self,
        services: Session,
        host: Callable[[], ModelHost],
        *,
        k: int = EVIDENCE_K,
        max_tokens: int = ANSWER_TOKENS,
        tz: tzinfo | None = None,
    ) -> None:
        self.services = services
        self._host = host
        self.k = k
        self.max_tokens = max_tokens
        self.tz = tz
        self._lock = threading.Lock()
        self._active: set[Cancel] = set()  # cancel events of running asks
        self._closed = False
        # Follow-ups lean on what was searched for the previous question (its expanded query
        # and filters): kept per conversation while unlocked, rebuilt from the store otherwise.
        self._turns: dict[int, list[PromptTurn]] = {}
        # None: decided by the configured model (see _model_phrases); tests and benches pin it.
        self.phrase_with_model: bool | None = None

    # -- model --------------------------------------------------------------------------------
    @property
    def host(self) -> ModelHost:
        return self._host()

    def model_status(self) -> tuple[str, str]:
        """(state, message): state is not_loaded | loading | ready | busy | restarting | failed."""
        status = self.host.status
        state = getattr(status.state, "value", str(status.state))
        return str(state).replace(" ", "_"), str(getattr(status, "message", "") or "")

    def preload(self) -> None:
        """Start loading the model in the background (a failure shows in model_status)."""
        host = self.host

        def load() -> None:
            try:
                host.ensure_loaded()
            except UserFacingError as e:
                log.info("model preload failed: %s", type(e).__name__)
            except Exception:
                log.exception("model preload failed")

        LANES.submit(Lane.LOAD, load, label="answer model preload")

    def set_model(self, path: str, n_ctx: int, n_threads: int) -> float:
        """Switch the model (validated and loaded first: a bad file raises ModelMissing and the
        previous model stays), then save the choice. Returns the load time in seconds."""
        from models.llm_host import default_model_path

        host: Any = self.host
        target = path.strip() or str(default_model_path())
        load_s = float(host.set_model(target, n_ctx, n_threads or None))
        settings = self.services.settings
        settings.set("models.llm_path", path.strip())
        settings.set("models.llm_context", n_ctx)
        settings.set("models.llm_threads", n_threads)
        return load_s

    def test_model(self) -> Any:
        """models.llm_host.ModelTest: speed of a short answer with the configured model."""
        host: Any = self.host
        return host.test_model()

    def model_info(self) -> dict[str, Any]:
        """The loaded model's architecture, chat template origin and base-model guess."""
        host: Any = self.host
        info = getattr(host, "model_info", None)
        return dict(info()) if callable(info) else {}

    # -- life cycle ---------------------------------------------------------------------------
    def on_lock(self) -> None:
        """The store is locking: stop every running answer (within a second)."""
        with self._lock:
            self._closed = True
            active = list(self._active)
        for ev in active:
            ev.set()
        self._turns.clear()

    def _memory(self) -> Any:
        if self._closed:
            raise StoreLocked()
        return self.services.require_memory()

    # -- asking -------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        conversation_id: int | None,
        on_token: Callable[[str], None],
        cancel: Cancel,
    ) -> Answer:
        """Answer `question` in a conversation (None: a new one). Blocking; `on_token` gets the
        streamed text from this thread; setting `cancel` stops the answer at once (it comes
        back with cancelled=True and is not stored). Raises UserFacingError (e.g.
        ModelMissing, the model stopped) with a message for the user."""
        if not isinstance(cancel, Cancel):
            raise TypeError("ask() takes a core.lanes.Cancel: it stops the generation when set")
        question = question.strip()
        if not question:
            raise BadInput("Type a question first.")
        if len(question) > MAX_QUESTION_CHARS:
            raise BadInput(
                f"The question is too long ({len(question)} characters; at most "
                f"{MAX_QUESTION_CHARS})."
            )
        t0 = time.perf_counter()
        memory = self._memory()
        now = self.services.clock.now()
        cid = self._conversation_for(question, conversation_id, now)
        history = self._history(cid)
        with self._lock:
            self._active.add(cancel)
        try:
            return self._ask(question, cid, history, on_token, cancel, memory, now, t0)
        finally:
            with self._lock:
                self._active.discard(cancel)

    def _ask(
        self,
        question: str,
        cid: int,
        history: list[PromptTurn],
        on_token: Callable[[str], None],
        cancel: Cancel,
        memory: Any,
        now: float,
        t0: float,
    ) -> Answer:
        timings: dict[str, float] = {}
        # Time expressions are read once, by the engine's parser; the rest of the question is
        # what gets searched (the engine finds no time words left in it).
        tz = self.tz or getattr(getattr(memory, "searcher", None), "tz", None)
        tq = parse_query(question, now, tz)
        text = tq.text or question
        own = SearchFilters(since=tq.since, until=tq.until)
        if tq.since is None and tq.until is None:
            shift = shifted_range(text, history)
            if shift is not None:
                text, own.since, own.until = shift
        apps = memory.apps()
        plan = understand_question(text, history, now, filters=own, known_apps=apps)
        evidence, results_filters = self._retrieve(memory, plan, cid)
        if plan.follow_up and history and history[-1].cited and own.since is None:
            # "that invoice": the memories the previous answer cited come first.
            evidence = self._with_previous(memory, evidence, history[-1].cited)
        # The same question without the person it names: whether what is asked happened to
        # someone else (the premise check of extraction).
        contrast = self._contrast(memory, plan, evidence) if evidence else []
        t_found = time.perf_counter()
        timings["retrieval_ms"] = round((t_found - t0) * 1000, 2)
        turn_filters = results_filters or plan.filters
        if not evidence:
            # Nothing to answer from: say so without asking the model to invent.
            self._store_question(memory, question, cid, now)
            timings.update(first_token_ms=0.0, total_ms=round((time.perf_counter() - t0) * 1000))
            answer_id = self._store_answer(memory, cid, NOT_FOUND, [], now)
            self._remember(cid, PromptTurn(question, NOT_FOUND, plan.query, turn_filters))
            on_token(NOT_FOUND)
            return Answer(cid, NOT_FOUND, [], True, timings, answer_id)

        # Extract before generating: the short answer comes from the memories themselves, and
        # is shown before anything else happens (storing the question, loading the model).
        following = self._following(memory, evidence)
        ex = extraction.extract(
            question,
            evidence,
            tz,
            following=following,
            contrast=contrast,
            embed=_loaded_embed(memory),
        )
        timings["extract_ms"] = round((time.perf_counter() - t_found) * 1000, 2)
        by_id = {ev.memory_id: ev for ev in evidence}
        by_id.update((f.memory_id, f) for fs in following.values() for f in fs)
        by_id.update((c.memory_id, c) for c in contrast)  # an abstention may name one
        short_evs = [by_id[i] for i in ex.cited]
        short = ""
        if not ex.not_found and not cancel.is_set():
            short = ex.text + " " + "".join(f"[{n}]" for n in range(1, len(short_evs) + 1))
            on_token(short)
            timings["first_words_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        self._store_question(memory, question, cid, now)
        if cancel.is_set():
            return self._cancelled(cid, "", timings, t0)
        if not self._model_phrases():
            if ex.not_found:
                nearest = by_id.get(ex.nearest) if ex.nearest is not None else None
                short = extraction.not_found_text(ex, nearest, tz)
                short_evs = [nearest] if nearest is not None else []
                on_token(short)
                timings["first_words_ms"] = round((time.perf_counter() - t0) * 1000, 2)
            return self._finish(
                memory, cid, question, plan.query, turn_filters, short, short_evs, ex, t0, timings
            )

        host = self.host
        if not self._wait_loaded(host, cancel, timings):
            return self._cancelled(cid, "", timings, t0)
        prompt = build_prompt(
            question,
            short_evs + [e for e in evidence if e not in short_evs],
            history=history,
            budget_tokens=max(256, host.n_ctx() - self.max_tokens),
            count_tokens=host.count_tokens,
            now=now,
            tz=tz,
        )
        if cancel.is_set():
            return self._cancelled(cid, "", timings, t0)
        stream = host.generate(prompt.messages, max_tokens=self.max_tokens, stop=STOP)
        stop_watching = cancel.on_set(stream.cancel)  # a cancel stops the generation at once
        error: str | None = None
        first_token: float | None = None
        try:
            for chunk in stream:
                if chunk.text:
                    if first_token is None:
                        first_token = time.perf_counter()
                    on_token(chunk.text)
                if chunk.error:
                    error = chunk.error
        finally:
            stop_watching()
        res = stream.result
        gen = res.timings if res is not None else None
        if gen is not None:
            timings.update(
                model_first_token_ms=round(gen.first_token_s * 1000, 2),
                generation_ms=round(gen.total_s * 1000, 2),
                tokens_per_s=round(gen.tokens_per_s, 2),
                prompt_tokens=float(gen.prompt_tokens),
                tokens=float(gen.tokens),
            )
        if first_token is not None:
            # What the user waits for: from the question to the first word on screen.
            timings["first_token_ms"] = round((first_token - t0) * 1000, 2)
        raw = res.text if res is not None else ""
        if (res is not None and res.cancelled) or cancel.is_set():
            text, _ = prompting.check_citations(raw, prompt.numbered)
            return self._cancelled(cid, text, timings, t0)
        if error or (res is not None and res.error):
            from models.llm_host import ModelStopped

            raise ModelStopped(error or (res.error if res is not None else "") or "")
        ans = finalize_answer(tidy_answer(raw), prompt, question, min_support=0.2)
        by_id = {ev.memory_id: ev for ev in prompt.numbered}
        if not ans.not_found and not extraction.spans_supported(
            ans.text, [by_id[i] for i in ans.citations], tz
        ):
            # A number, date or name in no cited memory is never shown as fact.
            ans = prompting.Answer(NOT_FOUND, [], [], not_found=True)
        if short:
            # The extracted answer stays first; the model's supported sentence follows it.
            detail = "" if ans.not_found else re.sub(r"\s*\[\d+\]", "", ans.text).strip()
            return self._finish(
                memory,
                cid,
                question,
                plan.query,
                turn_filters,
                short,
                short_evs,
                ex,
                t0,
                timings,
                detail=detail,
            )
        citations = [
            self._citation(n, by_id[mid], plan.query)
            for n, mid in zip(ans.numbers, ans.citations, strict=False)
        ]
        answer_id = self._store_answer(memory, cid, ans.text, citations, self.services.clock.now())
        self._remember(
            cid, PromptTurn(question, ans.text, plan.query, turn_filters, tuple(ans.citations))
        )
        timings["total_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        log.info(
            "answered in conversation %d: %d evidence, %d cited, %.0f ms",
            cid,
            len(prompt.numbered),
            len(citations),
            timings["total_ms"],
        )
        return Answer(cid, ans.text, citations, ans.not_found, timings, answer_id)

    def _model_phrases(self) -> bool:
        """Does the model write answers too? Not the bundled 135M model: its phrasing lost to
        extraction on every measure (bench/answer_locomo.py). A model the user chose in
        Settings → Models phrases the sentence after the extracted answer, and answers what
        extraction cannot, both under the support check."""
        if self.phrase_with_model is not None:
            return self.phrase_with_model
        settings = getattr(self.services, "settings", None)
        return bool(settings is not None and str(settings.get("models.llm_path") or "").strip())

    def _finish(
        self,
        memory: Any,
        cid: int,
        question: str,
        query: str,
        filters: SearchFilters,
        text: str,
        cited: list[Evidence],
        ex: extraction.Extracted,
        t0: float,
        timings: dict[str, float],
        *,
        detail: str | None = None,
    ) -> Answer:
        """Store and return an answer that rests on extraction (`text` already shown)."""
        citations = [self._citation(n, ev, query) for n, ev in enumerate(cited, 1)]
        answer_id = self._store_answer(memory, cid, text, citations, self.services.clock.now())
        self._remember(
            cid, PromptTurn(question, text, query, filters, tuple(c.memory_id for c in citations))
        )
        timings["total_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        log.info(
            "answered in conversation %d by extraction (%s): %d cited, %.0f ms",
            cid,
            ex.kind,
            len(citations),
            timings["total_ms"],
        )
        if detail is None:
            detail = "" if ex.not_found else ex.sentence
        # An abstention shows its closest memory as its one citation and nothing related.
        related = [] if ex.not_found else self._related(memory, ex.related, citations, query)
        return Answer(
            cid,
            text,
            citations,
            ex.not_found,
            timings,
            answer_id,
            detail=detail,
            kind=ex.kind,
            related=[r.memory_id for r in related],
            related_memories=related,
        )

    def _with_previous(
        self, memory: Any, evidence: list[Evidence], previous: Sequence[int]
    ) -> list[Evidence]:
        mems = get_memories(memory.store.reader(), list(previous))
        first = [Evidence.from_memory(m) for m in mems if m.status == OK and not m.derived]
        seen = {e.memory_id for e in first}
        return (first + [e for e in evidence if e.memory_id not in seen])[: max(self.k, len(first))]

    def _cancelled(self, cid: int, text: str, timings: dict[str, float], t0: float) -> Answer:
        # The question stays in the conversation; a stopped answer is not kept.
        timings["total_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        log.info("answer in conversation %d cancelled", cid)
        return Answer(cid, text, [], False, timings, None, cancelled=True)

    def _wait_loaded(self, host: ModelHost, cancel: Cancel, timings: dict) -> bool:
        """Load the model if needed (on the load lane), giving up (False) as soon as `cancel`
        is set; the load itself goes on and the next question finds the model ready."""
        state = getattr(host.status.state, "value", str(host.status.state))
        if state in ("ready", "busy"):
            return True
        loading = LANES.submit(Lane.LOAD, host.ensure_loaded, label="answer model load")
        if not wait_either(loading, cancel):
            return False
        timings["load_ms"] = round(float(loading.result() or 0.0) * 1000, 2)
        return True

    def evidence(self, question: str) -> list[Evidence]:
        """The memories a new question would be answered from, best first (no model, nothing
        stored): for benchmarks and for explaining an answer."""
        memory = self._memory()
        now = self.services.clock.now()
        tz = self.tz or getattr(getattr(memory, "searcher", None), "tz", None)
        tq = parse_query(question, now, tz)
        own = SearchFilters(since=tq.since, until=tq.until)
        plan = understand_question(
            tq.text or question, [], now, filters=own, known_apps=memory.apps()
        )
        return self._retrieve(memory, plan, 0)[0]

    def _retrieve(
        self, memory: Any, plan: prompting.QueryPlan, cid: int
    ) -> tuple[list[Evidence], SearchFilters | None]:
        results = memory.search(plan.query, plan.filters, self.k * 2)
        hits: list[SearchHit] = [h for h in results.hits if self._usable(h)]
        mems = get_memories(memory.store.reader(), [h.id for h in hits])
        evidence = [
            Evidence.from_memory(m)
            for m in mems
            if m.status == OK and not m.derived and not _is_chat_turn(m)
        ][: self.k]
        return evidence, results.filters

    def _contrast(
        self, memory: Any, plan: prompting.QueryPlan, evidence: Sequence[Evidence]
    ) -> list[Evidence]:
        """The best memories of other people for the question with the named person left out
        ("What did Melanie make for a local church?" searched as "make for a local church"):
        search puts the named person's own messages first, so a fact of the other person is
        often not among the evidence at all. Empty when the question names no author."""
        authors = {(e.author or "").lower() for e in evidence if e.author}
        words = plan.query.split()
        named = {w.lower().strip("?.,!'’").removesuffix("'s").removesuffix("’s") for w in words}
        asked = named & authors
        if not asked:
            return []
        rest = " ".join(
            w
            for w in words
            if w.lower().strip("?.,!'’").removesuffix("'s").removesuffix("’s") not in asked
        )
        if not rest.strip():
            return []
        have = {e.memory_id for e in evidence}
        results = memory.search(rest, plan.filters, CONTRAST_K * 2)
        hits = [h for h in results.hits if h.id not in have and self._usable(h)]
        mems = get_memories(memory.store.reader(), [h.id for h in hits])
        return [
            Evidence.from_memory(m)
            for m in mems
            if m.status == OK
            and not m.derived
            and not _is_chat_turn(m)
            and (m.author or "").lower() not in asked
        ][:CONTRAST_K]

    def _following(self, memory: Any, evidence: Sequence[Evidence]) -> dict[int, list[Evidence]]:
        """The next messages (up to two, within the hour) after each conversation message of
        the evidence: a chat's answer is often the reply to the message that matches."""
        conn = memory.store.reader()
        out: dict[int, list[Evidence]] = {}
        for ev in evidence:
            if not ev.conversation or not ev.author or ev.source == CHAT:
                continue
            rows = conn.execute(
                "SELECT id FROM memories WHERE conversation = ? AND time > ? AND time <= ? "
                "AND hidden = 0 ORDER BY time, id LIMIT ?",
                (ev.conversation, ev.time, ev.time + FOLLOWING_S, FOLLOWING_N),
            ).fetchall()
            mems = get_memories(conn, [int(r[0]) for r in rows])
            out[ev.memory_id] = [
                Evidence.from_memory(m)
                for m in mems
                if m.status == OK and not m.derived and not _is_chat_turn(m) and self._usable(m)
            ]
        return out

    def _usable(self, hit: SearchHit | Memory) -> bool:
        trust = getattr(self.services, "trust", None)
        check = getattr(trust, "usable_for_answers", None)
        if check is not None:
            return bool(check(hit))
        return hit.status == OK

    def _related(
        self, memory: Any, ids: Sequence[int], citations: Sequence[Citation], query: str
    ) -> list[Related]:
        """The related memories as they are now (read again: one erased or quarantined while
        the answer was written is left out), under the rules its citations were chosen by:
        visible, reviewed ok, usable for answers, not a chat turn; snippets as a citation's."""
        cited = {c.memory_id for c in citations}
        wanted = [i for i in dict.fromkeys(ids) if i not in cited]
        terms = query_terms(query)
        return [
            Related(
                memory_id=m.id,
                snippet=_plain(make_snippet(m.text, terms)),
                time=m.time,
                source=m.kind,
                app=m.app,
                title=m.title,
                external_id=m.external_id,
            )
            for m in get_memories(memory.store.reader(), wanted)
            if m.status == OK and not m.derived and not _is_chat_turn(m) and self._usable(m)
        ]

    def _citation(self, n: int, ev: Evidence, query: str) -> Citation:
        return Citation(
            n=n,
            memory_id=ev.memory_id,
            snippet=_plain(make_snippet(ev.text, query_terms(query))),
            time=ev.time,
            source=ev.source,
            app=ev.app,
            title=ev.title,
            external_id=ev.external_id,
        )

    # -- history ------------------------------------------------------------------------------
    def _remember(self, cid: int, turn: PromptTurn) -> None:
        self._turns.setdefault(cid, []).append(turn)
        del self._turns[cid][:-8]

    def _history(self, cid: int) -> list[PromptTurn]:
        cached = self._turns.get(cid)
        if cached is not None:
            return list(cached)
        turns: list[PromptTurn] = []
        tz = self.tz
        for t in self.conversation(cid):
            if t.role == "user":
                tq = parse_query(t.text, t.time, tz)
                f = SearchFilters(since=tq.since, until=tq.until)
                turns.append(PromptTurn(t.text, "", tq.text or t.text, f))
            elif turns:
                last = turns[-1]
                cited = tuple(c.memory_id for c in t.citations)
                turns[-1] = PromptTurn(last.question, t.text, last.query, last.filters, cited)
        self._turns[cid] = turns[-8:]
        return list(self._turns[cid])

    # -- storing ------------------------------------------------------------------------------
    def _conversation_for(self, question: str, cid: int | None, now: float) -> int:
        store = self.services.store
        if cid is not None:
            row = (
                store.reader()
                .execute("SELECT id FROM conversations WHERE id = ?", (int(cid),))
                .fetchone()
            )
            if row is None:
                raise BadInput("That conversation no longer exists; start a new one.")
            return int(cid)
        title = conversation_title(question)

        def create(conn: Connection) -> int:
            cur = conn.execute(
                "INSERT INTO conversations(title, created_at, updated_at) VALUES (?, ?, ?)",
                (title, now, now),
            )
            return int(cur.lastrowid)

        return int(store.write(create))

    def _store_question(self, memory: Any, question: str, cid: int, now: float) -> int | None:
        from core.types import NewMemory

        ext = _QUESTION_ID_PREFIX + uuid.uuid4().hex
        report = memory.add_many(
            [
                NewMemory(
                    kind=CHAT,
                    text=question,
                    time=now,
                    author=ME,
                    conversation=str(cid),
                    external_id=ext,
                    # The chat's own turns are not memories search or answers draw on (the user
                    # can save one as a note: save_turn).
                    derived=True,
                )
            ],
            in_transaction=lambda conn, _r: conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, cid)
            ),
        )
        return report.ids[0] if report.ids else None

    def _store_answer(
        self, memory: Any, cid: int, text: str, citations: Sequence[Citation], now: float
    ) -> int | None:
        """The answer as a derived memory and its citations, in one transaction: an answer is
        never stored without the rows that let erasure find it."""
        from core.types import NewMemory

        ext = _ANSWER_ID_PREFIX + uuid.uuid4().hex

        def link(conn: Connection, _report: Any) -> None:
            row = conn.execute(
                "SELECT id FROM memories WHERE kind = ? AND external_id = ?", (CHAT, ext)
            ).fetchone()
            if row is None:
                return
            conn.executemany(
                "INSERT OR IGNORE INTO citations(answer_id, memory_id, position) VALUES (?, ?, ?)",
                [(int(row[0]), c.memory_id, c.n) for c in citations],
            )
            conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, cid))

        report = memory.add_many(
            [
                NewMemory(
                    kind=CHAT,
                    text=text,
                    time=now,
                    author=ASSISTANT,
                    conversation=str(cid),
                    external_id=ext,
                    derived=True,
                )
            ],
            in_transaction=link,
        )
        return report.ids[0] if report.ids else None

    # -- conversations ------------------------------------------------------------------------
    def conversations(self) -> list[ConversationSummary]:
        """Newest first; `turns` counts the questions asked."""
        self._memory()
        conn = self.services.store.reader()
        rows = conn.execute(
            "SELECT c.id, c.title, c.updated_at, "
            "(SELECT count(*) FROM memories m WHERE m.kind = ? AND m.conversation = "
            "CAST(c.id AS TEXT) AND m.author = ? AND m.hidden = 0) "
            "FROM conversations c ORDER BY c.updated_at DESC, c.id DESC",
            (CHAT, ME),
        ).fetchall()
        return [ConversationSummary(int(i), str(t), float(u), int(n)) for i, t, u, n in rows]

    def conversation(self, conversation_id: int) -> list[Turn]:
        """The questions and answers, oldest first, answers with the citations still present
        (a cited memory erased since takes its citation, and the answer, with it)."""
        self._memory()
        conn = self.services.store.reader()
        rows = conn.execute(
            "SELECT id, text, time, author FROM memories WHERE kind = ? AND conversation = ? "
            "AND hidden = 0 ORDER BY time, id",
            (CHAT, str(int(conversation_id))),
        ).fetchall()
        turns: list[Turn] = []
        for mid, text, t, author in rows:
            if author == ME:
                turns.append(Turn("user", text, float(t), [], int(mid)))
                continue
            cites = conn.execute(
                "SELECT memory_id, position FROM citations WHERE answer_id = ? ORDER BY position",
                (mid,),
            ).fetchall()
            mems = {m.id: m for m in get_memories(conn, [int(r[0]) for r in cites])}
            citations = [
                Citation(
                    n=int(pos),
                    memory_id=m.id,
                    snippet=_plain(make_snippet(m.text, [])),
                    time=m.time,
                    source=m.kind,
                    app=m.app,
                    title=m.title,
                    external_id=m.external_id,
                )
                for cited, pos in cites
                if (m := mems.get(int(cited))) is not None
            ]
            turns.append(Turn("assistant", text, float(t), citations, int(mid)))
        return turns

    def save_turn(self, memory_id: int) -> int:
        """Keep a chat turn as a memory of its own (a note with the same text and time), so
        that search and answers can draw on it. Returns the new memory's id."""
        from core.types import NOTE, NewMemory

        memory = self._memory()
        conn = self.services.store.reader()
        row = conn.execute(
            "SELECT text, time, external_id FROM memories WHERE id = ? AND kind = ? AND hidden = 0",
            (int(memory_id), CHAT),
        ).fetchone()
        if row is None or not str(row[2] or "").startswith(
            (_QUESTION_ID_PREFIX, _ANSWER_ID_PREFIX)
        ):
            raise BadInput("That chat message no longer exists.")
        text = re.sub(r"\s*\[\d+\]", "", str(row[0])).strip()
        report = memory.add_many([NewMemory(kind=NOTE, text=text, time=float(row[1]))])
        if not report.ids:
            raise BadInput("That message is already saved as a memory.")
        return int(report.ids[0])

    def delete_conversation(self, conversation_id: int) -> None:
        """Erase its questions and answers (through erasure: rows, FTS, vectors, index) and the
        conversation itself."""
        memory = self._memory()
        cid = int(conversation_id)
        conn = self.services.store.reader()
        ids = [
            int(r[0])
            for r in conn.execute(
                "SELECT id FROM memories WHERE kind = ? AND conversation = ?", (CHAT, str(cid))
            )
        ]
        if ids:
            self._erase(memory, ids)
        self.services.store.write(
            lambda c: c.execute("DELETE FROM conversations WHERE id = ?", (cid,))
        )
        self._turns.pop(cid, None)

    def _erase(self, memory: Any, ids: list[int]) -> None:
        service = getattr(self.services, "erase", None)
        if service is not None and hasattr(service, "erase_ids"):
            service.erase_ids(ids)
            return
        from core.erase import Eraser, EraseSpec

        media = self.services.media
        if media is None:
            raise StoreLocked()
        Eraser(self.services.store, media, lambda: _LiveIndex(memory)).erase(EraseSpec(ids=ids))


class _LiveIndex:
    """The memory service's index as core.erase expects it (used when no erase service is
    attached)."""

    def __init__(self, memory: Any) -> None:
        self.memory = memory

    def remove(self, ids: list[int]) -> int:
        return int(self.memory.remove_from_index(ids))

    def after_erase(self) -> None:
        self.memory.save_index()
