"""The health monitor's questions to the registry, each an indexed range read.

A pass of the monitor runs every second or so over a fleet that may hold 100,000
devices, so it must never load them all: it asks only for devices whose silence
or lingering state just crossed a threshold (indexes of migration 0004), and
skips doors that already have their alert open.

    for d in presence_candidates(s, degraded_before=t45, offline_before=t90): ...
    for d in lingering_doors(s, door_open_before=t300, unlocked_before=t60): ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.orm import Session

from protocol.device import DoorState, LockState

from .models_commands import Alert, AlertKind
from .models_registry import Device, DeviceHealth


@dataclass(frozen=True, slots=True)
class SilentDevice:
    id: str
    home_id: str | None
    health: DeviceHealth
    last_seen: datetime | None
    registered_at: datetime

    @property
    def heard(self) -> datetime:
        """Last heard from; a device never heard from counts from its registration."""
        return self.last_seen or self.registered_at


@dataclass(frozen=True, slots=True)
class LingeringDoor:
    id: str
    home_id: str | None
    kind: AlertKind  # DOOR_LEFT_OPEN or DOOR_LEFT_UNLOCKED


_COLUMNS = (Device.id, Device.home_id, Device.health, Device.last_seen, Device.registered_at)


def presence_candidates(
    session: Session,
    *,
    degraded_before: datetime,
    offline_before: datetime,
    limit: int | None = None,
) -> list[SilentDevice]:
    """Active devices due to turn degraded or offline; already-offline ones are never read.

    Narrow queries instead of one with ORs, so each is a range read on (health,
    last_seen): online / unknown devices silent since ``degraded_before``, degraded
    ones silent since ``offline_before``; a device never heard from counts from
    its registration. With ``limit``, at most that many (the longest silent first in
    each query), so a caller can work through a fleet-wide silence in small transactions.
    """
    limits = (
        ((DeviceHealth.ONLINE, DeviceHealth.UNKNOWN), degraded_before),
        ((DeviceHealth.DEGRADED,), offline_before),
    )
    found: dict[str, SilentDevice] = {}
    for healths, before in limits:
        conditions: Sequence[tuple[ColumnElement[bool], ColumnElement[Any]]] = (
            (Device.last_seen < before, Device.last_seen),
            (
                and_(Device.last_seen.is_(None), Device.registered_at < before),
                Device.registered_at,
            ),
        )
        for condition, oldest_first in conditions:
            stmt = (
                select(*_COLUMNS)
                .where(Device.health.in_(healths), condition, Device.revoked_at.is_(None))
                .order_by(oldest_first)
                .limit(limit)
            )
            for row in session.execute(stmt):
                found[row.id] = SilentDevice(*row)
    return [found[k] for k in sorted(found)][:limit]


def _no_open_alert(kind: AlertKind) -> ColumnElement[bool]:
    return ~exists().where(
        Alert.scope == Device.id, Alert.kind == kind, Alert.resolved_at.is_(None)
    )


def lingering_doors(
    session: Session, *, door_open_before: datetime, unlocked_before: datetime
) -> list[LingeringDoor]:
    """Doors reported open / released since before the limits and not yet alerted."""
    asks = (
        (AlertKind.DOOR_LEFT_OPEN, Device.door_state == DoorState.OPEN, door_open_before),
        (AlertKind.DOOR_LEFT_UNLOCKED, Device.lock_state == LockState.RELEASED, unlocked_before),
    )
    out: list[LingeringDoor] = []
    for kind, state_is, before in asks:
        stmt = (
            select(Device.id, Device.home_id)
            .where(state_is, Device.state_received_at < before, Device.revoked_at.is_(None))
            .where(_no_open_alert(kind))
            .order_by(Device.id)
        )
        out += [LingeringDoor(row.id, row.home_id, kind) for row in session.execute(stmt)]
    return out
