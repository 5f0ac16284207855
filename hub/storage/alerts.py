"""Alerts and their lifecycle: raised -> acknowledged -> resolved.

At most one open (raised or acknowledged) alert exists per (scope, kind): a
partial unique index enforces it, and ``raise_alert`` on an open one only counts
another occurrence. ``scope`` is the device id for device alerts, ``home:<id>``
for a home's, ``hub`` for the hub's own.

    alert, new = raise_alert(session, AlertKind.DEVICE_OFFLINE, at=now, device_id="door-1a2b3c")
    acknowledge_alert(session, alert.id, by="person:7", at=now)
    resolve_open_alert(session, AlertKind.DEVICE_OFFLINE, "door-1a2b3c", at=later)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import InvalidTransition, InvalidValue, UnknownAlert
from ..webhooks.outbox import capture_alert  # issue 10: webhook outbox, same transaction
from ._dialect import upsert_insert
from .in_batches import read_in_batches
from .models_commands import Alert, AlertKind, AlertStatus

HUB_SCOPE = "hub"


def alert_scope(device_id: str | None = None, home_id: str | None = None) -> str:
    if device_id and home_id:
        raise InvalidValue("an alert is about a device or a home, not both: pass one")
    if device_id:
        return device_id
    return f"home:{home_id}" if home_id else HUB_SCOPE


def raise_alert(
    session: Session,
    kind: AlertKind,
    *,
    at: datetime,
    device_id: str | None = None,
    home_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    once_per_time: bool = False,
) -> tuple[Alert, bool]:
    """Raise an alert, or count one more occurrence of the open one; True if it is new.

    ``once_per_time``: ``at`` names the occurrence (e.g. the moment a ring went
    unanswered), so another hub process raising the same one is not counted again.
    """
    kind = AlertKind(kind)
    scope = alert_scope(device_id, home_id)
    stmt = (
        upsert_insert(session, Alert)
        .values(
            kind=kind,
            scope=scope,
            device_id=device_id,
            home_id=home_id,
            status=AlertStatus.RAISED,
            raised_at=at,
            last_raised_at=at,
            occurrences=1,
            details=dict(details or {}),
        )
        .on_conflict_do_nothing(
            index_elements=["scope", "kind"], index_where=Alert.resolved_at.is_(None)
        )
        .returning(Alert.id)
    )
    new_id = session.execute(stmt).scalar_one_or_none()
    if new_id is not None:
        alert = _get(session, new_id)
        capture_alert(session, alert, "raised")
        return alert, True
    again = update(Alert).where(
        Alert.scope == scope, Alert.kind == kind, Alert.resolved_at.is_(None)
    )
    if once_per_time:  # one statement: a concurrent hub's update is seen by this WHERE
        again = again.where(Alert.last_raised_at < at)
    session.execute(
        again.values(last_raised_at=at, occurrences=Alert.occurrences + 1).execution_options(
            synchronize_session=False
        )
    )
    existing = open_alert(session, kind, scope)
    if existing is None:  # resolved between our two statements: raise it afresh
        return raise_alert(
            session,
            kind,
            at=at,
            device_id=device_id,
            home_id=home_id,
            details=details,
            once_per_time=once_per_time,
        )
    return existing, False


def acknowledge_alert(session: Session, alert_id: int, *, by: str, at: datetime) -> Alert:
    """Someone has seen it. Acknowledging twice keeps the first acknowledgement."""
    alert = _get(session, alert_id)
    if alert.status is AlertStatus.RESOLVED:
        raise InvalidTransition(f"alert {alert_id} is resolved already: nothing to acknowledge")
    session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.status == AlertStatus.RAISED)
        .values(status=AlertStatus.ACKNOWLEDGED, acknowledged_at=at, acknowledged_by=by)
        .execution_options(synchronize_session=False)
    )
    return _get(session, alert_id)


def resolve_alert(session: Session, alert_id: int, *, at: datetime, by: str | None) -> Alert:
    """Close it (``by=None``: the condition cleared by itself). Resolving twice is a no-op."""
    was_open = _get(session, alert_id).resolved_at is None
    session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.resolved_at.is_(None))
        .values(status=AlertStatus.RESOLVED, resolved_at=at, resolved_by=by)
        .execution_options(synchronize_session=False)
    )
    alert = _get(session, alert_id)
    if was_open:
        capture_alert(session, alert, "resolved")
    return alert


def resolve_open_alert(
    session: Session, kind: AlertKind, scope: str, *, at: datetime, by: str | None = None
) -> Alert | None:
    """Resolve the open alert of this kind and scope, if there is one."""
    alert = open_alert(session, kind, scope)
    return None if alert is None else resolve_alert(session, alert.id, at=at, by=by)


def open_alert(session: Session, kind: AlertKind, scope: str) -> Alert | None:
    stmt = select(Alert).where(
        Alert.kind == AlertKind(kind), Alert.scope == scope, Alert.resolved_at.is_(None)
    )
    return session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()


def open_alert_scopes(session: Session, kind: AlertKind, scopes: Iterable[str]) -> set[str]:
    """Which of ``scopes`` have an open alert of ``kind`` (one query for a whole batch)."""
    wanted = sorted(set(scopes))
    if not wanted:
        return set()
    stmt = select(Alert.scope).where(
        Alert.kind == AlertKind(kind), Alert.scope.in_(wanted), Alert.resolved_at.is_(None)
    )
    return set(session.scalars(stmt))


def open_alerts(
    session: Session,
    *,
    device_id: str | None = None,
    home_id: str | None = None,
    kind: AlertKind | None = None,
) -> list[Alert]:
    stmt = select(Alert).where(Alert.resolved_at.is_(None))
    if device_id is not None:
        stmt = stmt.where(Alert.device_id == device_id)
    if home_id is not None:
        stmt = stmt.where(Alert.home_id == home_id)
    if kind is not None:
        stmt = stmt.where(Alert.kind == AlertKind(kind))
    return list(session.scalars(stmt.order_by(Alert.raised_at, Alert.id)))


def open_alerts_of_devices(session: Session, device_ids: Collection[str]) -> dict[str, list[Alert]]:
    """Open alerts of several devices in one read per batch, oldest first each."""
    out: dict[str, list[Alert]] = {d: [] for d in device_ids}
    found = read_in_batches(
        session,
        device_ids,
        lambda ids: select(Alert).where(Alert.resolved_at.is_(None), Alert.device_id.in_(ids)),
    )
    for alert in sorted(found, key=lambda a: (a.raised_at, a.id)):
        out[alert.device_id].append(alert)  # type: ignore[index]
    return out


def _get(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id, populate_existing=True)
    if alert is None:
        raise UnknownAlert(f"alert {alert_id} does not exist")
    return alert
