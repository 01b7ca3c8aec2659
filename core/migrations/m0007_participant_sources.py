"""Schema v7 (data only): imported chats were one trust source per conversation, so one
participant's injections sank everyone's messages. Each participant of such a conversation
becomes a source of its own (core.trust.source_identity with the author), its memories move to
it, and the evidence that names one of its memories (flags, approvals) is replayed on it. What
cannot be attributed stays where it was: a rejected memory is gone with its author, so its
penalty stays on the conversation's old source (kept for the audit trail, now without the
participants' memories)."""

from __future__ import annotations

from typing import Any


def run(conn: Any) -> None:
    # Imported here: opening a store must not need the trust module unless it migrates.
    from core import trust as tr

    repo = tr.TrustRepository(conn)
    old_sources = conn.execute(
        "SELECT id, kind, created_at FROM sources WHERE kind LIKE 'import:%' "
        "AND instr(identity, '@') = 0 ORDER BY id"
    ).fetchall()
    for old_id, kind, created_at in old_sources:
        people = conn.execute(
            "SELECT author, min(file), min(conversation), count(*), max(time) FROM memories "
            "WHERE source_id = ? AND author IS NOT NULL AND trim(author) != '' GROUP BY author",
            (old_id,),
        ).fetchall()
        for author, file, conversation, count, last in people:
            key, label = tr.source_identity(
                kind, file=file, conversation=conversation, author=author
            )
            new_id, _ = repo.get_or_create(key, kind, label, float(created_at))
            ids = [
                int(r[0])
                for r in conn.execute(
                    "SELECT id FROM memories WHERE source_id = ? AND author = ?", (old_id, author)
                )
            ]
            conn.execute(
                "UPDATE memories SET source_id = ? WHERE source_id = ? AND author = ?",
                (new_id, old_id, author),
            )
            conn.execute(
                "UPDATE sources SET writes = writes + ?, last_write_at = MAX(COALESCE("
                "last_write_at, ?), ?) WHERE id = ?",
                (int(count), float(last), float(last), new_id),
            )
            _replay(conn, repo, tr, old_id, new_id, ids)
            repo.sync_memories(new_id, repo.get(new_id).score)
        if people:
            repo.sync_memories(old_id, repo.get(old_id).score)


def _replay(conn: Any, repo: Any, tr: Any, old_id: int, new_id: int, ids: list[int]) -> None:
    """The old source's events about these memories, applied in order to the new source (as
    stored: no idle decay is invented for the time between them)."""
    wanted = set(ids)
    events = conn.execute(
        "SELECT time, evidence, detail, d_beta, memory_id FROM trust_events WHERE source_id = ? "
        "AND memory_id IS NOT NULL AND evidence IN (?, ?) ORDER BY time, id",
        (old_id, tr.SUSPICIOUS, tr.APPROVED),
    ).fetchall()
    src = repo.get(new_id)
    prior = tr.prior_for(src.kind, src.identity)
    trust = src.trust
    for t, evidence, detail, d_beta, memory_id in events:
        if memory_id not in wanted:
            continue
        if evidence == tr.SUSPICIOUS:
            ev = tr.Evidence(
                tr.SUSPICIOUS, weight=max(0.0, float(d_beta)), detail=detail, memory_id=memory_id
            )
        else:
            flagged = conn.execute(
                "SELECT COALESCE(SUM(d_beta), 0) FROM trust_events WHERE source_id = ? AND "
                "memory_id = ? AND evidence = ?",
                (new_id, memory_id, tr.SUSPICIOUS),
            ).fetchone()[0]
            ev = tr.approved(memory_id, undo_beta=float(flagged))
        trust, event = tr.apply(trust, ev, float(t), prior=prior, source_key=src.identity)
        repo._insert_event(new_id, event)
    conn.execute(
        "UPDATE sources SET alpha = ?, beta = ? WHERE id = ?", (trust.alpha, trust.beta, new_id)
    )
