"""Reading the audit log backwards, newest first, in pages (for "what happened lately").

The chain is verified in order by ``hub.audit.verify``; this is only for showing
recent entries, e.g. those concerning one home.

    for row in audit_rows_newest_first(s, batch=500):
        ...
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from .audit_rows import AuditRow, row_of
from .models_audit import AuditEntryRow

_E = AuditEntryRow


def audit_rows_newest_first(
    session: Session, *, before: int | None = None, batch: int = 500
) -> Iterator[AuditRow]:
    """Entries with seq below ``before`` (all when None), newest first (keyset paging)."""
    last = before
    while True:
        stmt = select(_E)
        if last is not None:
            stmt = stmt.where(_E.seq < last)
        rows = list(session.scalars(stmt.order_by(_E.seq.desc()).limit(batch)))
        yield from (row_of(r) for r in rows)
        if len(rows) < batch:
            return
        last = rows[-1].seq
