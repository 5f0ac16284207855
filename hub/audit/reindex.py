"""Repairing the audit reference index (``audit_refs``) from the entries.

The entries are the truth: each seq's index rows become exactly the references its
entry names, and rows pointing at no entry go. It runs under the append's lock (no
entry can be added half-way), refuses while the chain itself is broken (the index
rows may then be the only trace of what a deleted entry named), and records what it
changed as one audit entry -- only when it changed something, so a second run is a
no-op.

    with db.session() as s:
        result = reindex_session(s, actor="operator:ana", at=utcnow())
    print(result.summary())   # added 2 rows, removed 1 ...
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ..errors import AuditError
from ..storage.audit_index import add_index_rows, iter_index_rows, remove_index_rows
from ..storage.audit_rows import AuditRow, iter_audit_rows, lock_audit_head
from ..storage.database import Database
from .actions import AuditAction
from .log import append
from .verify import verify_session
from .verify_index import FIRST, IndexMismatch, index_mismatches

BATCH = 1000  # index rows added or removed per statement


class ChainBroken(AuditError, RuntimeError):
    """The hash chain does not verify, so the entries are not a sound source for the index."""


@dataclass(frozen=True, slots=True)
class ReindexResult:
    entries: int
    added: int  # index rows written
    removed: int  # index rows deleted (wrong ones and ones naming no entry)
    entries_fixed: int
    orphan_seqs: int  # seqs with index rows but no entry
    first: tuple[IndexMismatch, ...]
    recorded_seq: int | None  # the audit entry recording the repair (None: nothing changed)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    def summary(self) -> str:
        if not self.changed:
            return (
                f"reference index (audit_refs) already matches the {self.entries} entries: "
                "nothing changed"
            )
        return (
            f"reference index (audit_refs) rebuilt from {self.entries} entries: added "
            f"{self.added} rows, removed {self.removed} rows ({self.entries_fixed} entries "
            f"fixed, rows of {self.orphan_seqs} non-existent entries dropped); recorded as "
            f"audit entry #{self.recorded_seq}"
        )


def reindex(db: Database, *, actor: str, at: datetime, force: bool = False) -> ReindexResult:
    """Repair the index of ``db`` in one transaction (see the module docstring)."""
    with db.session() as session:
        return reindex_session(session, actor=actor, at=at, force=force)


def reindex_session(
    session: Session, *, actor: str, at: datetime, force: bool = False
) -> ReindexResult:
    """``reindex`` inside the caller's write transaction; ``force`` skips the chain check."""
    lock_audit_head(session)  # appends wait: they write index rows too
    if not force:
        chain = verify_session(session, [], [], check_index=False)
        if chain.first is not None:
            raise ChainBroken(
                f"the audit chain is broken ({chain.first}): its index rows may be the only "
                "trace of what was there, so they are left alone. Run 'doorstep audit verify', "
                "keep a copy of the database, then pass --force to rebuild the index anyway"
            )
    counted = _Count(iter_audit_rows(session))
    fix = _Fixes(session)
    fixed = orphans = 0
    first: list[IndexMismatch] = []
    # Rows are changed behind the stream's position only (mismatches come in seq order),
    # so the stream never meets a row this repair wrote or misses one it still has to see.
    for m in index_mismatches(counted, iter_index_rows(session)):
        fixed += m.entry_exists
        orphans += not m.entry_exists
        if len(first) < FIRST:
            first.append(m)
        fix.add(m)
    fix.flush()
    recorded = None
    if fix.added or fix.removed:
        recorded = append(
            session,
            AuditAction.AUDIT_INDEX_REBUILT,
            actor=actor,
            at=at,
            details={
                "what": "audit_refs",
                "added": fix.added,
                "removed": fix.removed,
                "entries_fixed": fixed,
                "orphan_seqs": orphans,
            },
        ).seq
    return ReindexResult(
        entries=counted.count,
        added=fix.added,
        removed=fix.removed,
        entries_fixed=fixed,
        orphan_seqs=orphans,
        first=tuple(first),
        recorded_seq=recorded,
    )


class _Fixes:
    """Index rows to add and remove, written ``BATCH`` at a time."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.to_add: list[tuple[int, str]] = []
        self.to_remove: list[tuple[int, str]] = []
        self.added = self.removed = 0

    def add(self, m: IndexMismatch) -> None:
        self.to_add += ((m.seq, name) for name in m.missing)
        self.to_remove += ((m.seq, name) for name in m.extra)
        if len(self.to_add) + len(self.to_remove) >= BATCH:
            self.flush()

    def flush(self) -> None:
        add_index_rows(self.session, self.to_add)
        remove_index_rows(self.session, self.to_remove)
        self.added += len(self.to_add)
        self.removed += len(self.to_remove)
        self.to_add, self.to_remove = [], []


class _Count:
    def __init__(self, rows: Iterator[AuditRow]) -> None:
        self._rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[AuditRow]:
        for row in self._rows:
            self.count += 1
            yield row
