"""Rows of the audit reference index (``audit_refs``) for checking and repairing it.

The append writes the index (``audit_rows.insert_audit_rows``); these read all of it
in seq order and put single rows back or take them out, for ``hub.audit.verify_index``
and ``hub.audit.reindex``.

    for seq, name in iter_index_rows(session):
        ...
    add_index_rows(session, [(12, "home:h1")])
    remove_index_rows(session, [(999, "home:nowhere")])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from .models_audit import AuditRefRow

_REFS = AuditRefRow.__table__
_DELETE = delete(_REFS).where(
    _REFS.c.ref == bindparam("old_ref"), _REFS.c.seq == bindparam("old_seq")
)


def iter_index_rows(session: Session, *, batch: int = 5000) -> Iterator[tuple[int, str]]:
    """Every (seq, ref) of the index, in (seq, ref) order, streamed ``batch`` rows at a time.

    One ordered query, not keyset pages: the table's key is (ref, seq), so a page by seq
    would read the whole table each time. The database sorts once; the client holds one
    batch.
    """
    stmt = (
        select(_REFS.c.seq, _REFS.c.ref)
        .order_by(_REFS.c.seq, _REFS.c.ref)
        .execution_options(yield_per=batch)
    )
    for row in session.execute(stmt):
        yield int(row.seq), str(row.ref)


def add_index_rows(session: Session, pairs: Sequence[tuple[int, str]]) -> None:
    if pairs:
        session.execute(insert(_REFS), [{"ref": name, "seq": seq} for seq, name in pairs])


def remove_index_rows(session: Session, pairs: Sequence[tuple[int, str]]) -> None:
    if pairs:
        session.execute(_DELETE, [{"old_ref": name, "old_seq": seq} for seq, name in pairs])
