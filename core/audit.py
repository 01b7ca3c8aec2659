"""The audit log: when, what kind of event, and counts. Never content, never keys."""

from __future__ import annotations

import json
from typing import Any

from core.db import Connection

_ALLOWED_DETAIL = (int, float, bool, type(None))


def record(conn: Connection, event: str, now: float, **detail: Any) -> None:
    """Details are numbers or short codes only; text values are refused so content cannot leak
    in by mistake."""
    for k, v in detail.items():
        if not isinstance(v, _ALLOWED_DETAIL) and not (
            isinstance(v, str) and len(v) <= 40 and v.replace("_", "").replace("-", "").isalnum()
        ):
            raise ValueError(f"audit detail {k!r} must be a number or a short code")
    conn.execute(
        "INSERT INTO audit(time, event, detail) VALUES (?, ?, ?)",
        (now, event, json.dumps(detail, sort_keys=True) if detail else None),
    )


def recent(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT time, event, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [{"time": t, "event": e, "detail": json.loads(d) if d else {}} for t, e, d in rows]
