"""The device registry: registration, presence, health and what devices last reported.

Updates are single conditional ``UPDATE`` statements, so several hub processes
can apply heartbeats and states for one device at once without losing the newest
(``last_seen`` only moves forward; an older ``DeviceState`` never overwrites a newer one).

    register_device(s, device_id="door-1a2b3c", name="Front", public_key_pem=pem, at=now)
    record_telemetry(s, telemetry, received_at=now)
    record_telemetries(s, [(telemetry, now), ...])     # a whole ingest batch at once
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import bindparam, case, or_, select, update
from sqlalchemy.orm import Session

from protocol.device import DeviceState, DeviceStatus, DoorState, LockState, Telemetry
from protocol.ids import check_device_id

from ..errors import AlreadyExists, UnknownDevice
from .in_batches import read_in_batches
from .models_registry import Device, DeviceHealth
from .types import UTCDateTime


def register_device(
    session: Session,
    *,
    device_id: str,
    name: str,
    public_key_pem: str,
    at: datetime,
    home_id: str | None = None,
) -> Device:
    """Add a device (its ack-signing public key pinned); registering twice is an error."""
    check_device_id(device_id)
    if session.get(Device, device_id) is not None:
        raise AlreadyExists(
            f"device {device_id!r} is registered already: use set_device_key() to change its key"
        )
    device = Device(
        id=device_id,
        home_id=home_id,
        name=name,
        public_key_pem=public_key_pem,
        registered_at=at,
        health=DeviceHealth.UNKNOWN,
        lock_state=LockState.UNKNOWN,
        door_state=DoorState.UNKNOWN,
        privacy=False,
        stored_through=0,
    )
    session.add(device)
    session.flush()
    return device


def find_device(session: Session, device_id: str) -> Device | None:
    return session.get(Device, device_id, populate_existing=True)


def get_device(session: Session, device_id: str) -> Device:
    device = find_device(session, device_id)
    if device is None:
        raise UnknownDevice(
            f"device {device_id!r} is not registered: add it with 'doorstep provision add-device'"
        )
    return device


def is_active_device(session: Session, device_id: str) -> bool:
    """True when the device is registered and not revoked (ingest refuses the rest)."""
    row = session.execute(select(Device.revoked_at).where(Device.id == device_id)).one_or_none()
    return row is not None and row.revoked_at is None


def list_devices(
    session: Session, *, home_id: str | None = None, include_revoked: bool = False
) -> list[Device]:
    stmt = select(Device).order_by(Device.id)
    if home_id is not None:
        stmt = stmt.where(Device.home_id == home_id)
    if not include_revoked:
        stmt = stmt.where(Device.revoked_at.is_(None))
    return list(session.scalars(stmt))


def devices_of_homes(session: Session, home_ids: Collection[str]) -> list[Device]:
    """The active devices of several homes in one read per batch, by home then id."""
    found = read_in_batches(
        session,
        home_ids,
        lambda ids: select(Device).where(Device.home_id.in_(ids), Device.revoked_at.is_(None)),
    )
    return sorted(found, key=lambda d: (d.home_id or "", d.id))


def set_device_key(session: Session, device_id: str, public_key_pem: str) -> None:
    _update(session, device_id, public_key_pem=public_key_pem)


def assign_home(session: Session, device_id: str, home_id: str | None) -> None:
    _update(session, device_id, home_id=home_id)


def revoke_device(session: Session, device_id: str, at: datetime) -> None:
    _update(session, device_id, revoked_at=at)


def record_seen(session: Session, device_id: str, at: datetime) -> None:
    """Note that the device was heard from at ``at`` (hub clock); never moves backwards."""
    session.execute(
        update(Device)
        .where(Device.id == device_id)
        .where(or_(Device.last_seen.is_(None), Device.last_seen < at))
        .values(last_seen=at)
    )


def set_health(
    session: Session,
    device_id: str,
    health: DeviceHealth,
    at: datetime,
    *,
    silent_since: datetime | None = None,
) -> bool:
    """Set the health; True if it changed (so the caller raises or resolves alerts once).

    With ``silent_since``, only if the device has still not been heard from since
    then: a heartbeat stored meanwhile by another transaction wins over the monitor.
    """
    stmt = (
        update(Device)
        .where(Device.id == device_id)
        .where(Device.health != DeviceHealth(health))
        .values(health=DeviceHealth(health), health_changed_at=at)
    )
    if silent_since is not None:
        stmt = stmt.where(or_(Device.last_seen.is_(None), Device.last_seen < silent_since))
    result = session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def record_status(session: Session, status: DeviceStatus, received_at: datetime) -> bool:
    """Apply a presence message (``online`` on connect, the last will's ``offline``)."""
    health = DeviceHealth.ONLINE if status.online else DeviceHealth.OFFLINE
    values: dict[str, object] = {"boot_id": status.boot_id}
    before = session.execute(
        select(Device.boot_id).where(Device.id == status.device)
    ).scalar_one_or_none()
    if before != status.boot_id:
        # A new boot may run other (older) software: commands go as v1, which every
        # door speaks, until its first heartbeat says which protocol version it speaks.
        values["protocol_version"] = None
    _update(session, status.device, **values)
    if status.online:
        record_seen(session, status.device, received_at)
    return set_health(session, status.device, health, received_at)


_devices = Device.__table__
_TELEMETRY_FIELDS = (
    "boot_id",
    "software_version",
    "protocol_version",
    "clock_synced",
    "monotonic_ms",
    "uptime_s",
    "cpu_temp_c",
    "disk_free_bytes",
    "outbox_depth",
    "outbox_bytes",
    "outbox_dropped",
    "last_seq",
    "heartbeat_interval_s",
)
_received = bindparam("received", type_=UTCDateTime())
# One prebuilt statement: 100,000 devices at one heartbeat a minute is 1,667 of these a second.
_RECORD_TELEMETRY = (
    update(_devices)
    .where(_devices.c.id == bindparam("device"))
    .where(
        or_(
            _devices.c.telemetry_received_at.is_(None),
            _devices.c.telemetry_received_at <= _received,
        )
    )
    .values(
        {name: bindparam(f"t_{name}") for name in _TELEMETRY_FIELDS}
        | {
            "telemetry_at": bindparam("t_at"),
            "telemetry_received_at": _received,
            "device_command_counter": bindparam("t_counter"),
            "last_seen": case(
                (_devices.c.last_seen.is_(None), _received),
                (_devices.c.last_seen < _received, _received),
                else_=_devices.c.last_seen,
            ),
        }
    )
)


def record_telemetry(session: Session, telemetry: Telemetry, received_at: datetime) -> bool:
    """Keep the newest heartbeat's figures and note the device as seen.

    False if a newer heartbeat is stored already (a late one is ignored).
    """
    params = {f"t_{name}": getattr(telemetry, name) for name in _TELEMETRY_FIELDS} | {
        "device": telemetry.device,
        "received": received_at,
        "t_at": telemetry.at,
        "t_counter": telemetry.command_counter,
    }
    result = session.connection().execute(_RECORD_TELEMETRY, params)
    return bool(result.rowcount)


def record_telemetries(session: Session, heartbeats: Sequence[tuple[Telemetry, datetime]]) -> None:
    """Apply many heartbeats (each with its hub receive time) in one executemany.

    Ingest calls this once per batch: at 100,000 devices a heartbeat a minute, one
    statement per message cost more than the rest of ingest together. Only the newest
    heartbeat per device is sent to the database; the conditional UPDATE keeps a
    newer one already stored by another hub.
    """
    newest: dict[str, tuple[Telemetry, datetime]] = {}
    for telemetry, received_at in heartbeats:
        held = newest.get(telemetry.device)
        if held is None or held[1] <= received_at:
            newest[telemetry.device] = (telemetry, received_at)
    if not newest:
        return
    rows = [
        {f"t_{name}": getattr(t, name) for name in _TELEMETRY_FIELDS}
        | {"device": t.device, "received": at, "t_at": t.at, "t_counter": t.command_counter}
        for t, at in newest.values()
    ]
    session.connection().execute(_RECORD_TELEMETRY, rows)


def not_online(session: Session, device_ids: Sequence[str]) -> dict[str, datetime | None]:
    """Those of ``device_ids`` not counted online, with when their health last changed."""
    if not device_ids:
        return {}
    stmt = (
        select(Device.id, Device.health_changed_at)
        .where(Device.id.in_(sorted(set(device_ids))))
        .where(Device.health != DeviceHealth.ONLINE)
        .order_by(Device.id)
    )
    return {row.id: row.health_changed_at for row in session.execute(stmt)}


def record_state(session: Session, state: DeviceState, received_at: datetime) -> bool:
    """Keep the lock/door state the device reported; False if a newer one is stored."""
    result = session.execute(
        update(Device)
        .where(Device.id == state.device)
        .where(or_(Device.state_seq.is_(None), Device.state_seq <= state.seq))
        .values(
            lock_state=state.lock,
            door_state=state.door,
            privacy=state.privacy,
            state_at=state.at,
            state_received_at=received_at,
            state_seq=state.seq,
            boot_id=state.boot_id,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def silent_devices(session: Session, since: datetime) -> list[Device]:
    """Active devices not heard from since ``since`` (candidates for degraded / offline)."""
    stmt = (
        select(Device)
        .where(Device.revoked_at.is_(None))
        .where(or_(Device.last_seen.is_(None), Device.last_seen < since))
        .order_by(Device.id)
    )
    return list(session.scalars(stmt))


def _update(session: Session, device_id: str, **values: object) -> None:
    result = session.execute(update(Device).where(Device.id == device_id).values(**values))
    if not result.rowcount:  # type: ignore[attr-defined]
        raise UnknownDevice(f"device {device_id!r} is not registered: register it first")
