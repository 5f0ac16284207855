"""Rows of the audit log: the storage half of ``hub.audit`` (which hashes and checks).

Appends are serialised by locking the single ``audit_head`` row (``SELECT ... FOR
UPDATE`` on PostgreSQL; on SQLite the session's ``BEGIN IMMEDIATE`` already holds
the database's write lock), so two hub processes can never both append seq N.

    seq, head_hash = lock_audit_head(session)
    insert_audit_rows(session, [row])
    move_audit_head(session, row.seq, row.hash)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from ..errors import MigrationError
from .models_audit import HEAD_ROW_ID, AuditCheckpointRow, AuditEntryRow, AuditHead, AuditRefRow

_ENTRIES = AuditEntryRow.__table__
_REFS = AuditRefRow.__table__
_HEAD = AuditHead.__table__
# Built once: on the append path, building a statement costs more than running it.
_LOCK_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ROW_ID).with_for_update()
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ROW_ID)
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == HEAD_ROW_ID)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_INSERT = insert(_ENTRIES)
_INSERT_REFS = insert(_REFS)
_COLUMNS = (
    _ENTRIES.c.seq,
    _ENTRIES.c.at,
    _ENTRIES.c.actor,
    _ENTRIES.c.action,
    _ENTRIES.c.subjects,
    _ENTRIES.c.details,
    _ENTRIES.c.prev_hash,
    _ENTRIES.c.hash,
)


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit entry exactly as stored."""

    seq: int
    at: datetime
    actor: str
    action: str
    subjects: tuple[str, ...]
    details: dict[str, Any] = field(hash=False)
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    id: int
    seq: int
    hash: str
    signed_at: datetime
    key_id: str
    envelope: str


def lock_audit_head(session: Session) -> tuple[int, str]:
    """Lock the head for this transaction and return (last seq, last hash)."""
    row = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ROW_ID).with_for_update()
    ).one_or_none()
    if row is None:
        raise MigrationError("the audit_head row is missing: run 'doorstep hub migrate'")
    return int(row.seq), str(row.hash)


def read_audit_head(session: Session) -> tuple[int, str]:
    """(last seq, last hash) as the head row says, without locking it."""
    row = session.execute(_READ_HEAD).one()
    return int(row.seq), str(row.hash)


def insert_audit_rows(session: Session, rows: Sequence[AuditRow]) -> None:
    """Insert the entries and, in the same transaction, their rows of the reference index
    (so the index can never disagree with the chain): two INSERTs however many rows."""
    if not rows:
        return
    session.execute(
        _INSERT,
        [
            {
                "seq": r.seq,
                "at": r.at,
                "actor": r.actor,
                "action": r.action,
                "subjects": list(r.subjects),
                "details": r.details,
                "prev_hash": r.prev_hash,
                "hash": r.hash,
            }
            for r in rows
        ],
    )
    session.execute(
        _INSERT_REFS,
        [{"ref": name, "seq": r.seq} for r in rows for name in entry_refs(r.actor, r.subjects)],
    )


def entry_refs(actor: str, subjects: Sequence[str]) -> list[str]:
    """The distinct references an entry names (actor first), as the index holds them."""
    return list(dict.fromkeys((actor, *subjects)))


def move_audit_head(session: Session, seq: int, hash_: str) -> None:
    session.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": hash_})


def iter_audit_rows(
    session: Session, *, after: int = 0, until: int | None = None, batch: int = 5000
) -> Iterator[AuditRow]:
    """Entries in seq order, fetched in batches (keyset paging: constant memory)."""
    last = after
    while True:
        stmt = select(*_COLUMNS).where(_ENTRIES.c.seq > last)
        if until is not None:
            stmt = stmt.where(_ENTRIES.c.seq <= until)
        rows = session.execute(stmt.order_by(_ENTRIES.c.seq).limit(batch)).all()
        for r in rows:
            yield row_of(r)
        if len(rows) < batch:
            return
        last = rows[-1].seq


def audit_row(session: Session, seq: int) -> AuditRow | None:
    found = session.execute(select(*_COLUMNS).where(_ENTRIES.c.seq == seq)).one_or_none()
    return None if found is None else row_of(found)


def count_audit_rows(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(_ENTRIES)).scalar_one())


def add_checkpoint(
    session: Session, *, seq: int, hash_: str, signed_at: datetime, key_id: str, envelope: str
) -> CheckpointRecord:
    row = AuditCheckpointRow(
        seq=seq, hash=hash_, signed_at=signed_at, key_id=key_id, envelope=envelope
    )
    session.add(row)
    session.flush()
    return _checkpoint(row)


def list_checkpoints(session: Session, *, after_seq: int = -1) -> list[CheckpointRecord]:
    stmt = (
        select(AuditCheckpointRow)
        .where(AuditCheckpointRow.seq > after_seq)
        .order_by(AuditCheckpointRow.seq, AuditCheckpointRow.id)
    )
    return [_checkpoint(r) for r in session.scalars(stmt)]


def latest_checkpoint(session: Session) -> CheckpointRecord | None:
    stmt = select(AuditCheckpointRow).order_by(
        AuditCheckpointRow.signed_at.desc(), AuditCheckpointRow.id.desc()
    )
    row = session.scalars(stmt.limit(1)).one_or_none()
    return None if row is None else _checkpoint(row)


def row_of(r: Any) -> AuditRow:
    """An audit table row (ORM or Core) as an ``AuditRow``."""
    return AuditRow(
        seq=int(r.seq),
        at=r.at,
        actor=r.actor,
        action=r.action,
        subjects=tuple(r.subjects),
        details=r.details,
        prev_hash=r.prev_hash,
        hash=r.hash,
    )


def _checkpoint(r: AuditCheckpointRow) -> CheckpointRecord:
    return CheckpointRecord(
        id=r.id,
        seq=r.seq,
        hash=r.hash,
        signed_at=r.signed_at,
        key_id=r.key_id,
        envelope=r.envelope,
    )
