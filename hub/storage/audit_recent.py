"""Reading the audit log by reference or backwards, newest first (for "what happened lately").

The chain is verified in order by ``hub.audit.verify``; this is only for showing
entries, e.g. those concerning one home. Entries naming a reference are found
through the ``audit_refs`` index (written with each entry by the one append), so a
quiet home in a busy deployment costs an index range read, not a scan of the chain.

    page = audit_rows_naming(s, ["home:h1", "device:door-1"], before=None, limit=100)
    for row in audit_rows_naming_oldest_first(s, "person:p1"):
        ...
    unlocks = audit_rows_naming_between(s, ["device:door-1"], ["break_glass"], since, until)
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .audit_rows import AuditRow, read_audit_head, row_of
from .models_audit import AuditEntryRow, AuditRefRow

_E = AuditEntryRow
_R = AuditRefRow
FIRST_WINDOW = 4096  # seqs looked at first; each further window is four times larger


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


def audit_rows_naming(
    session: Session, refs: Collection[str], *, before: int | None = None, limit: int = 100
) -> list[AuditRow]:
    """Up to ``limit`` entries naming any of ``refs`` with seq below ``before``, newest first.

    Page on with ``before=<last seq returned>``: every entry comes exactly once.
    """
    if not refs or limit < 1:
        return []
    names = sorted(refs)
    high = before if before is not None else read_audit_head(session)[0] + 1
    span = FIRST_WINDOW
    found: list[int] = []
    # Look back in growing windows of seq: one ``IN`` over the whole history would read
    # every entry of a busy home (and its doors and visits) to sort out the newest 100;
    # a window reads only its own range of each reference's index.
    while high > 1 and len(found) < limit:
        low = max(high - span, 1)
        seqs = (
            select(_R.seq)
            .where(_R.ref.in_(names), _R.seq >= low, _R.seq < high)
            .distinct()
            .order_by(_R.seq.desc())
            .limit(limit - len(found))
        )
        found += session.scalars(seqs)
        high, span = low, span * 4
    if not found:
        return []
    stmt = select(_E).where(_E.seq.in_(found)).order_by(_E.seq.desc())
    return [row_of(r) for r in session.scalars(stmt)]


def audit_rows_naming_oldest_first(
    session: Session, ref: str, *, batch: int = 1000
) -> Iterator[AuditRow]:
    """Every entry naming ``ref`` (as actor or subject), in chain order, in batches."""
    last = 0
    while True:
        seqs = select(_R.seq).where(_R.ref == ref, _R.seq > last).order_by(_R.seq).limit(batch)
        found = list(session.scalars(seqs))
        if found:
            stmt = select(_E).where(_E.seq.in_(found)).order_by(_E.seq)
            yield from (row_of(r) for r in session.scalars(stmt))
        if len(found) < batch:
            return
        last = found[-1]


def audit_rows_naming_between(
    session: Session,
    refs: Collection[str],
    actions: Collection[str],
    since: datetime,
    until: datetime,
    *,
    batch: int = 1000,
) -> list[AuditRow]:
    """Entries naming any of ``refs`` with one of ``actions`` recorded in [since, until),
    in chain order: ``reports.audit_rows_between`` narrowed to some references.

    Only the entries the index lists for ``refs`` are read, by seq: never another
    home's. The index has no time and ``at`` need not grow with seq (it is the
    caller's clock), so the window is checked on each of those entries.
    """
    if not refs or not actions:
        return []
    # Two steps, not one join: the index decides which entries are read, whatever
    # plan the database would pick (a join may be driven from the action index,
    # i.e. every home's unlocks). The seqs are small ints, read in one index scan.
    seqs = select(_R.seq).where(_R.ref.in_(sorted(refs))).distinct().order_by(_R.seq)
    found = list(session.scalars(seqs))
    names = sorted(actions)
    out: list[AuditRow] = []
    for i in range(0, len(found), batch):
        stmt = (
            select(_E)
            .where(_E.seq.in_(found[i : i + batch]), _E.action.in_(names))
            .where(_E.at >= since, _E.at < until)  # as audit_rows_between: [since, until)
            .order_by(_E.seq)
        )
        out += (row_of(r) for r in session.scalars(stmt))
    return out
