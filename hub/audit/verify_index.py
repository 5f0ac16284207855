"""Checking the audit reference index (``audit_refs``) against the entries it indexes.

The index is not part of the chain, yet exports and home histories find entries
through it: a deleted index row hides an entry from them without breaking any hash.
So each entry's index rows must be exactly the references it names (worked out by
``entry_refs``, the function the append writes them with), and no row may point at
a seq that has no entry. One merge of two ordered streams: constant memory.

    report = check_index(session, iter_audit_rows(session))
    if not report.ok:
        print(report.summary())   # ... repair it with 'doorstep audit reindex'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..storage.audit_index import iter_index_rows
from ..storage.audit_rows import AuditRow, entry_refs

REPAIR_COMMAND = "doorstep audit reindex"
FIRST = 5  # mismatches kept in a report, to show


@dataclass(frozen=True, slots=True)
class IndexMismatch:
    """One seq whose index rows are wrong: refs ``missing`` from the index, or ``extra``
    in it; ``entry_exists`` False when the index points at a seq with no entry."""

    seq: int
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    entry_exists: bool = True

    def __str__(self) -> str:
        if not self.entry_exists:
            return f"#{self.seq}: no such entry, yet the index lists {', '.join(self.extra)}"
        parts = []
        if self.missing:
            parts.append(f"the index lacks {', '.join(self.missing)}")
        if self.extra:
            parts.append(f"it lists {', '.join(self.extra)}, which the entry does not name")
        return f"#{self.seq}: " + "; ".join(parts)


@dataclass(frozen=True, slots=True)
class IndexReport:
    rows: int = 0  # index rows read
    wrong_entries: int = 0  # entries whose index rows differ from what they name
    missing_rows: int = 0
    extra_rows: int = 0  # rows on existing entries that they do not name
    orphan_rows: int = 0  # rows pointing at a seq with no entry
    orphan_seqs: int = 0
    first: tuple[IndexMismatch, ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.wrong_entries or self.orphan_seqs)

    def summary(self) -> str:
        if self.ok:
            return f"reference index (audit_refs) matches the entries: {self.rows} rows"
        found = []
        if self.wrong_entries:
            found.append(
                f"{self.wrong_entries} entries are indexed wrongly ({self.missing_rows} rows "
                f"missing, {self.extra_rows} rows naming references the entry does not)"
            )
        if self.orphan_seqs:
            found.append(
                f"{self.orphan_rows} rows point at {self.orphan_seqs} entries that do not exist"
            )
        return (
            f"reference index (audit_refs) is WRONG: {'; '.join(found)}. Exports and home "
            f"histories find entries through it, so they may leave entries out. Repair it "
            f"with '{REPAIR_COMMAND}'."
        )


def check_index(session: Session, rows: Iterable[AuditRow]) -> IndexReport:
    """Compare the index with ``rows`` (every entry, in seq order)."""
    index = _Counted(iter_index_rows(session))
    wrong = missing = extra = orphan_rows = orphan_seqs = 0
    first: list[IndexMismatch] = []
    for m in index_mismatches(rows, index):
        if m.entry_exists:
            wrong += 1
            missing += len(m.missing)
            extra += len(m.extra)
        else:
            orphan_seqs += 1
            orphan_rows += len(m.extra)
        if len(first) < FIRST:
            first.append(m)
    return IndexReport(
        rows=index.count,
        wrong_entries=wrong,
        missing_rows=missing,
        extra_rows=extra,
        orphan_rows=orphan_rows,
        orphan_seqs=orphan_seqs,
        first=tuple(first),
    )


def index_mismatches(
    rows: Iterable[AuditRow], index: Iterable[tuple[int, str]]
) -> Iterator[IndexMismatch]:
    """Merge entries (seq order) with index rows ((seq, ref) order); yield each wrong seq.

    Holds one seq's references at a time. Mismatches come in seq order, each after the
    entries before it were read, so a caller may repair them as they come.
    """
    stream = iter(index)
    head = next(stream, None)
    for row in rows:
        while head is not None and head[0] < row.seq:
            seq, held, head = _take_seq(head, stream)
            yield IndexMismatch(seq, extra=tuple(held), entry_exists=False)
        held = []
        if head is not None and head[0] == row.seq:
            _, held, head = _take_seq(head, stream)
        named = entry_refs(row.actor, row.subjects)
        have, want = set(held), set(named)
        if have != want:
            yield IndexMismatch(
                row.seq,
                missing=tuple(n for n in named if n not in have),
                extra=tuple(n for n in held if n not in want),
            )
    while head is not None:
        seq, held, head = _take_seq(head, stream)
        yield IndexMismatch(seq, extra=tuple(held), entry_exists=False)


def _take_seq(
    head: tuple[int, str], stream: Iterator[tuple[int, str]]
) -> tuple[int, list[str], tuple[int, str] | None]:
    """The refs of ``head``'s seq, and the first row after them."""
    seq, held = head[0], [head[1]]
    nxt = next(stream, None)
    while nxt is not None and nxt[0] == seq:
        held.append(nxt[1])
        nxt = next(stream, None)
    return seq, held, nxt


class _Counted:
    def __init__(self, rows: Iterator[tuple[int, str]]) -> None:
        self._rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[tuple[int, str]]:
        for row in self._rows:
            self.count += 1
            yield row
