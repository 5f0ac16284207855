"""Appending to the audit log, inside the caller's transaction.

An append locks the log's head row until the transaction ends, computes each new
entry's hash from the one before, inserts the rows and moves the head. Because it
joins the caller's transaction, a command row and its audit entry commit together
or not at all; because of the lock, several hub processes never fork the chain.

    with db.session() as s:
        append(s, AuditAction.UNLOCK_REQUESTED, actor=person_ref(pid),
               subjects=[device_ref("door-1a2b3c"), command_ref(cid)],
               details={"reason": "carer at the door"}, at=utcnow())
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from ..errors import InvalidAuditEntry
from ..storage.audit_recent import audit_rows_naming_oldest_first
from ..storage.audit_rows import (
    AuditRow,
    audit_row,
    insert_audit_rows,
    iter_audit_rows,
    lock_audit_head,
    move_audit_head,
    read_audit_head,
)
from .actions import AuditAction, check_ref
from .chain import canonical_details, entry_hash, format_time


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry to append; ``seq``, ``prev_hash`` and ``hash`` are the log's to assign."""

    action: AuditAction
    actor: str
    at: datetime
    subjects: Sequence[str] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


def append(
    session: Session,
    action: AuditAction | str,
    *,
    actor: str,
    at: datetime,
    subjects: Sequence[str] = (),
    details: Mapping[str, Any] | None = None,
) -> AuditRow:
    """Append one entry and return it as stored."""
    entry = NewEntry(action, actor, at, subjects, details or {})  # type: ignore[arg-type]
    return append_many(session, [entry])[0]


def append_many(session: Session, entries: Iterable[NewEntry]) -> list[AuditRow]:
    """Append entries in order under one lock of the head (each hashed on its own)."""
    prepared = [_validated(e) for e in entries]
    if not prepared:
        return []
    seq, prev = lock_audit_head(session)
    rows: list[AuditRow] = []
    for entry in prepared:
        seq += 1
        digest = entry_hash(
            seq=seq,
            at=entry.at,
            actor=entry.actor,
            action=entry.action.value,
            subjects=entry.subjects,
            details=entry.details,
            prev_hash=prev,
        )
        rows.append(
            AuditRow(
                seq=seq,
                at=entry.at,
                actor=entry.actor,
                action=entry.action.value,
                subjects=tuple(entry.subjects),
                details=dict(entry.details),
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest
    insert_audit_rows(session, rows)
    move_audit_head(session, seq, prev)
    return rows


def head(session: Session) -> tuple[int, str]:
    """(seq, hash) of the newest entry; (0, all zeros) for an empty log."""
    return read_audit_head(session)


def entries(session: Session, *, after: int = 0, until: int | None = None) -> Iterator[AuditRow]:
    return iter_audit_rows(session, after=after, until=until)


def entries_naming(session: Session, reference: str) -> Iterator[AuditRow]:
    """Entries whose actor or subjects name ``reference``, in chain order (via the index)."""
    return audit_rows_naming_oldest_first(session, check_ref(reference))


def entry(session: Session, seq: int) -> AuditRow | None:
    return audit_row(session, seq)


def _validated(entry: NewEntry) -> NewEntry:
    try:
        action = AuditAction(entry.action)
    except ValueError:
        known = ", ".join(a.value for a in AuditAction)
        raise InvalidAuditEntry(
            f"unknown audit action {entry.action!r}: use one of {known}"
        ) from None
    format_time(entry.at)  # refuses naive times
    if isinstance(entry.subjects, str):
        raise InvalidAuditEntry(f"subjects must be a list of references, not {entry.subjects!r}")
    return NewEntry(
        action=action,
        actor=check_ref(entry.actor),
        at=entry.at.astimezone(UTC),
        subjects=tuple(check_ref(s) for s in entry.subjects),
        details=canonical_details(entry.details),
    )
