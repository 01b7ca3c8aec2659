"""Connected apps in core: names, scope, the read rule memory by memory, the write thresholds,
and the repository (consent states, tokens kept only as hashes, the read log) on the real
schema (all migrations, on an in-memory SQLCipher database without a key: the bundled SQLite
has the FTS5 options the schema uses)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlcipher3 import dbapi2 as sqlite3

from core import clients as cl
from core import trust as tr
from core.capture.exclusions import ExclusionRules
from core.errors import BadInput
from core.migrations import migrate
from core.types import API, CHAT, NOTE, OK, QUARANTINED, REJECTED, SCREEN, Memory

T0 = 1_767_225_600.0


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    c = sqlite3.connect(":memory:", isolation_level=None)
    migrate(c)
    c.execute("PRAGMA foreign_keys=ON")
    yield c
    c.close()


def memory(mid: int = 1, kind: str = SCREEN, **kw: object) -> Memory:
    base = dict(
        id=mid, kind=kind, text="t", time=T0, app="firefox", title="Docs", domain=None,
        author=None, conversation=None, file=None, external_id=None, media_id=None,
        source_id=5, trust=0.8, status=OK, reasons=[], derived=False,
    )  # fmt: skip
    base.update(kw)
    return Memory(**base)  # type: ignore[arg-type]


def client(scope: cl.Scope | None = None, source_id: int | None = 9) -> cl.Client:
    return cl.Client(
        1, "agent", cl.ALLOWED, scope or cl.Scope(), "h", source_id, None, T0, T0, None, None
    )


def test_names_are_normalised_and_checked() -> None:
    assert cl.normalise_name("  Claude-Desktop ") == "claude-desktop"
    for bad in ("", "a b", "-x", "x" * 41, "naïve", "a/b"):
        with pytest.raises(BadInput):
            cl.normalise_name(bad)


def test_scope_round_trips_and_refuses_nonsense() -> None:
    s = cl.Scope(
        readable=frozenset({cl.CHATS}),
        excluded_apps=("signal",),
        excluded_ranges=((T0, T0 + 60),),
        may_write=True,
        screenshots=True,
    )
    assert cl.Scope.loads(s.dumps()) == s
    assert cl.Scope().readable == {cl.SCREENS, cl.CHATS, cl.NOTES}  # other apps' notes: off
    assert not cl.Scope().may_write and not cl.Scope().screenshots
    with pytest.raises(BadInput):
        cl.Scope(readable=frozenset({"email"}))
    with pytest.raises(BadInput):
        cl.Scope(excluded_ranges=((T0, T0),))


def test_read_rule_never_lets_out_unreviewed_or_derived_memories() -> None:
    rule = cl.ReadRule(client())
    assert rule.allows(memory())
    assert not rule.allows(memory(status=QUARANTINED))
    assert not rule.allows(memory(status=REJECTED))
    assert not rule.allows(memory(derived=True))
    assert not rule.allows(memory(), hidden=True)
    # Below the answers' trust bar: not evidence for Mnemo's answers, not for a client either.
    assert not rule.allows(memory(trust=tr.ANSWER_MIN_TRUST - 0.01))


def test_read_rule_applies_categories_and_own_writes() -> None:
    chats_only = cl.ReadRule(client(cl.Scope(readable=frozenset({cl.CHATS}))))
    assert chats_only.allows(memory(kind=CHAT, app=None, title=None))
    assert chats_only.allows(memory(kind="import:jsonl", app=None, title=None))
    assert not chats_only.allows(memory(kind=SCREEN))
    assert not chats_only.allows(memory(kind=NOTE, app=None, title=None))
    # Another client's note needs "apps"; its own is always readable.
    other = memory(kind=API, app="other", title=None, source_id=77)
    own = memory(kind=API, app="agent", title=None, source_id=9)
    assert not chats_only.allows(other)
    assert chats_only.allows(own)
    everything = cl.ReadRule(client(cl.Scope(readable=frozenset(cl.CATEGORIES))))
    assert everything.allows(other)


def test_read_rule_applies_off_limits_apps_ranges_and_privacy_exclusions() -> None:
    scope = cl.Scope(excluded_apps=("thunderbird",), excluded_ranges=((T0 - 10, T0 + 10),))
    rule = cl.ReadRule(client(scope))
    assert not rule.allows(memory(app="Thunderbird"))
    assert not rule.allows(memory(time=T0))
    assert rule.allows(memory(time=T0 + 10))  # ranges are [start, end)
    privacy = ExclusionRules.from_user(apps=["signal"], domains=["bank.example"])
    rule = cl.ReadRule(client(), privacy)
    assert not rule.allows(memory(time=T0 + 99, app="signal"))
    assert not rule.allows(memory(time=T0 + 99, domain="www.bank.example"))
    # Built-in exclusions hold too: password managers and private windows.
    assert not rule.allows(memory(time=T0 + 99, app="keepassxc"))
    assert not rule.allows(memory(time=T0 + 99, title="Mozilla Firefox Private Browsing"))
    assert rule.allows(memory(time=T0 + 99))


def test_write_thresholds() -> None:
    assert cl.write_decision(tr.PRIOR_API.mean) == cl.WRITE_OK  # a new client may write
    one_flag = tr.Trust(2, 5).mean  # one clear injection
    assert cl.write_decision(one_flag) == cl.WRITE_QUARANTINE
    assert cl.write_decision(tr.Trust(2, 14).mean) == cl.WRITE_REFUSE


def test_consent_states_and_tokens(conn: sqlite3.Connection) -> None:
    repo = cl.ClientRepository(conn)
    with pytest.raises(cl.ClientRefused, match="has not allowed"):
        repo.verify("agent", "x")
    pending = repo.request("Agent", "Some Client 1.0", T0)
    assert pending.status == cl.PENDING and pending.token_hash is None
    with pytest.raises(cl.ClientRefused, match="has not allowed"):
        repo.verify("agent", None)
    allowed, token = repo.allow("agent", cl.Scope(may_write=True), T0 + 1)
    assert allowed.status == cl.ALLOWED and allowed.scope.may_write
    # Only the hash is stored.
    dump = repr(conn.execute("SELECT * FROM clients").fetchall())
    assert token not in dump and cl.token_hash(token) in dump
    assert repo.verify("agent", token).id == allowed.id
    with pytest.raises(cl.ClientRefused, match="Wrong or missing token"):
        repo.verify("agent", token + "x")
    with pytest.raises(cl.ClientRefused, match="Wrong or missing token"):
        repo.verify("agent", None)
    # Its trust source is the api source of that name, at the API prior.
    src = tr.TrustRepository(conn).get(allowed.source_id or 0)
    assert src.identity == "api:agent" and src.trust == tr.PRIOR_API
    repo.cut_off("agent", T0 + 2)
    with pytest.raises(cl.ClientRefused, match="cut off"):
        repo.verify("agent", token)
    repo.restore("agent")
    assert repo.verify("agent", token).status == cl.ALLOWED
    # A new token replaces the old one.
    _, token2 = repo.allow("agent", None, T0 + 3)
    with pytest.raises(cl.ClientRefused):
        repo.verify("agent", token)
    assert repo.verify("agent", token2).scope.may_write  # scope kept


def test_restore_needs_an_allowed_client(conn: sqlite3.Connection) -> None:
    repo = cl.ClientRepository(conn)
    repo.request("agent", None, T0)
    with pytest.raises(BadInput, match="never allowed"):
        repo.restore("agent")


def test_read_log_holds_ids_only(conn: sqlite3.Connection) -> None:
    repo = cl.ClientRepository(conn)
    c, _ = repo.allow("agent", None, T0)
    assert repo.log_reads(c.id, "search", [3, 1, 3], T0) == 2
    repo.log_reads(c.id, "get_memory", [3], T0 + 1)
    assert repo.reads(c.id) == [(T0 + 1, "get_memory", 3), (T0, "search", 1), (T0, "search", 3)]
    cols = [r[1] for r in conn.execute("PRAGMA table_info(client_reads)")]
    assert cols == ["id", "client_id", "time", "tool", "memory_id"]
    repo.delete("agent")
    assert conn.execute("SELECT count(*) FROM client_reads").fetchone()[0] == 0


def test_scope_change_keeps_the_rest(conn: sqlite3.Connection) -> None:
    repo = cl.ClientRepository(conn)
    c, token = repo.allow("agent", None, T0)
    repo.set_scope("agent", replace(c.scope, excluded_apps=("code",)))
    got = repo.verify("agent", token)
    assert got.scope.excluded_apps == ("code",) and got.status == cl.ALLOWED


def test_a_caller_without_the_token_learns_nothing_of_a_cut_off(conn: sqlite3.Connection) -> None:
    repo = cl.ClientRepository(conn)
    repo.allow("agent", None, T0)
    repo.cut_off("agent", T0 + 1)
    with pytest.raises(cl.ClientRefused, match="Wrong or missing token") as e:
        repo.verify("agent", "guess")
    assert "cut off" not in str(e.value)
