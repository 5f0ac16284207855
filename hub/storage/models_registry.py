"""Tables of who and what: homes, people, their roles per home, and devices.

Personal data (names, contact details) lives only in ``people`` so that erasing a
person deletes one row; everything else refers to people by id.

    >>> Role.CARER.value
    'carer'
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from protocol.device import DoorState, LockState

from .types import Base, BigIntId, EnumText, Json, UTCDateTime


class Role(StrEnum):
    FAMILY_OWNER = "family_owner"
    FAMILY_MEMBER = "family_member"
    CARER = "carer"
    TELECARE_OFFICER = "telecare_officer"
    ADMIN = "admin"


class Grant(StrEnum):
    """Extra rights a membership can carry beyond its role's defaults."""

    TELECARE_MAY_VIEW_SNAPSHOTS = "telecare_may_view_snapshots"
    TELECARE_MAY_UNLOCK = "telecare_may_unlock"
    MAY_UNLOCK = "may_unlock"


class DeviceHealth(StrEnum):
    UNKNOWN = "unknown"
    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"


class Home(Base):
    __tablename__ = "homes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    retention_days: Mapped[int] = mapped_column(Integer)
    policies: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Person(Base):
    """The only table holding personal data about people; erasable row by row."""

    __tablename__ = "people"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (Unique("person_id", "home_id", "role"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    home_id: Mapped[str] = mapped_column(ForeignKey("homes.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(EnumText(Role))
    grants: Mapped[list[str]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Device(Base):
    """A door device: identity, key, presence and the last things it reported."""

    __tablename__ = "devices"
    __table_args__ = (
        # The health monitor's sweeps (migration 0004): silent devices by health, and
        # doors open / unlocked since a given time, each a range read instead of a scan.
        Index("ix_devices_health_last_seen", "health", "last_seen"),
        Index("ix_devices_door_state_state_received_at", "door_state", "state_received_at"),
        Index("ix_devices_lock_state_state_received_at", "lock_state", "state_received_at"),
    )

    id: Mapped[str] = mapped_column(String(63), primary_key=True)
    home_id: Mapped[str | None] = mapped_column(
        ForeignKey("homes.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    public_key_pem: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Presence and health (hub clock).
    health: Mapped[DeviceHealth] = mapped_column(EnumText(DeviceHealth))
    health_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    boot_id: Mapped[str | None] = mapped_column(String(64))

    # Last telemetry (device figures; telemetry_at is the device's own clock).
    software_version: Mapped[str | None] = mapped_column(String(64))
    protocol_version: Mapped[str | None] = mapped_column(String(16))
    telemetry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    telemetry_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clock_synced: Mapped[bool | None] = mapped_column(Boolean)
    monotonic_ms: Mapped[int | None] = mapped_column(BigInteger)
    uptime_s: Mapped[int | None] = mapped_column(BigInteger)
    cpu_temp_c: Mapped[float | None] = mapped_column(Float)
    disk_free_bytes: Mapped[int | None] = mapped_column(BigInteger)
    outbox_depth: Mapped[int | None] = mapped_column(BigInteger)
    outbox_bytes: Mapped[int | None] = mapped_column(BigInteger)
    outbox_dropped: Mapped[int | None] = mapped_column(BigInteger)
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    device_command_counter: Mapped[int | None] = mapped_column(BigInteger)
    heartbeat_interval_s: Mapped[int | None] = mapped_column(Integer)

    # Lock and door exactly as the device last reported them (never assumed).
    lock_state: Mapped[LockState] = mapped_column(EnumText(LockState))
    door_state: Mapped[DoorState] = mapped_column(EnumText(DoorState))
    privacy: Mapped[bool] = mapped_column(Boolean)
    state_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state_seq: Mapped[int | None] = mapped_column(BigInteger)

    # Every sequence number up to this one is stored or declared lost by the device.
    stored_through: Mapped[int] = mapped_column(BigInteger)
