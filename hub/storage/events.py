"""Storing device events idempotently by (device, seq).

``store_event`` is safe to call any number of times, from several hub processes
at once: the row goes in with ``INSERT ... ON CONFLICT DO NOTHING``; a repeat
with the same event id is a *duplicate*, one with a different id is a *conflict*
(kept in ``event_conflicts``, never silently dropped). Each call also moves the
device's ``stored_through`` watermark -- the highest seq such that every seq up
to it is stored or was declared lost by an ``outbox_overflow`` -- which is what
the hub's sync message tells the device (see ``sequence``).

    result = store_event(session, event, received_at=utcnow())
    result.outcome, result.stored_through    # (StoreOutcome.INSERTED, 41)
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from protocol.events import EventBase, OutboxOverflowed

from ._dialect import dialect_name, insert_for_dialect
from .models_events import AbandonedSeq, Event, EventConflict, GapStatus, SequenceGap
from .sequence import advance, record_gap, settle_device

__all__ = [
    "EventRecord",
    "StoreOutcome",
    "StoreResult",
    "conflicts_of",
    "declare_abandoned",
    "events_of",
    "gaps",
    "record_gap",
    "store_event",
    "store_events",
    "store_record",
    "store_records",
    "stored_through",
]

_events = Event.__table__


class StoreOutcome(StrEnum):
    INSERTED = "inserted"
    DUPLICATE = "duplicate"  # same (device, seq) and same event id: already stored
    CONFLICT = "conflict"  # same (device, seq), different event id: recorded, not stored


@dataclass(frozen=True, slots=True)
class StoreResult:
    outcome: StoreOutcome
    device: str
    seq: int
    stored_through: int
    new_gap: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """What is stored of any sequenced message (an event or a snapshot's metadata)."""

    device: str
    seq: int
    event_id: str
    kind: str
    boot_id: str
    device_time: datetime
    payload: Mapping[str, Any]
    dropped: tuple[int, ...] = ()  # seqs the device says it lost (outbox_overflow)

    @classmethod
    def of(cls, event: EventBase) -> EventRecord:
        dropped = event.dropped_seqs if isinstance(event, OutboxOverflowed) else ()
        return cls(
            device=event.device,
            seq=event.seq,
            event_id=event.id,
            kind=event.kind,  # type: ignore[attr-defined]
            boot_id=event.boot_id,
            device_time=event.at,
            payload=event.model_dump(mode="json"),
            dropped=tuple(dropped),
        )


@functools.cache
def _inserts(dialect: str) -> tuple[Any, Any, Any]:
    event = (
        insert_for_dialect(dialect, _events)
        .on_conflict_do_nothing(index_elements=["device_id", "seq"])
        .returning(_events.c.device_id, _events.c.seq)
    )
    conflict = insert_for_dialect(dialect, EventConflict.__table__).on_conflict_do_nothing(
        index_elements=["device_id", "seq", "event_id"]
    )
    lost = insert_for_dialect(dialect, AbandonedSeq.__table__).on_conflict_do_nothing()
    return event, conflict, lost


_STORED_ID = select(_events.c.event_id).where(
    _events.c.device_id == bindparam("device"), _events.c.seq == bindparam("seq")
)


def store_event(session: Session, event: EventBase, received_at: datetime) -> StoreResult:
    """Store one decoded protocol event (see the module docstring)."""
    return store_records(session, [EventRecord.of(event)], received_at)[0]


def store_events(
    session: Session, events: Sequence[EventBase], received_at: datetime
) -> list[StoreResult]:
    """Store a batch of events in one go: one multi-row INSERT, then per-device bookkeeping."""
    return store_records(session, [EventRecord.of(e) for e in events], received_at)


def store_record(session: Session, record: EventRecord, received_at: datetime) -> StoreResult:
    return store_records(session, [record], received_at)[0]


def store_records(
    session: Session, records: Sequence[EventRecord], received_at: datetime
) -> list[StoreResult]:
    """Store sequenced messages; results are in the order given."""
    if not records:
        return []
    insert_event, _, insert_lost = _inserts(dialect_name(session))
    firsts: dict[tuple[str, int], EventRecord] = {}
    for record in records:
        firsts.setdefault((record.device, record.seq), record)
    # Sorted keys and devices: two hub processes storing overlapping batches on PostgreSQL
    # then take their row locks in the same order and cannot deadlock.
    rows = [_row(firsts[key], received_at) for key in sorted(firsts)]
    inserted = {(d, int(s)) for d, s in session.execute(insert_event, rows).all()}
    lost = [
        {"device_id": r.device, "seq": s, "declared_by": r.event_id, "declared_at": received_at}
        for key, r in sorted(firsts.items())
        if key in inserted
        for s in sorted(set(r.dropped))
    ]
    if lost:
        session.execute(insert_lost, lost)
    outcomes: list[StoreOutcome] = []
    for record in records:
        key = (record.device, record.seq)
        if key in inserted and firsts[key] is record:
            outcomes.append(StoreOutcome.INSERTED)
        else:
            outcomes.append(_duplicate_or_conflict(session, record, received_at))
    settled = {
        device: settle_device(session, device, [s for d, s in inserted if d == device], received_at)
        for device in sorted({r.device for r in records})
    }
    return [
        StoreResult(
            outcome,
            r.device,
            r.seq,
            settled[r.device][0],
            settled[r.device][1].get(r.seq) if outcome is StoreOutcome.INSERTED else None,
        )
        for r, outcome in zip(records, outcomes, strict=True)
    ]


def stored_through(session: Session, device: str, at: datetime | None = None) -> int:
    """Highest seq with every seq up to it stored or declared lost (0: nothing yet).

    Also catches the watermark up if concurrent writers each missed the other's row.
    """
    return advance(session, device, at or datetime.now(UTC))


def declare_abandoned(
    session: Session, device: str, seqs: Iterable[int], declared_by: str, at: datetime
) -> int:
    """Record seqs that will never arrive (the device's outbox dropped them)."""
    rows = [
        {"device_id": device, "seq": s, "declared_by": declared_by, "declared_at": at}
        for s in sorted(set(seqs))
    ]
    if rows:
        session.execute(_inserts(dialect_name(session))[2], rows)
        advance(session, device, at)
    return len(rows)


def gaps(session: Session, device: str, status: GapStatus | None = None) -> list[SequenceGap]:
    stmt = select(SequenceGap).where(SequenceGap.device_id == device)
    if status is not None:
        stmt = stmt.where(SequenceGap.status == GapStatus(status))
    stmt = stmt.order_by(SequenceGap.from_seq).execution_options(populate_existing=True)
    return list(session.scalars(stmt))


def events_of(
    session: Session, device: str, *, after_seq: int = 0, limit: int = 1000
) -> list[Event]:
    stmt = (
        select(Event)
        .where(Event.device_id == device, Event.seq > after_seq)
        .order_by(Event.seq)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def rings_received_after(
    session: Session, devices: Iterable[str], after: datetime, *, limit: int = 5
) -> list[Event]:
    """The newest ``limit`` rings of ``devices`` the hub received after ``after``, oldest
    first: what a live stream that was down has missed."""
    names = sorted(devices)
    if not names:
        return []
    stmt = (
        select(Event)
        .where(Event.device_id.in_(names), Event.kind == "ring", Event.received_at > after)
        .order_by(Event.received_at.desc(), Event.id.desc())
        .limit(limit)
    )
    return list(reversed(list(session.scalars(stmt))))


def conflicts_of(session: Session, device: str) -> list[EventConflict]:
    stmt = select(EventConflict).where(EventConflict.device_id == device)
    return list(session.scalars(stmt.order_by(EventConflict.seq, EventConflict.id)))


def _row(record: EventRecord, received_at: datetime) -> dict[str, Any]:
    return {
        "device_id": record.device,
        "seq": record.seq,
        "event_id": record.event_id,
        "kind": record.kind,
        "boot_id": record.boot_id,
        "device_time": record.device_time,
        "received_at": received_at,
        "payload": dict(record.payload),
    }


def _duplicate_or_conflict(
    session: Session, record: EventRecord, received_at: datetime
) -> StoreOutcome:
    stored_id = session.execute(
        _STORED_ID, {"device": record.device, "seq": record.seq}
    ).scalar_one()
    if stored_id == record.event_id:
        return StoreOutcome.DUPLICATE
    conflict = _row(record, received_at) | {"stored_event_id": stored_id}
    del conflict["boot_id"], conflict["device_time"]
    session.execute(_inserts(dialect_name(session))[1], conflict)
    return StoreOutcome.CONFLICT
