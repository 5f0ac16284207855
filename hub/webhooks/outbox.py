"""Writing the webhook outbox inside the caller's transaction, and fanning it out.

``capture_events`` (called by ingest once per batch) and ``capture_alert`` (called by
``hub.storage.alerts``) insert outbox rows in the same transaction as the event or
alert rows: both commit, or neither. ``ce_id`` is unique, so the same event stored
twice (a redelivery, two hub processes) still makes one CloudEvent. ``fan_out`` then
gives each outbox row one delivery per matching subscription, in one transaction
that also marks the row done; run twice, it adds nothing.

    with db.session() as s:
        capture_events(s, events)          # ingest, after storing the batch
    with db.session() as s:
        fan_out(s, now=utcnow())           # the worker, before delivering
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from protocol.base import utcnow
from protocol.events import EventBase

from ..errors import DatabaseUnavailable
from ..storage._dialect import dialect_name, insert_for_dialect
from ..storage.models_commands import Alert
from ..storage.models_events import Event
from ..storage.models_registry import Device
from ..storage.models_webhooks import (
    PENDING,
    WebhookDelivery,
    WebhookOutboxRow,
    WebhookSubscription,
)
from .catalogue import EVENT_KINDS, Occurrence, from_alert, from_event

log = logging.getLogger(__name__)


def _anyone_listening(session: Session) -> bool:
    # A subscription receives what happens after it exists: with none, write nothing.
    return session.execute(select(WebhookSubscription.id).limit(1)).first() is not None


def _homes(session: Session, devices: set[str]) -> dict[str, str | None]:
    rows = session.execute(select(Device.id, Device.home_id).where(Device.id.in_(sorted(devices))))
    return {d: h for d, h in rows}


def _write(session: Session, occurrences: Sequence[Occurrence]) -> None:
    if not occurrences:
        return
    now = utcnow()
    rows = [
        {
            "ce_id": o.ce_id,
            "type": o.type,
            "subject": o.subject,
            "home_id": o.home_id,
            "time": o.time,
            "data": o.data,
            "created_at": now,
            "fanned_out_at": None,
        }
        for o in occurrences
    ]
    # On the table, not the ORM class: one multi-row statement, as ingest does for events.
    insert = insert_for_dialect(dialect_name(session), WebhookOutboxRow.__table__)
    stmt = insert.on_conflict_do_nothing(index_elements=["ce_id"])
    session.execute(stmt, rows)


def capture_events(session: Session, events: Sequence[EventBase]) -> None:
    """Outbox rows for the batch's events that are stored (the caller's transaction).

    In a savepoint: should this code ever fail on some odd event, the doors' events
    are still stored (logged, not retried forever); a database outage still raises.
    """
    wanted = [e for e in events if e.kind in EVENT_KINDS]  # type: ignore[attr-defined]
    if not wanted:
        return
    try:
        with session.begin_nested():
            _capture_events(session, wanted)
    except DatabaseUnavailable:
        raise
    except Exception:
        log.exception("writing %d events to the webhook outbox failed", len(wanted))


def _capture_events(session: Session, wanted: Sequence[EventBase]) -> None:
    if not _anyone_listening(session):
        return
    # Only what is stored under this id: not a conflicting reuse of a seq, nor an
    # event whose savepoint rolled back (the device sends that one again).
    ids = sorted({e.id for e in wanted})
    stored = set(session.scalars(select(Event.event_id).where(Event.event_id.in_(ids))))
    homes = _homes(session, {e.device for e in wanted})
    out: list[Occurrence] = []
    for event in wanted:
        if event.id not in stored:
            continue
        occurrence = from_event(
            event.kind,  # type: ignore[attr-defined]
            _fields(event),
            event.device,
            homes.get(event.device),
            event.at,
        )
        if occurrence is not None:
            out.append(occurrence)
    _write(session, out)


def _fields(event: EventBase) -> dict[str, Any]:
    """The few fields a CloudEvent may carry (cheaper than dumping the whole model)."""
    out: dict[str, Any] = {"id": event.id, "seq": event.seq}
    for name in ("snapshot_id", "state", "cause", "command_id"):
        value = getattr(event, name, None)
        out[name] = getattr(value, "value", value)
    return out


def capture_alert(session: Session, alert: Alert, change: str) -> None:
    """Outbox rows for an alert just raised or resolved (``change``), same transaction."""
    if not _anyone_listening(session):
        return
    home = alert.home_id
    if home is None and alert.device_id is not None:
        home = _homes(session, {alert.device_id}).get(alert.device_id)
    at = alert.raised_at if change == "raised" else (alert.resolved_at or alert.last_raised_at)
    kind = getattr(alert.kind, "value", alert.kind)
    _write(session, from_alert(alert.id, kind, change, alert.device_id, home, at))


def fan_out(session: Session, *, now: datetime, limit: int = 500) -> int:
    """One delivery per (outbox row, matching subscription); returns rows fanned out."""
    rows = list(
        session.scalars(
            select(WebhookOutboxRow)
            .where(WebhookOutboxRow.fanned_out_at.is_(None))
            .order_by(WebhookOutboxRow.id)
            .limit(limit)
        )
    )
    if not rows:
        return 0
    subs = list(session.scalars(select(WebhookSubscription)))
    deliveries = [
        {
            "subscription_id": sub.id,
            "outbox_id": row.id,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for row in rows
        for sub in subs
        if row.type in sub.event_types and sub.home_id in (None, row.home_id)
    ]
    if deliveries:
        insert = insert_for_dialect(dialect_name(session), WebhookDelivery.__table__)
        stmt = insert.on_conflict_do_nothing(index_elements=["subscription_id", "outbox_id"])
        session.execute(stmt, deliveries)
    session.execute(
        update(WebhookOutboxRow)
        .where(WebhookOutboxRow.id.in_([r.id for r in rows]))
        .values(fanned_out_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(rows)
