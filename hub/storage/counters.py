"""Counts of messages ingest could not use, by category and reason.

Ingest must never stop on a bad message; it counts it here (one upsert) and logs.

    count_ingest_problem(session, "malformed", "not_json", at=now)
    ingest_counts(session)                  # {('malformed', 'not_json'): 1}
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ._dialect import upsert_insert
from .models_events import IngestCounter


def count_ingest_problem(
    session: Session, category: str, reason: str, *, at: datetime, n: int = 1
) -> None:
    """Add ``n`` to the count of ``category`` (e.g. malformed, refused) / ``reason``."""
    stmt = upsert_insert(session, IngestCounter).values(
        category=category, reason=reason, count=n, last_at=at
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["category", "reason"],
        set_={"count": IngestCounter.count + n, "last_at": stmt.excluded.last_at},
    )
    session.execute(stmt)


def ingest_counts(session: Session) -> dict[tuple[str, str], int]:
    columns = (IngestCounter.category, IngestCounter.reason, IngestCounter.count)
    rows = session.execute(select(*columns))
    return {(r.category, r.reason): int(r.count) for r in rows}
