"""Hybrid search: FTS5 BM25 and HNSW vector search, fused by reciprocal rank, filtered (time,
app, source kind; quarantined, rejected, derived and hidden memories left out), weighted by
trust, near-identical hits grouped, and a snippet with the query words highlighted.

Why these choices (numbers in bench/retrieval_quality.py):
- FTS side ORs the query's content words (stop words dropped): people type questions ("when did
  Ana move to Lisbon"), and AND would demand "when" and "did"; BM25 already ranks memories that
  match more (and rarer) words first. The last word is a prefix when it is 3+ letters, so
  results follow typing.
- Fusion (FusionParams, method "units") is reciprocal rank fusion of ranked lists of the
  memories: the turn's words, its window's words (core.units), the turn's meaning, the
  window's meaning, and, when the query names a speaker, that speaker's memories and the
  meaning of the question without the name (see Searcher._multi and _speaker_names). RRF
  needs no score scale, so it holds when one side is weak (names and dates for meaning,
  paraphrase for words); the earlier convex fusion (0.8 * cosine + 0.2 * BM25, tuned on the
  synthetic set) did not carry over to real conversations (bench/retrieval_locomo.py).
- After the fusion, more ranked lists of the candidates are added the same way: the query's
  time range (_time_boost), a named speaker's memories (_speaker_boost), session agreement
  (_session_boost: turns of the chat session that holds the strongest candidate) and
  answer-type hints (_type_boost: a "when" question prefers turns that speak of a time, a
  "how many" one turns with a number). Weights fitted leave-one-conversation-out on
  locomo-dev with bench/retrieval_fit.py (figures at FusionParams).
- When every query word is common (in more than COMMON_TERM memories) the word side reads
  each word's newest matches without BM25, whose posting-list count was most of a search's
  cost at 1M memories (see fts_ids).
- A second stage (Searcher._overlap, off by default: FusionParams.w_overlap) ranks the fused
  top 10 once more by the question's rarer content words held in the turn itself (its window's
  turns counting half), as one more list. It lifts locomo-dev recall@1 (0.401 -> 0.415) but
  costs the synthetic set's changed facts more (see FusionParams); about 0.5 ms a query at 100k.
- Candidates are ranked and filtered by fields held in memory (core.search_fields: time,
  kind, app, trust, status, hidden, derived, author, conversation, dedup key), kept exact by a
  change log the store's triggers write (schema 17); a candidate's row is read only when it is
  shown. At 1M memories a row read is a random page decrypted (~45 us), and a filtered search
  checked hundreds: CPU p50 25 -> 13 ms at 1M, 7.7 -> 6.9 ms at 100k, the same hits.
- Replies (_replies): a turn the partner answers with a question lends one more list to its
  speaker's next turn, which holds the answer more often than the turn that named the topic
  (locomo-dev recall@1 0.428 -> 0.442; figures at FusionParams.w_reply).
- Trust weight 0.5 + 0.5 * trust: a fully distrusted source keeps half its weight, so a
  low-trust exact match can still be found (it is the user's data) but loses ties to trusted
  sources; quarantined memories are excluded outright, not just down-weighted.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Any

import numpy as np

from core import units
from core.db import Connection
from core.importers.jsonl import own_id
from core.memories import MEMORY_COLUMNS
from core.search_fields import FieldsFilter, SearchFields
from core.timeparse import parse_query
from core.types import (
    HL_END,
    HL_START,
    IMPORT_PREFIX,
    QUARANTINED,
    SearchFilters,
    SearchHit,
    SearchResults,
)
from core.vector_index import VectorIndex

_WORD = re.compile(r"\w+", re.UNICODE)

# fmt: off
STOPWORDS = frozenset({
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
    "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
    "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just",
    "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once",
    "only", "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should", "so",
    "some", "such", "than", "that", "the", "their", "theirs", "them", "then", "there", "these",
    "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we",
    "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with",
    "would", "you", "your", "yours", "yourself", "tell", "show", "find", "remember", "know",
})
# fmt: on

# Exact vector search over the allowed ids when a filter leaves at most this many.
EXACT_LIMIT = 3_000
# A filter passing more memories than this is "broad": its ids are not listed (at 1M memories
# an app or a month is 100k+ ids, and listing them was most of a filtered search's time);
# candidates from the unfiltered rankings are checked against it instead.
BROAD = 20_000
BROAD_MAX_CANDIDATES = 8_000
# A word in more memories than this is "common" (see Searcher.fts_ids).
COMMON_TERM = 2_000
# When every query word is common, each word's newest matches are read in windows of WINDOW
# rowids (at most WINDOWS of them, until `limit` pass the filters); see Searcher.fts_ids.
WINDOW = 1_000
WINDOWS = 4
MAX_GROUP_IDS = 200
# Filters whose ids are kept between searches (Searcher._allowed_ids).
ALLOWED_CACHE = 8


@dataclass(slots=True)
class FusionParams:
    # "units" (the default): reciprocal rank fusion of four rankings, the turn's words, its
    # window's words (core.units), the turn's meaning and its window's meaning; see _multi.
    # "convex" and "rrf" are the earlier two-list fusions (kept for bench comparisons).
    method: str = "units"  # units | convex | rrf
    alpha: float = 0.8  # convex: weight of the cosine against the normalised BM25
    k: float = 60.0  # RRF constant: larger flattens the rank curve
    w_fts: float = 1.0
    w_vec: float = 1.0
    depth: int = 50  # candidates taken from each side (at least 3 * k)
    # RRF constant of the "units" fusion and its boosts. Chosen from {20, 60} (60: the usual
    # default) with leave-one-conversation-out validation on locomo-dev: 20 won in all five
    # folds (held-out recall@10 0.767 against 0.743 on every fourth question).
    units_k: float = 20.0
    # "split": the names of speakers found near the query by meaning are left out of the
    # word lists and carried by the speaker list alone (see Searcher._content_terms); "keep"
    # is the earlier behaviour, for bench comparisons. Synthetic recall@10 0.756 -> 0.900,
    # locomo-dev 0.728 -> 0.750 (better in each of the five conversations).
    names: str = "split"  # split | keep
    # When the query names a speaker (names == "split"), the question is also embedded
    # without the name, and its nearest memories are one more meaning list ("both2": that
    # embedding also scores the windows' meaning; "both": the full query's does; "replace":
    # only the name-less list; "off": none). A name weighs heavily in an embedding and pulls
    # in every line that merely addresses the person ("Thanks, Melanie!"), while the
    # name-less one alone loses the lines the name found (synthetic facts 0.92 -> 0.76).
    vec_names: str = "both2"  # both2 | both | replace | off
    # Weight of the speaker list (_speaker_boost) against the others (weight 1 each).
    # Chosen from {0.5, 1, 2, 3} on locomo-dev; 2 wins with every conversation held out.
    w_speaker: float = 2.0
    # Second stage: the top `overlap_top` candidates of the fusion ranked once more by how
    # many of the question's content words (IDF-weighted; the speaker names left to the
    # speaker list) their own text holds, their window's other turns counting half; that
    # ranking is one more RRF list of weight `w_overlap` (0: off). See Searcher._overlap.
    # Measured, not shipped (0): on locomo-dev (760 questions, each conversation left out)
    # top 10 at weight 8 won every fold, held-out recall@1 0.401 -> 0.412, recall@10 the
    # same (top 30 lost recall@10: 0.813 -> 0.804 at weight 1 on every fourth question);
    # but on the synthetic set recall@1 fell 0.735 -> 0.703 (MRR 0.877 -> 0.837), most of it
    # on facts that changed ("changed" recall@5 0.775 -> 0.625): the older value holds more
    # of the question's words than the newer one that answers.
    # On top of RRF k 30 + speaker 3 (session 8, bench/retrieval_fit.py --grid s8): weight
    # 2 / 4 / 8 at top 10 and 4 at top 5 gave recall@1 0.418 / 0.414 / 0.420 / 0.418 against
    # 0.420 (shipped 0.428). A re-ordering of the fused top 2-8 by the turn's own IDF word
    # cover, its neighbours', query bigrams, own cosine, the asked speaker, time words,
    # length and recency (a linear mix, fitted leaving each conversation out) lifted
    # recall@1 in-sample by 0.007 at most and lost held-out (0.420 -> 0.408 / 0.417); so
    # did fusion weights chosen per question kind (when / how many / other, a named person
    # or not, long or short: held-out recall@1 0.426-0.429, recall@10 0.805-0.809).
    w_overlap: float = 0.0
    overlap_top: int = 10
    # Session agreement (Searcher._session_boost): the candidates ranked by how strongly
    # their chat session (a conversation's turns with no gap over units.SESSION_GAP) holds
    # candidates, the sum of its best `session_top` fused scores; one more RRF list.
    # Answer-type hints (Searcher._type_boost): a "when" question prefers turns that speak
    # of a time, a "how many" one turns with a number; one more RRF list of those turns.
    # Fitted with bench/retrieval_fit.py on locomo-dev (760 questions) leave-one-
    # conversation-out, session weight {0.5, 1, 1.5, 2, 2.5, 3, 4} x top {1, 2, 3}, type
    # weight {0, 0.5, 1, 2, 3, 4}: session 2 / top 1 / type 2 won with each of the five
    # conversations held out; held-out recall@10 0.784 -> 0.810, recall@1 0.401 -> 0.428,
    # MRR 0.584 -> 0.606; synthetic recall@10 0.929 either way. Session alone: recall@10
    # 0.808 (recall@1 unchanged); type alone: recall@1 0.426 (recall@10 0.785).
    w_session: float = 2.0
    session_top: int = 1
    w_type: float = 2.0
    # Multi-hop: one more word list per rarer content word of the question (BM25 of that
    # word alone), each of weight w_terms, so a turn that holds one of two named things is
    # not buried under turns that hold the other. Measured, not shipped (0): weight 0.25 /
    # 0.5 / 1 gave recall@10 0.781 / 0.767 / 0.747 against 0.784, multi-hop 0.530 at best
    # (0.526): a lone word's best turns are mostly noise.
    w_terms: float = 0.0
    # Whole tokens: a query word joined of parts by punctuation that reads as an identifier
    # ("CANARY-7f3a9q", "v2.1.3", "user_id"; see _is_id) is one thing the user copied:
    # memories holding it whole (its parts as a phrase) rank above those holding only some
    # of its parts (see Searcher._whole_tokens). Before, with the real MiniLM, notes holding
    # "canary" alone ranked 16th to 18th of 34 among the memories holding "CANARY-7f3a9q"
    # (tests/app/test_search_tokens.py). locomo-dev and the synthetic set: the same figures.
    whole_tokens: bool = True
    # Replies (Searcher._replies): for the fused top `reply_top` turns, when the partner's next
    # turn asks a question, the speaker's turn after it (the answer) joins one more list of
    # weight `w_reply` (0: off). Where recall@1 was lost on locomo-dev: in 56 of the 157 dev
    # questions with the evidence in the top 10 but not first, the first hit was the same
    # speaker's turn two before it (they name the topic in the question's words, the partner
    # asks, the answer follows in other words). Measured (bench/retrieval_fit.py, 760
    # questions): weight 1 / top 3 recall@1 0.428 -> 0.442 (dev conv-26/30/41 0.447 -> 0.465,
    # held-out conv-42/43 0.408 -> 0.419), recall@10 0.809 -> 0.812, no category and none of
    # the five conversations worse, synthetic identical (0.759 / 0.929). The variant best on
    # dev (weight 2, top 5: dev 0.488) gained nothing held-out (0.408) and lost open-domain
    # (0.544 -> 0.521); leave-one-conversation-out over weights {1, 1.5, 2, 3} x top {3, 5}
    # pooled 0.438. Weight 1 is every other list's weight; choosing it over 2 looked at the
    # held-out conversations too, so its held-out figure is not a clean one.
    w_reply: float = 1.0
    reply_top: int = 3


_ASK_WHEN = re.compile(
    r"^\W*(when|what (year|month|day|date|time|week)|which (year|month|day|date|week)|"
    r"how long ago|since when)\b",
    re.IGNORECASE,
)
# A word of parts joined by punctuation, not spaces ("CANARY-7f3a9q", "v2.1.3", "a_b"); an
# apostrophe does not join ("Caroline's" is a name and a suffix).
_COMPOUND = re.compile(r"(?<![\w-])\w+(?:[-_.:/@#+]\w+)+", re.UNICODE)


def _is_id(token: str) -> bool:
    """A compound token that reads as an identifier: it holds a digit or a joiner other than
    a hyphen ("CANARY-7f3a9q", "v2.1.3", "a@b.com"). Hyphenated words ("self-care") are
    ordinary words, left to the word lists (as whole tokens they cost locomo-dev a question,
    recall@10 0.810 -> 0.809)."""
    return any(c.isdigit() for c in token) or any(c in "_.:/@#+" for c in token)


_ASK_COUNT = re.compile(r"\bhow (many|much|often)\b", re.IGNORECASE)
_TIMEWORD = re.compile(
    r"\b(\d{1,4}|yesterday|today|tonight|tomorrow|ago|last|next|week|weekend|month|year|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|"
    r"may|june|july|august|september|october|november|december|morning|evening|night|"
    r"summer|winter|spring|autumn|fall)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|"
    r"hundred|dozen|couple|twice|once|both|several|first|second|third)\b",
    re.IGNORECASE,
)


def answer_type(question: str) -> str | None:
    """ "when" for a question asking for a time, "count" for one asking how many, else None."""
    if _ASK_WHEN.search(question):
        return "when"
    if _ASK_COUNT.search(question):
        return "count"
    return None


def query_terms(text: str) -> list[str]:
    words = [w.lower() for w in _WORD.findall(text)]
    content = [w for w in words if w not in STOPWORDS]
    return content or words


def fts_match(terms: list[str], prefix_last: bool) -> str | None:
    """A safe FTS5 query: every term quoted (no operator or column syntax survives), ORed."""
    if not terms:
        return None
    parts = ['"' + t.replace('"', '""') + '"' for t in dict.fromkeys(terms)]
    if prefix_last and len(terms[-1]) >= 3:
        parts[-1] += "*"
    return " OR ".join(parts)


def filter_sql(f: SearchFilters, alias: str = "m") -> tuple[str, list[Any]]:
    a = alias
    clauses = [f"{a}.hidden = 0"]
    args: list[Any] = []
    if f.include_quarantined:
        clauses.append(f"{a}.status IN ('ok', '{QUARANTINED}')")
    else:
        clauses.append(f"{a}.status = 'ok'")
    if not f.include_derived:
        clauses.append(f"{a}.derived = 0")
    if f.since is not None:
        clauses.append(f"{a}.time >= ?")
        args.append(f.since)
    if f.until is not None:
        clauses.append(f"{a}.time < ?")
        args.append(f.until)
    if f.app:
        clauses.append(f"{a}.app = ?")
        args.append(f.app)
    if f.source:
        if f.source in ("import", IMPORT_PREFIX.rstrip(":")):
            clauses.append(f"{a}.kind >= 'import:' AND {a}.kind < 'import;'")
        else:
            clauses.append(f"{a}.kind = ?")
            args.append(f.source)
    return " AND ".join(clauses), args


def restrictive(f: SearchFilters) -> bool:
    return any(x is not None and x != "" for x in (f.since, f.until, f.app, f.source))


# -- snippets ----------------------------------------------------------------------------------
def _fold(text: str) -> str:
    """Lower-case, accents off, same length as `text` (so positions carry over)."""
    if text.isascii():
        return text.lower()
    out = []
    for c in text:
        f = unicodedata.normalize("NFD", c)[0].lower()
        out.append(f if len(f) == 1 else c)
    return "".join(out)


@functools.lru_cache(maxsize=64)
def _highlight(terms: tuple[str, ...], prefix_last: bool) -> re.Pattern[str] | None:
    """The query words as one pattern, built once per query rather than once per hit."""
    pats = []
    for i, t in enumerate(dict.fromkeys(terms)):
        ft = re.escape(_fold(t))
        last = i == len(terms) - 1
        pats.append(rf"\b{ft}\w*" if (prefix_last and last and len(t) >= 3) else rf"\b{ft}\b")
    return re.compile("|".join(pats)) if pats else None


def make_snippet(text: str, terms: list[str], prefix_last: bool = True, width: int = 180) -> str:
    flat = text.replace("\n", " ")
    folded = _fold(flat)
    pattern = _highlight(tuple(terms), prefix_last)
    spans: list[tuple[int, int]] = []
    if pattern is not None:
        spans = [m.span() for m in pattern.finditer(folded)]
    if len(flat) <= width:
        lo, hi = 0, len(flat)
    elif not spans:
        lo, hi = 0, width
    else:
        best, best_n = spans[0][0], 0
        for s, _ in spans:
            n = sum(1 for s2, _ in spans if s - width // 3 <= s2 < s + 2 * width // 3)
            if n > best_n:
                best, best_n = s, n
        lo = max(0, best - width // 3)
        hi = min(len(flat), lo + width)
        lo = max(0, hi - width)
        if lo > 0:
            sp = flat.find(" ", lo, lo + 20)
            lo = sp + 1 if sp != -1 else lo
        if hi < len(flat):
            sp = flat.rfind(" ", hi - 20, hi)
            hi = sp if sp != -1 else hi
    out = []
    pos = lo
    for s, e in spans:
        if s < lo or e > hi:
            continue
        out.append(flat[pos:s])
        out.append(HL_START + flat[s:e] + HL_END)
        pos = e
    out.append(flat[pos:hi])
    snippet = "".join(out).strip()
    return ("…" if lo > 0 else "") + snippet + ("…" if hi < len(flat) else "")


# -- the searcher ------------------------------------------------------------------------------
class BroadFilter:
    """A time/app/source filter that passes many memories: membership is asked of SQLite for
    candidate ids in bulk (`check`) rather than listing every passing id up front.

    `where` is the whole filter (filter_sql: status, hidden and derived too) on alias `m`,
    and a check reads the passing candidates' hit rows (`rows`), which the search would read
    next anyway: at 1M memories a row read is a page decrypted, and the candidates' rows were
    read twice, once for the check and once for the hits."""

    def __init__(self, conn: Connection, where: str, args: list[Any]) -> None:
        self._conn = conn
        self._where = where
        self._args = args
        self._known: dict[int, bool] = {}
        self.rows: dict[int, tuple[Any, ...]] = {}

    def check(self, ids: Sequence[int]) -> None:
        todo = list(dict.fromkeys(i for i in ids if i not in self._known))
        for start in range(0, len(todo), 900):
            part = todo[start : start + 900]
            marks = ",".join("?" * len(part))
            for i in part:
                self._known[i] = False
            for row in self._conn.execute(
                # NOT INDEXED: look the candidates up by rowid. Left to itself the planner
                # walks the filter's index (every memory of an app, of a month: 100k+ rows
                # at 1M memories, ~20 ms a check) instead.
                f"SELECT {_HIT_COLUMNS} FROM memories m NOT INDEXED "
                f"WHERE m.id IN ({marks}) AND {self._where}",
                [*part, *self._args],
            ):
                self._known[int(row[0])] = True
                self.rows[int(row[0])] = tuple(row)

    def first(self, ids: Sequence[int], limit: int) -> list[int]:
        """The first `limit` of `ids` (best first) that pass, asked in chunks: a ranked list
        of 2000 candidates needs only as many lookups as it takes to find `limit`."""
        out: list[int] = []
        step = max(2 * limit, 100)
        for start in range(0, len(ids), step):
            part = ids[start : start + step]
            self.check(part)
            out.extend(i for i in part if self._known[i])
            if len(out) >= limit:
                break
        return out[:limit]

    def __contains__(self, mid: object) -> bool:
        if not isinstance(mid, int):
            return False
        if mid not in self._known:
            self.check([mid])
        return self._known[mid]

    def listed(self) -> set[int]:
        return {
            i
            for (i,) in self._conn.execute(
                "SELECT m.id FROM memories m WHERE " + self._where, self._args
            )
        }


class Searcher:
    def __init__(
        self,
        *,
        read_conn: Callable[[], Connection],
        index: Callable[[], VectorIndex | None],
        embed: Callable[[list[str]], np.ndarray] | None,
        now: Callable[[], float],
        tz: tzinfo | None = None,
        fusion: FusionParams | None = None,
    ) -> None:
        self._read_conn = read_conn
        self._index = index
        self._embed = embed
        self._now = now
        self.tz = tz
        self.fusion = fusion or FusionParams()
        self._qcache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._df: dict[str, tuple[int, float]] = {}
        # (filter clauses, BROAD) -> (reader connection, its data_version, the ids or None: broad);
        # the sets are shared between searches and never changed (see _allowed_ids).
        self._allowed_cache: OrderedDict[
            tuple[str, tuple[Any, ...], int], tuple[Connection, int, set[int] | None]
        ] = OrderedDict()
        self._cache_lock = threading.Lock()
        # Rank and filter candidates by fields held in memory (core.search_fields) rather than
        # by their rows; off: the rows are read (bench comparisons, stores before schema 17).
        # One copy for the searcher's store (a searcher is made per unlocked session), brought
        # up to date under its lock by whichever reader connection searches.
        self.use_fields = True
        self._fields = SearchFields()
        self._fields_lock = threading.Lock()
        # Set by `defer_fields`: the copy is built elsewhere (the load lane after unlock), and
        # until it is, searches read rows instead of building it themselves (1.9 s at 100k
        # memories under load, in the first search after unlock).
        self._fields_deferred = threading.Event()

    def embed_query(self, text: str) -> np.ndarray | None:
        if self._embed is None:
            return None
        with self._cache_lock:
            vec = self._qcache.get(text)
            if vec is not None:
                self._qcache.move_to_end(text)
                return vec
        vec = np.asarray(self._embed([text])[0], dtype=np.float32)
        with self._cache_lock:
            self._qcache[text] = vec
            if len(self._qcache) > 256:
                self._qcache.popitem(last=False)
        return vec

    def search(
        self,
        query: str,
        filters: SearchFilters | None = None,
        k: int = 20,
        *,
        mode: str = "hybrid",
        parse_time: bool = True,
        fallback: bool = False,
    ) -> SearchResults:
        """`mode` is hybrid | fts | vector (the last two for the quality benchmark).

        Time words in the query ("in May", "last year", resolved against now) do not filter:
        they boost memories from that time and memories whose text speaks of it. Only
        `filters` (chips, --since/--until) filter. With `fallback`, filters that leave no
        hit give way to an unfiltered search, and `SearchResults.fallback` says so."""
        t0 = time.perf_counter()
        f = replace(filters) if filters is not None else SearchFilters()
        k = max(1, min(int(k), 500))
        text = query.replace(HL_START, "").replace(HL_END, "")
        hint: tuple[float | None, float | None] | None = None
        shown = text
        if parse_time:
            tq = parse_query(text, self._now(), self.tz)
            if tq.since is not None or tq.until is not None:
                hint = (tq.since, tq.until)
                shown = tq.text
        conn = self._read_conn()
        terms = query_terms(text)
        prefix_last = not query.endswith((" ", "\t"))
        if hint is not None and not query_terms(shown):
            # Only time words ("yesterday"): the user asks for a time, which is a listing.
            if hint[0] is not None:
                f.since = hint[0] if f.since is None else max(f.since, hint[0])
            if hint[1] is not None:
                f.until = hint[1] if f.until is None else min(f.until, hint[1])
            terms, hint = [], None
            fallback = True  # a time asked for by words alone never shows nothing

        def run(fl: SearchFilters) -> list[SearchHit]:
            if not terms:
                return self._listing(conn, fl, k)
            return self._ranked(conn, text, terms, prefix_last, fl, k, mode, hint)

        hits = run(f)
        note = None
        if not hits and fallback and restrictive(f):
            wider = SearchFilters(
                include_quarantined=f.include_quarantined, include_derived=f.include_derived
            )
            hits = run(wider)
            if hits:
                note = "Nothing matched within the chosen filters; these results are from any time."
                f = wider
        return SearchResults(
            hits, shown, f, (time.perf_counter() - t0) * 1000, time_hint=hint, fallback=note
        )

    # listing (empty query: timeline/browse)
    def _listing(self, conn: Connection, f: SearchFilters, k: int) -> list[SearchHit]:
        where, args = filter_sql(f)
        rows = conn.execute(
            f"SELECT {_HIT_COLUMNS} FROM memories m WHERE {where} ORDER BY m.time DESC, m.id DESC "
            "LIMIT ?",
            [*args, k * 3],
        ).fetchall()
        scored = [(r, 0.0) for r in rows]
        return self._finish(conn, scored, f, [], False, k)

    # ranked search
    def _allowed_ids(
        self, conn: Connection, f: SearchFilters, fields: SearchFields | None = None
    ) -> set[int] | BroadFilter | FieldsFilter | None:
        """Ids passing the time/app/source filters, read from covering indexes (no table rows);
        a BroadFilter when more than BROAD pass (a FieldsFilter when the search fields are held
        in memory: `fields`); None when there are no such filters. Status, hidden and derived
        are checked later on the few candidates."""
        if not restrictive(f):
            return None

        def broad() -> BroadFilter | FieldsFilter:
            return (
                FieldsFilter(fields, f) if fields is not None else BroadFilter(conn, *filter_sql(f))
            )

        clauses: list[str] = []
        args: list[Any] = []
        if f.since is not None:
            clauses.append("time >= ?")
            args.append(f.since)
        if f.until is not None:
            clauses.append("time < ?")
            args.append(f.until)
        if f.app:
            clauses.append("app = ?")
            args.append(f.app)
        if f.source:
            if f.source in ("import", IMPORT_PREFIX.rstrip(":")):
                clauses.append("kind >= 'import:' AND kind < 'import;'")
            else:
                clauses.append("kind = ?")
                args.append(f.source)
        where = " AND ".join(clauses)
        # The same filter is asked again on every keystroke of a refined query: its ids are
        # kept per reader connection until any write commits (PRAGMA data_version changes
        # whenever another connection commits). Listing them was ~3.5 ms of a filtered
        # search at 100k memories.
        (version,) = conn.execute("PRAGMA data_version").fetchone()
        key = (where, tuple(args), BROAD)
        with self._cache_lock:
            hit = self._allowed_cache.get(key)
            if hit is not None and hit[0] is conn and hit[1] == version:
                self._allowed_cache.move_to_end(key)
                return broad() if hit[2] is None else hit[2]
        # One scan, one row: the ids as text parsed by numpy. A row per id costs ~0.5 us of
        # Python each, which at 20k ids was a third of a filtered search.
        (listed,) = conn.execute(
            f"SELECT group_concat(id) FROM (SELECT id FROM memories WHERE {where} LIMIT ?)",
            [*args, BROAD + 1],
        ).fetchone()
        ids = np.fromstring(listed, dtype=np.int64, sep=",") if listed else np.zeros(0, np.int64)
        allowed = None if len(ids) > BROAD else set(ids.tolist())
        with self._cache_lock:
            self._allowed_cache[key] = (conn, version, allowed)
            self._allowed_cache.move_to_end(key)
            while len(self._allowed_cache) > ALLOWED_CACHE:
                self._allowed_cache.popitem(last=False)
        return broad() if allowed is None else allowed

    def _term_count(self, conn: Connection, term: str, prefix: bool) -> int:
        """How many memories hold the term, counted up to COMMON_TERM + 1 (cheap), cached."""
        key = term + ("*" if prefix else "")
        now = time.monotonic()
        cached = self._df.get(key)
        if cached is not None and now - cached[1] < 60:
            return cached[0]
        match = '"' + term.replace('"', '""') + '"' + ("*" if prefix else "")
        (n,) = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM memories_fts WHERE memories_fts MATCH ? LIMIT ?)",
            (match, COMMON_TERM + 1),
        ).fetchone()
        self._df[key] = (int(n), now)
        if len(self._df) > 4096:
            self._df.clear()
        return int(n)

    def fts_ids(
        self,
        conn: Connection,
        terms: list[str],
        prefix_last: bool,
        allowed: set[int] | BroadFilter | FieldsFilter | None,
        limit: int,
        also: Sequence[int] = (),
    ) -> tuple[list[tuple[int, float]], dict[int, float]]:
        """(id, bm25) best first (FTS5's bm25 is negative: lower is better), and the bm25 of
        those `also` ids (the meaning side's candidates) that match the words at all.

        BM25 over the rarer query words. Words found in more than COMMON_TERM memories say
        little (BM25 gives them almost no weight) yet cost the most to rank, so they are left
        out while a rarer word is present; when every word is that common, the newest matches
        are ranked in windows instead of all of them.

        The `also` scores come from the same ranking query (those ids sort first, then the
        rest by bm25), because ranking already scores every match: a separate lookup per id
        re-reads the words' posting lists once per id, which was most of a search's cost."""
        terms = list(dict.fromkeys(terms))
        if not terms:
            return [], {}
        last = len(terms) - 1
        prefix_flags = [prefix_last and i == last and len(t) >= 3 for i, t in enumerate(terms)]
        rare = [
            (t, p)
            for t, p in zip(terms, prefix_flags)
            if self._term_count(conn, t, p) <= COMMON_TERM
        ]
        use = rare or list(zip(terms, prefix_flags))
        match = " OR ".join('"' + t.replace('"', '""') + '"' + ("*" if p else "") for t, p in use)
        rank = "bm25(memories_fts, 1.0, 0.5, 0.25)"
        also = list(dict.fromkeys(also))
        extra: dict[int, float] = {}
        if rare:
            cap = limit if allowed is None else COMMON_TERM * len(rare)
            wanted = f"rowid IN ({','.join('?' * len(also))})" if also else "0"
            rows = conn.execute(
                f"SELECT rowid, {rank} AS r, {wanted} AS w FROM memories_fts "
                "WHERE memories_fts MATCH ? ORDER BY w DESC, r LIMIT ?",
                (*also, match, cap + len(also)),
            ).fetchall()
            extra = {i: r for i, r, w in rows if w}
            # All matching `also` ids came back, then the best others: at least `cap` of them,
            # so the best `cap` of these rows are the best `cap` of all matches.
            top = sorted((r, i) for i, r, _ in rows)[:cap]
            if isinstance(allowed, BroadFilter | FieldsFilter):
                score = {i: r for r, i in top}
                return [(i, score[i]) for i in allowed.first([i for _, i in top], limit)], extra
            return [(i, r) for r, i in top if allowed is None or i in allowed][:limit], extra
        # Every word is common: BM25 would first count each word's whole posting list
        # (FTS5 does so for its IDF, 20-60 ms a word at 1M memories) to tell apart words it
        # then weighs almost nothing. The newest matches of each word are read instead
        # (rowids only: about 1 ms), ranked by how many of the query's words they hold,
        # newer first; the score is minus that number (lower is better, as BM25's).
        held: dict[int, int] = {}
        for t, p in use:
            one = '"' + t.replace('"', '""') + '"' + ("*" if p else "")
            below = None
            passed = 0
            for _ in range(WINDOWS):
                sql = "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? "
                args: list[Any] = [one]
                if below is not None:
                    sql += "AND rowid < ? "
                    args.append(below)
                got = [
                    int(r)
                    for (r,) in conn.execute(sql + "ORDER BY rowid DESC LIMIT ?", [*args, WINDOW])
                ]
                ok = (
                    allowed.first(got, limit - passed)
                    if isinstance(allowed, BroadFilter | FieldsFilter)
                    else got
                )
                for i in ok:
                    if allowed is None or i in allowed:
                        held[i] = held.get(i, 0) + 1
                        passed += 1
                if len(got) < WINDOW or passed >= limit:
                    break
                below = got[-1]
        todo = [i for i in also if i not in held]
        if todo:
            marks = ",".join("?" * len(todo))
            for t, p in use:
                one = '"' + t.replace('"', '""') + '"' + ("*" if p else "")
                for (i,) in conn.execute(
                    f"SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? "
                    f"AND +rowid IN ({marks})",
                    (one, *todo),
                ):
                    extra[int(i)] = extra.get(int(i), 0.0) - 1.0
        extra.update({i: -float(held[i]) for i in also if i in held})
        ranked = sorted(held, key=lambda i: (-held[i], -i))[:limit]
        return [(i, -float(held[i])) for i in ranked], extra

    def vector_ids(
        self,
        conn: Connection,
        qvec: np.ndarray,
        allowed: set[int] | BroadFilter | FieldsFilter | None,
        limit: int,
    ) -> list[tuple[int, float]]:
        """(id, cosine similarity) best first."""
        index = self._index()
        if index is None or len(index) == 0:
            return []
        if allowed is None:
            # Status/hidden/derived exclusions are rare: a margin covers them.
            return list(zip(*index.search(qvec, limit + limit // 2)))
        if isinstance(allowed, BroadFilter | FieldsFilter):
            # Nearest neighbours without the filter, checked in bulk, widening until enough
            # pass; a filter that still starves them is listed after all.
            want = 4 * limit
            while True:
                ids, sims = index.search(qvec, want)
                passing = set(allowed.first(ids, len(ids)))
                found = [(i, s) for i, s in zip(ids, sims) if i in passing]
                if len(found) >= limit or len(ids) < want:
                    return found[:limit]
                if want >= BROAD_MAX_CANDIDATES:
                    break
                want = min(4 * want, BROAD_MAX_CANDIDATES)
            allowed = allowed.listed()
        if not allowed:
            return []
        if len(allowed) <= EXACT_LIMIT:
            # Few candidates: an exact scan beats a filtered graph walk that must wander.
            return self._exact(conn, qvec, allowed, limit)
        return list(zip(*index.search(qvec, limit, allowed=allowed.__contains__)))

    @staticmethod
    def _exact(
        conn: Connection, qvec: np.ndarray, allowed: set[int] | list[int], limit: int
    ) -> list[tuple[int, float]]:
        wanted = list(allowed)
        ids: list[int] = []
        blobs: list[bytes] = []
        for i in range(0, len(wanted), 30000):
            part = wanted[i : i + 30000]
            marks = ",".join("?" * len(part))
            for mid, vec in conn.execute(
                f"SELECT memory_id, vec FROM vectors WHERE memory_id IN ({marks})", part
            ):
                if len(vec) == qvec.nbytes:
                    ids.append(int(mid))
                    blobs.append(vec)
        if not ids:
            return []
        mat = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), -1)
        sims = mat @ qvec
        k = min(limit, len(ids))
        top = np.argpartition(-sims, k - 1)[:k]
        return [(ids[j], float(sims[j])) for j in top[np.argsort(-sims[top])]]

    def _ranked(
        self,
        conn: Connection,
        text: str,
        terms: list[str],
        prefix_last: bool,
        f: SearchFilters,
        k: int,
        mode: str,
        hint: tuple[float | None, float | None] | None = None,
    ) -> list[SearchHit]:
        p = self.fusion
        depth = max(p.depth, 3 * k)
        fields = self._fields_of(conn)
        allowed = self._allowed_ids(conn, f, fields)
        qvec = self.embed_query(text) if mode != "fts" else None
        vec = self.vector_ids(conn, qvec, allowed, depth) if qvec is not None else []
        multi = p.method == "units" and mode == "hybrid"
        convex = p.method == "convex" and mode == "hybrid"
        fts: list[tuple[int, float]] = []
        extra: dict[int, float] = {}
        wterms = terms
        vec2: list[tuple[int, float]] = []
        where, args = filter_sql(f)
        fetched: dict[int, tuple[Any, ...] | None] = {}  # hit rows, read once per search

        def rows_of(ids: list[int]) -> list[tuple[Any, ...]]:
            if fields is not None:  # no row read: the fields held in memory
                return _field_rows(fields, ids, f)
            return self._rows(conn, ids, where, args, fetched, allowed)

        def full_rows(ids: list[int]) -> list[tuple[Any, ...]]:
            return self._rows(conn, ids, where, args, fetched, allowed)

        if multi and p.names == "split" and vec:
            near = rows_of([mid for mid, _ in vec])
            names = self._speaker_names(terms, near)
            wterms = [t for t in terms if t not in names] or terms
            words = _WORD.findall(text)
            rest = [w for w in words if w.lower() not in names]
            if p.vec_names != "off" and names and rest:
                # The meaning of the question without the name: a name weighs heavily in
                # an embedding, pulling in every line that merely addresses that person.
                q2 = self.embed_query(" ".join(rest))
                if q2 is not None:
                    v2 = self.vector_ids(conn, q2, allowed, depth)
                    if p.vec_names == "replace":
                        qvec, vec = q2, v2
                    else:
                        vec2 = v2
                        if p.vec_names == "both2":
                            qvec = q2
        if mode != "vector":
            also = [mid for mid, _ in vec] if convex else []
            fts, extra = self.fts_ids(conn, wterms, prefix_last, allowed, depth, also)
        fused: dict[int, float] = {}
        if multi:
            fused = self._multi(conn, qvec, wterms, prefix_last, allowed, depth, fts, vec, vec2)
        elif not convex:
            for rank, (mid, _) in enumerate(fts):
                fused[mid] = fused.get(mid, 0.0) + p.w_fts / (p.k + rank + 1)
            for rank, (mid, _) in enumerate(vec):
                fused[mid] = fused.get(mid, 0.0) + p.w_vec / (p.k + rank + 1)
        else:
            fused = self._convex(conn, qvec, fts, vec, extra)
        if not fused:
            return []
        rows = rows_of(list(fused))
        if hint is not None and mode == "hybrid":
            self._time_boost(conn, rows, fused, hint)
        if multi:
            self._speaker_boost(rows, fused, terms)
            if p.w_session > 0:
                self._session_boost(rows, fused)
            if p.w_type > 0 and answer_type(text) is not None:
                self._type_boost(conn, full_rows([int(r[0]) for r in rows]), fused, text)
            if p.w_overlap > 0:
                self._overlap(
                    conn, full_rows([int(r[0]) for r in rows]), fused, wterms, prefix_last
                )
        if multi and p.whole_tokens:
            self._whole_tokens(conn, fused, text)
        if multi and p.w_reply > 0:
            rows = rows + self._replies(conn, fused, full_rows)
        scored = [(r, fused[r[0]] * (0.5 + 0.5 * float(r[_TRUST]))) for r in rows]
        scored.sort(key=lambda x: (-x[1], -x[0][_TIME]))
        return self._finish(
            conn, scored, f, terms, prefix_last, k, full_rows if fields is not None else None
        )

    def _fields_of(self, conn: Connection) -> SearchFields | None:
        """The in-memory search fields, brought up to date with what `conn` sees (None: the
        store keeps no change log, or `use_fields` is off)."""
        if not self.use_fields:
            return None
        if self._fields_deferred.is_set() and self._fields.seq < 0:
            return None  # the load lane builds it (warm_fields): read rows until then
        if not self._fields_lock.acquire(blocking=False):
            # Being built (the load lane, ~5 s at 1M) or brought up to date by another
            # search: this one reads rows meanwhile rather than wait.
            return None
        try:
            return self._fields if self._fields.sync(conn) else None
        finally:
            self._fields_lock.release()

    def defer_fields(self) -> None:
        """The in-memory search fields will be built by `warm_fields` (on the load lane): until
        then a search reads rows rather than build them in the user's wait."""
        self._fields_deferred.set()

    def warm_fields(self) -> None:
        """Build the in-memory search fields now (the load lane, after unlock), so that the
        first search does not: about 0.4 s of CPU at 100k memories, 5 s at 1M. Whatever
        happens, searches afterwards bring the copy up to date themselves."""
        try:
            if self.use_fields:
                with self._fields_lock:
                    self._fields.sync(self._read_conn())
        finally:
            self._fields_deferred.clear()

    @staticmethod
    def _rows(
        conn: Connection,
        ids: list[int],
        where: str,
        args: list[Any],
        fetched: dict[int, tuple[Any, ...] | None],
        broad: set[int] | BroadFilter | FieldsFilter | None = None,
    ) -> list[tuple[Any, ...]]:
        """The hit rows of `ids` that pass the filters, each read from the store at most
        once per search (`fetched` holds them; None: left out by the filters). A broad
        filter's checks read them already (same filter, see BroadFilter)."""
        if isinstance(broad, BroadFilter):
            for i in ids:
                if i not in fetched and i in broad._known:
                    fetched[i] = broad.rows.get(i)
        todo = [i for i in dict.fromkeys(ids) if i not in fetched]
        if todo:
            marks = ",".join("?" * len(todo))
            for i in todo:
                fetched[i] = None
            for row in conn.execute(
                # NOT INDEXED: fetch by rowid; the planner would otherwise pick a filter's index.
                f"SELECT {_HIT_COLUMNS} FROM memories m NOT INDEXED "
                f"WHERE m.id IN ({marks}) AND {where}",
                [*todo, *args],
            ):
                fetched[int(row[0])] = tuple(row)
        return [r for i in dict.fromkeys(ids) if (r := fetched[i]) is not None]

    @staticmethod
    def _speaker_names(terms: list[str], near: list[tuple[Any, ...]]) -> set[str]:
        """The query's words that name a speaker of the nearest memories by meaning ("When
        did Ana ..."). A speaker's name matches every line of their conversations (its title,
        their window's speaker labels) at about the same score, so in the word lists it ranks
        a whole conversation in an arbitrary order ahead of the line that answers: the name
        is left to the speaker list (_speaker_boost) instead."""
        authors = {str(r[_AUTHOR]) for r in near if r[_AUTHOR]}
        names = {w.lower() for a in authors for w in _WORD.findall(a)}
        return names & set(terms)

    def unit_ids(
        self,
        conn: Connection,
        terms: list[str],
        prefix_last: bool,
        allowed: set[int] | BroadFilter | FieldsFilter | None,
        limit: int,
    ) -> list[tuple[int, float]]:
        """(centre memory id, bm25) of the best-matching windows (core.units), best first,
        over the same rarer words as `fts_ids` (nothing when every word is common)."""
        terms = list(dict.fromkeys(terms))
        last = len(terms) - 1
        use = [
            (t, prefix_last and i == last and len(t) >= 3)
            for i, t in enumerate(terms)
            if self._term_count(conn, t, prefix_last and i == last and len(t) >= 3) <= COMMON_TERM
        ]
        if not use:
            return []
        match = " OR ".join('"' + t.replace('"', '""') + '"' + ("*" if p else "") for t, p in use)
        cap = limit if allowed is None else COMMON_TERM
        try:
            rows = conn.execute(
                "SELECT rowid, bm25(units_fts) AS r FROM units_fts WHERE units_fts MATCH ? "
                "ORDER BY r LIMIT ?",
                (match, cap),
            ).fetchall()
        except Exception as e:  # a store from before schema 4 (tests' hand-made ones)
            if "no such table" in str(e):
                return []
            raise
        if isinstance(allowed, BroadFilter | FieldsFilter):
            score = {int(i): float(r) for i, r in rows}
            return [(i, score[i]) for i in allowed.first(list(score), limit)]
        return [(int(i), float(r)) for i, r in rows if allowed is None or i in allowed][:limit]

    def _multi(
        self,
        conn: Connection,
        qvec: np.ndarray | None,
        terms: list[str],
        prefix_last: bool,
        allowed: set[int] | BroadFilter | FieldsFilter | None,
        depth: int,
        fts: list[tuple[int, float]],
        vec: list[tuple[int, float]],
        vec2: list[tuple[int, float]] | None = None,
    ) -> dict[int, float]:
        """Reciprocal rank fusion (constant `units_k`; words lists weigh `w_fts`, meaning
        lists `w_vec`) of these rankings of the memories:
        1. the turn's own words (BM25 over memories_fts),
        2. its window's words (BM25 over units_fts: neighbours and speaker names),
        3. the turn's meaning (cosine, HNSW),
        4. its window's meaning: over every candidate of 1-3, the mean of the cosines of the
           window's members, the centre counting twice (its neighbours' cosines read from the
           index, no extra embedding);
        5. (when the query names a speaker, see _ranked) the meaning of the question without
           the name; the speaker list itself is added later (_speaker_boost).
        RRF needs no score scale: it holds when one side is weak (meaning on names and dates,
        words on paraphrase), which a constant convex weight tuned on one set did not."""
        p = self.fusion
        win = self.unit_ids(conn, terms, prefix_last, allowed, depth)
        lists: list[list[int]] = [[m for m, _ in fts], [m for m, _ in win], [m for m, _ in vec]]
        if vec2:
            lists.append([m for m, _ in vec2])
        term_lists: list[list[int]] = []
        if p.w_terms > 0:
            uniq = list(dict.fromkeys(terms))
            rare = [t for t in uniq if self._term_count(conn, t, False) <= COMMON_TERM]
            if len(rare) >= 2:
                for t in rare:
                    got_t, _ = self.fts_ids(conn, [t], False, allowed, depth)
                    term_lists.append([m for m, _ in got_t])
        index = self._index() if qvec is not None else None
        if index is not None and qvec is not None:
            cands = list(dict.fromkeys(m for lst in lists for m in lst))
            members = units.unit_members(conn, cands)
            need = list(dict.fromkeys([*cands, *(m for ms in members.values() for m in ms)]))
            got = dict(zip(*index.exact(qvec, need, len(need))))
            wcos: dict[int, float] = {}
            for c in cands:
                if c not in got:
                    continue
                others = [got[m] for m in members.get(c, ()) if m != c and m in got]
                wcos[c] = (2 * got[c] + sum(others)) / (2 + len(others))
            lists.append(sorted(wcos, key=lambda m: -wcos[m]))
        fused: dict[int, float] = {}
        for n, lst in enumerate(lists):
            w = p.w_fts if n in (0, 1) else p.w_vec  # words lists, then meaning lists
            for rank, mid in enumerate(lst):
                fused[mid] = fused.get(mid, 0.0) + w / (p.units_k + rank + 1)
        for lst in term_lists:
            for rank, mid in enumerate(lst):
                fused[mid] = fused.get(mid, 0.0) + p.w_terms / (p.units_k + rank + 1)
        return fused

    def _replies(
        self,
        conn: Connection,
        fused: dict[int, float],
        full_rows: Callable[[list[int]], list[tuple[Any, ...]]],
    ) -> list[tuple[Any, ...]]:
        """One more list: for each of the fused top turns, when the next turn is the other
        speaker's question, the first speaker's turn after it (it holds the answer more often
        than the turn that named the topic). Returns the rows of turns new to `fused`."""
        p = self.fusion
        top = sorted(fused, key=lambda m: -fused[m])[: p.reply_top]
        mem = units.unit_members(conn, top)
        chain = [m for ms in mem.values() for m in ms]
        mem2 = units.unit_members(conn, chain)
        ids = set(top) | set(chain) | {m for ms in mem2.values() for m in ms}
        row = {int(r[0]): r for r in full_rows(list(ids))}

        def after(mid: int, members: dict[int, list[int]]) -> int | None:
            r = row.get(mid)
            later = [row[m] for m in members.get(mid, ()) if m != mid and m in row]
            later = [x for x in later if r is not None and (x[_TIME], x[0]) > (r[_TIME], r[0])]
            return int(min(later, key=lambda x: (x[_TIME], x[0]))[0]) if later else None

        found: list[int] = []
        for mid in top:
            r = row.get(mid)
            nxt = after(mid, mem)
            if r is None or nxt is None or not r[_AUTHOR]:
                continue
            q = row[nxt]
            if q[_AUTHOR] == r[_AUTHOR] or not str(q[_TEXT]).rstrip().endswith("?"):
                continue
            ans = after(nxt, mem2)
            if ans is not None and row[ans][_AUTHOR] == r[_AUTHOR] and ans not in found:
                found.append(ans)
        new = [row[m] for m in found if m not in fused]
        for m in found:
            fused.setdefault(m, 0.0)
        for rank, m in enumerate(found):
            fused[m] += p.w_reply / (p.units_k + rank + 1)
        return new

    def _speaker_boost(
        self, rows: list[tuple[Any, ...]], fused: dict[int, float], terms: list[str]
    ) -> None:
        """Names are the strongest cue in personal memory: when the query names a speaker of
        the candidates ("When did Caroline..."), that speaker's memories form one more ranked
        list (in their fused order). Naming every speaker changes nothing."""
        words = set(terms)
        authors = {str(r[_AUTHOR]) for r in rows if r[_AUTHOR]}
        named = {a for a in authors if words & {w.lower() for w in _WORD.findall(a)}}
        if not named or named == authors:
            return
        theirs = [int(r[0]) for r in rows if r[_AUTHOR] in named]
        for rank, mid in enumerate(sorted(theirs, key=lambda m: -fused[m])):
            fused[mid] += self.fusion.w_speaker / (self.fusion.units_k + rank + 1)

    def _session_boost(self, rows: list[tuple[Any, ...]], fused: dict[int, float]) -> None:
        """One more ranked list: the candidates by the strength of their chat session (a
        conversation's turns with no gap over units.SESSION_GAP between candidates), the sum
        of its best `session_top` fused scores; ties in their own fused order. A memory of
        no conversation is a session by itself, so the list favours no kind of memory: in a
        store without chats it is the fused order."""
        p = self.fusion
        by_conv: dict[str, list[tuple[float, int]]] = {}
        session: dict[int, int] = {}
        members: list[list[int]] = []
        for r in rows:
            if r[_CONV]:
                by_conv.setdefault(str(r[_CONV]), []).append((float(r[_TIME]), int(r[0])))
            else:  # a screen, a note: whole by itself, its own session
                members.append([int(r[0])])
                session[int(r[0])] = len(members) - 1
        for items in by_conv.values():
            items.sort()
            last = None
            for t, mid in items:
                if last is None or t - last > units.SESSION_GAP:
                    members.append([])
                members[-1].append(mid)
                session[mid] = len(members) - 1
                last = t
        strength = [
            sum(sorted((fused[m] for m in ms), reverse=True)[: p.session_top]) for ms in members
        ]
        ranked = sorted(session, key=lambda m: (-strength[session[m]], -fused[m]))
        for rank, mid in enumerate(ranked):
            fused[mid] += p.w_session / (p.units_k + rank + 1)

    def _type_boost(
        self, conn: Connection, rows: list[tuple[Any, ...]], fused: dict[int, float], text: str
    ) -> None:
        """One more ranked list: for a question asking when, the candidates that speak of a
        time (an event date resolved from their text, or a time word); for one asking how
        many, the candidates holding a number; in their fused order."""
        kind = answer_type(text)
        if kind is None:
            return
        if kind == "when":
            fits = {int(r[0]) for r in rows if _TIMEWORD.search(str(r[_TEXT]))}
            fits |= _with_events(conn, [int(r[0]) for r in rows])
        else:
            fits = {int(r[0]) for r in rows if _NUMBER.search(str(r[_TEXT]))}
        _add_list(fused, fits, self.fusion.w_type, self.fusion.units_k)

    def _overlap(
        self,
        conn: Connection,
        rows: list[tuple[Any, ...]],
        fused: dict[int, float],
        terms: list[str],
        prefix_last: bool,
    ) -> None:
        """One more ranked list: the fusion's top `overlap_top` by exact overlap with the
        question's content words, each weighted by its rarity (log of COMMON_TERM over the
        number of memories that hold it); a word in the turn itself counts fully, one only in
        its window's other turns half. Fusion ranks by lists' agreement; this rewards the one
        turn that holds the rare words over its neighbours that share its window."""
        p = self.fusion
        uniq = list(dict.fromkeys(terms))
        if not uniq:
            return
        last = len(uniq) - 1
        weights: dict[str, tuple[float, bool]] = {}
        for i, t in enumerate(uniq):
            pre = prefix_last and i == last and len(t) >= 3
            df = self._term_count(conn, t, pre)
            if df:
                weights[t] = (math.log((COMMON_TERM + 2) / (df + 1)), pre)
        if not weights:
            return
        text = {int(r[0]): str(r[_TEXT]) for r in rows}
        top = sorted(text, key=lambda m: -fused[m])[: p.overlap_top]
        members = units.unit_members(conn, top)
        missing = [m for ms in members.values() for m in ms if m not in text]
        if missing:
            # Neighbours that search would not show (quarantined, hidden) lend no words.
            where, args = filter_sql(SearchFilters())
            marks = ",".join("?" * len(missing))
            text.update(
                (int(i), str(t))
                for i, t in conn.execute(
                    f"SELECT m.id, m.text FROM memories m NOT INDEXED "
                    f"WHERE m.id IN ({marks}) AND {where}",
                    [*missing, *args],
                )
            )

        def held(words: set[str]) -> dict[str, bool]:
            return {
                t: (t in words) or (pre and any(w.startswith(t) for w in words))
                for t, (_, pre) in weights.items()
            }

        score: dict[int, float] = {}
        for mid in top:
            own = held(set(_WORD.findall(_fold(text[mid]))))
            near: set[str] = set()
            for m in members.get(mid, ()):
                if m != mid and m in text:
                    near.update(_WORD.findall(_fold(text[m])))
            around = held(near) if near else {}
            s = sum(
                w * (1.0 if own[t] else 0.5 if around.get(t) else 0.0)
                for t, (w, _) in weights.items()
            )
            if s > 0:
                score[mid] = s
        # Equal overlap, equal rank: a tie (the old and the new value of a fact hold the
        # same words) must not turn the fusion's small gap between them into a large one.
        levels = sorted(set(score.values()), reverse=True)
        place = {v: n for n, v in enumerate(levels)}
        for mid, v in score.items():
            fused[mid] += p.w_overlap / (p.units_k + place[v] + 1)

    def _whole_tokens(self, conn: Connection, fused: dict[int, float], text: str) -> None:
        """Candidates holding a whole compound token of the query (its parts adjacent, in
        order: an FTS5 phrase) are lifted above every candidate that does not, by twice the
        best fused score per token held (twice: a trust weight of 0.5 cannot undo it); their
        own order stays the fusion's."""
        tokens = list(dict.fromkeys(t.lower() for t in _COMPOUND.findall(text) if _is_id(t)))
        if not tokens or not fused:
            return
        lift = 2 * max(fused.values())
        ids = list(fused)
        held: dict[int, int] = {}
        for tok in tokens:
            phrase = '"' + " ".join(_WORD.findall(tok)).replace('"', '""') + '"'
            for start in range(0, len(ids), 900):
                part = ids[start : start + 900]
                marks = ",".join("?" * len(part))
                for (i,) in conn.execute(
                    "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ? "
                    f"AND +rowid IN ({marks})",
                    (phrase, *part),
                ):
                    held[int(i)] = held.get(int(i), 0) + 1
        for mid, n in held.items():
            fused[mid] += lift * n

    def _time_boost(
        self,
        conn: Connection,
        rows: list[tuple[Any, ...]],
        fused: dict[int, float],
        hint: tuple[float | None, float | None],
    ) -> None:
        """One more ranked list for the fusion: the candidates from the query's time range
        (by their time, or by a date their text speaks of), in their fused order."""
        lo, hi = hint
        lo_day = units.day_of(lo) if lo is not None else -(10**9)
        hi_day = units.day_of(hi - 1) if hi is not None else 10**9
        inside = {
            int(r[0])
            for r in rows
            if (lo is None or r[_TIME] >= lo) and (hi is None or r[_TIME] < hi)
        }
        inside |= _with_events(conn, [int(r[0]) for r in rows], (lo_day, hi_day))
        _add_list(fused, inside, 1.0, self.fusion.units_k)

    def _convex(
        self,
        conn: Connection,
        qvec: np.ndarray | None,
        fts: list[tuple[int, float]],
        vec: list[tuple[int, float]],
        also_bm25: dict[int, float],
    ) -> dict[int, float]:
        """alpha * cosine + (1 - alpha) * BM25 / best BM25 of this query. Every candidate gets
        both parts: the cosine of word-only candidates is computed exactly."""
        alpha = self.fusion.alpha
        cos = dict(vec)
        if qvec is not None:
            missing = [mid for mid, _ in fts if mid not in cos]
            if missing:
                cos.update(self._exact(conn, qvec, missing, len(missing)))
        # Meaning-side candidates may match words too (the word list is cut at `depth`, and
        # ties are common): their word score came with the word ranking (`also_bm25`), so a
        # cut does not read as "no match".
        bm25 = {**also_bm25, **dict(fts)}
        best = max((-r for r in bm25.values()), default=0.0)
        lex = {mid: (-r / best if best > 0 else 0.0) for mid, r in bm25.items()}
        return {
            mid: alpha * max(0.0, cos.get(mid, 0.0)) + (1 - alpha) * lex.get(mid, 0.0)
            for mid in set(cos) | set(lex)
        }

    def _finish(
        self,
        conn: Connection,
        scored: list[tuple[tuple[Any, ...], float]],
        f: SearchFilters,
        terms: list[str],
        prefix_last: bool,
        k: int,
        full: Callable[[list[int]], list[tuple[Any, ...]]] | None = None,
    ) -> list[SearchHit]:
        """The first k groups of `scored` (near-duplicates by dedup key) as hits. With `full`,
        the rows are the in-memory fields (no text): the chosen ones are read whole through
        `full`, which applies the filters in SQL once more, and a row it leaves out (changed
        since) gives its place to the next."""
        seen: set[object] = set()
        chosen: list[tuple[tuple[Any, ...], float]] = []
        pos = 0
        while len(chosen) < k and pos < len(scored):
            heads: list[tuple[tuple[Any, ...], float]] = []
            while len(chosen) + len(heads) < k and pos < len(scored):
                row, score = scored[pos]
                pos += 1
                key = row[_DEDUP] or f"id:{row[0]}"
                if key not in seen:
                    seen.add(key)
                    heads.append((row, score))
            if full is None:
                chosen.extend(heads)
                continue
            whole = {int(r[0]): r for r in full([int(r[0]) for r, _ in heads])}
            chosen.extend((whole[int(r[0])], sc) for r, sc in heads if int(r[0]) in whole)
        keys = [row[_DEDUP] for row, _ in chosen if row[_DEDUP]]
        totals: dict[str, tuple[int, list[int]]] = {}
        if keys:
            where, args = filter_sql(f)
            marks = ",".join("?" * len(keys))
            for key, n, ids in conn.execute(
                f"SELECT m.dedup_key, count(*), group_concat(m.id) "
                "FROM memories m INDEXED BY memories_dedup "
                f"WHERE m.dedup_key IN ({marks}) AND {where} GROUP BY m.dedup_key",
                [*keys, *args],
            ):
                totals[key] = (int(n), [int(x) for x in str(ids).split(",")[:MAX_GROUP_IDS]])
        hits = []
        for row, score in chosen:
            key = row[_DEDUP]
            count, group = totals.get(key, (1, [row[0]])) if key else (1, [row[0]])
            snippet = make_snippet(row[_TEXT], terms, prefix_last)
            hit = _hit(row, score, snippet, count, group)
            # Honest label: the words are in this memory's text exactly when the snippet
            # highlights one (same terms, same prefix rule as the word search), or in its
            # title (the word search ranks titles too: a chat's name, a window's title).
            words = not terms or HL_START in snippet or _in_title(row[_TITLE], terms, prefix_last)
            hit.match = "words" if words else "meaning"
            hits.append(hit)
        return hits


_HIT_COLUMNS = (
    "m.id, m.external_id, m.time, m.kind, m.app, m.title, m.text, m.trust, m.dedup_key, "
    "m.author, m.conversation, m.media_id, m.status"
)
_TIME, _TITLE, _TEXT, _TRUST, _DEDUP, _AUTHOR, _CONV = 2, 5, 6, 7, 8, 9, 10
JSONL_KIND = "import:jsonl"  # its external ids carry a scope suffix (core.importers.jsonl)


def _field_rows(fields: SearchFields, ids: list[int], f: SearchFilters) -> list[tuple[Any, ...]]:
    """Rows shaped as _HIT_COLUMNS' for the ids passing `f`, from the in-memory fields: no
    text, title, external id, media or status (None), and the dedup key as its hash."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    mask = fields.passing(ids, f)
    keep = np.asarray(ids, dtype=np.int64)[mask]
    name = fields.name
    return [
        (i, None, t, name(kd), name(ap), None, None, tr, dd or None, name(au), name(cv), None, None)
        for i, t, kd, ap, tr, dd, au, cv in zip(
            keep.tolist(),
            fields.time[keep].tolist(),
            fields.kind[keep].tolist(),
            fields.app[keep].tolist(),
            fields.trust[keep].tolist(),
            fields.dedup[keep].tolist(),
            fields.author[keep].tolist(),
            fields.conv[keep].tolist(),
        )
    ]


def _with_events(conn: Connection, ids: list[int], days: tuple[int, int] | None = None) -> set[int]:
    """Those of `ids` whose text speaks of a time (core.units' memory_events), within the
    day range `days` (first, last) when given."""
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    sql = f"SELECT DISTINCT memory_id FROM memory_events WHERE memory_id IN ({marks})"
    args: list[Any] = list(ids)
    if days is not None:
        sql += " AND start_day <= ? AND end_day >= ?"
        args += [days[1], days[0]]
    try:
        return {int(i) for (i,) in conn.execute(sql, args)}
    except Exception as e:  # a store from before schema 4 (tests' hand-made ones)
        if "no such table" not in str(e):
            raise
        return set()


def _add_list(fused: dict[int, float], ids: set[int], weight: float, k: float) -> None:
    """One more RRF list of weight `weight`: `ids` in their fused order."""
    for rank, mid in enumerate(sorted(ids, key=lambda m: -fused[m])):
        fused[mid] += weight / (k + rank + 1)


def _in_title(title: str | None, terms: list[str], prefix_last: bool) -> bool:
    pattern = _highlight(tuple(terms), prefix_last) if title else None
    return pattern is not None and pattern.search(_fold(str(title))) is not None


def _hit(
    row: tuple[Any, ...], score: float, snippet: str, count: int, group: list[int]
) -> SearchHit:
    mid = int(row[0])
    if mid in group:
        group = [mid] + [g for g in group if g != mid]
    return SearchHit(
        id=mid,
        external_id=own_id(row[1]) if row[1] and row[3] == JSONL_KIND else row[1],
        time=float(row[2]),
        source=row[3],
        app=row[4],
        title=row[5],
        snippet=snippet,
        score=score,
        trust=float(row[_TRUST]),
        count=max(1, count),
        group_ids=group,
        author=row[9],
        conversation=row[10],
        media_id=row[11],
        status=row[12],
    )


__all__ = ["MEMORY_COLUMNS", "FusionParams", "Searcher", "make_snippet"]
