"""Read-only queries the exports, reports and metrics need (no writes, ever).

Here in ``hub.storage`` because only storage writes SQL; ``hub.exports`` and
``hub.metrics`` turn what these return into FHIR, CSV/JSON and Prometheus text.
Every function takes a ``Session`` and returns plain values or rows.

    rings = ring_events(s, device_ids, since, until)
    unlocks = unlock_commands(s, device_ids, since, until)
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .audit_rows import AuditRow, row_of
from .models_audit import AuditEntryRow, AuditHead
from .models_commands import Alert, AlertKind, AlertStatus, Command
from .models_events import Event, IngestCounter
from .models_registry import Device, Membership

UNLOCK = "unlock"


def devices_in(session: Session, homes: Collection[str] | None) -> list[Device]:
    """Active and revoked devices of ``homes`` (all devices when None), by id."""
    stmt = select(Device).order_by(Device.id)
    if homes is not None:
        stmt = stmt.where(Device.home_id.in_(sorted(homes)))
    return list(session.scalars(stmt))


def unlock_commands(
    session: Session, device_ids: Collection[str], since: datetime, until: datetime
) -> list[Command]:
    """Unlock commands to these doors created in [since, until), oldest first."""
    if not device_ids:
        return []
    stmt = (
        select(Command)
        .where(Command.action == UNLOCK, Command.device_id.in_(sorted(device_ids)))
        .where(Command.created_at >= since, Command.created_at < until)
        .order_by(Command.created_at, Command.id)
    )
    return list(session.scalars(stmt))


def commands_by_id(session: Session, command_ids: Collection[str]) -> dict[str, Command]:
    if not command_ids:
        return {}
    stmt = select(Command).where(Command.id.in_(sorted(command_ids)))
    return {c.id: c for c in session.scalars(stmt)}


def audit_rows_between(
    session: Session, actions: Collection[str], since: datetime, until: datetime
) -> list[AuditRow]:
    """Entries with one of ``actions`` recorded in [since, until), in chain order."""
    E = AuditEntryRow
    stmt = (
        select(E).where(E.action.in_(sorted(actions)), E.at >= since, E.at < until).order_by(E.seq)
    )
    return [row_of(r) for r in session.scalars(stmt)]


def events_of_kinds(
    session: Session,
    device_ids: Collection[str],
    kinds: Collection[str],
    since: datetime,
    until: datetime,
) -> list[tuple[str, str, str, datetime, datetime]]:
    """(device, event id, kind, received_at, device_time) received in [since, until)."""
    if not device_ids:
        return []
    stmt = (
        select(Event.device_id, Event.event_id, Event.kind, Event.received_at, Event.device_time)
        .where(Event.device_id.in_(sorted(device_ids)), Event.kind.in_(sorted(kinds)))
        .where(Event.received_at >= since, Event.received_at < until)
        .order_by(Event.received_at, Event.seq)
    )
    return [tuple(r) for r in session.execute(stmt)]  # type: ignore[misc]


def offline_alerts(
    session: Session, device_ids: Collection[str], until: datetime
) -> list[tuple[str, datetime, datetime | None]]:
    """(device, raised_at, resolved_at) of every device_offline alert raised before ``until``."""
    if not device_ids:
        return []
    stmt = (
        select(Alert.device_id, Alert.raised_at, Alert.resolved_at)
        .where(Alert.kind == AlertKind.DEVICE_OFFLINE, Alert.raised_at < until)
        .where(Alert.device_id.in_(sorted(device_ids)))
        .order_by(Alert.device_id, Alert.raised_at)
    )
    return [tuple(r) for r in session.execute(stmt)]  # type: ignore[misc]


def roles_in_homes(
    session: Session, person_ids: Collection[str], homes: Collection[str]
) -> dict[tuple[str, str], set[str]]:
    """(person, home) -> the roles the person holds there now."""
    if not person_ids or not homes:
        return {}
    stmt = select(Membership.person_id, Membership.home_id, Membership.role).where(
        Membership.person_id.in_(sorted(person_ids)), Membership.home_id.in_(sorted(homes))
    )
    out: dict[tuple[str, str], set[str]] = {}
    for person, home, role in session.execute(stmt):
        out.setdefault((person, home), set()).add(str(getattr(role, "value", role)))
    return out


# -- metrics: a handful of aggregates, each one indexed read or a small group-by ----------


def device_health_counts(session: Session) -> dict[str, int]:
    stmt = (
        select(Device.health, func.count())
        .where(Device.revoked_at.is_(None))
        .group_by(Device.health)
    )
    return {str(getattr(h, "value", h)): int(n) for h, n in session.execute(stmt)}


def open_alert_counts(session: Session) -> dict[tuple[str, str], int]:
    """(kind, status) -> open alerts (raised or acknowledged)."""
    stmt = (
        select(Alert.kind, Alert.status, func.count())
        .where(Alert.resolved_at.is_(None))
        .group_by(Alert.kind, Alert.status)
    )
    return {
        (str(getattr(k, "value", k)), str(getattr(s, "value", s))): int(n)
        for k, s, n in session.execute(stmt)
        if str(getattr(s, "value", s)) != AlertStatus.RESOLVED.value
    }


def command_status_counts(session: Session) -> dict[tuple[str, str], int]:
    stmt = select(Command.action, Command.status, func.count()).group_by(
        Command.action, Command.status
    )
    return {
        (action, str(getattr(status, "value", status))): int(n)
        for action, status, n in session.execute(stmt)
    }


def stored_event_count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(Event)).scalar_one())


def events_received_since(session: Session, since: datetime) -> int:
    stmt = select(func.count()).select_from(Event).where(Event.received_at >= since)
    return int(session.execute(stmt).scalar_one())


def newest_event_received(session: Session) -> datetime | None:
    return session.execute(select(func.max(Event.received_at))).scalar_one()  # type: ignore[no-any-return]


def ingest_problem_counts(session: Session) -> dict[tuple[str, str], int]:
    columns = (IngestCounter.category, IngestCounter.reason, IngestCounter.count)
    return {(c, r): int(n) for c, r, n in session.execute(select(*columns))}


def outbox_figures(session: Session) -> dict[str, int]:
    """Sums and maximum of what the doors' last heartbeats said about their outboxes."""
    stmt = select(
        func.coalesce(func.sum(Device.outbox_depth), 0),
        func.coalesce(func.max(Device.outbox_depth), 0),
        func.coalesce(func.sum(Device.outbox_bytes), 0),
        func.coalesce(func.sum(Device.outbox_dropped), 0),
    ).where(Device.revoked_at.is_(None))
    depth, deepest, size, dropped = session.execute(stmt).one()
    return {"depth": int(depth), "max": int(deepest), "bytes": int(size), "dropped": int(dropped)}


def audit_head_seq(session: Session) -> int:
    found = session.execute(select(AuditHead.seq)).scalar_one_or_none()
    return int(found or 0)


def delivery_status_counts(session: Session) -> dict[tuple[str, str], int]:
    """(channel, status) -> notification deliveries; empty if that table is absent."""
    from .models_notify import DeliveryRow

    stmt = select(DeliveryRow.channel, DeliveryRow.status, func.count()).group_by(
        DeliveryRow.channel, DeliveryRow.status
    )
    return {(c, s): int(n) for c, s, n in session.execute(stmt)}
