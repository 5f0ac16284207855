"""Presence, state, telemetry and sync messages.

>>> DeviceStatus(device="door-1a2b3c", online=True, boot_id="ab" * 8, since=utcnow()).online
True
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, NonNegativeInt

from .base import BootId, DeviceIdField, ProtocolModel, Timestamp


class LockState(StrEnum):
    """The lock as the device sees it. Only the device says what the lock is."""

    ENGAGED = "engaged"
    RELEASED = "released"
    JAMMED = "jammed"
    UNKNOWN = "unknown"


class DoorState(StrEnum):
    """The door as the device's contact sensor sees it."""

    OPEN = "open"
    CLOSED = "closed"
    UNKNOWN = "unknown"


class DeviceStatus(ProtocolModel):
    """Retained presence. Published ``online`` on connect; the last will says ``offline``."""

    device: DeviceIdField
    online: bool = Field(description="True when the device is connected.")
    boot_id: BootId
    since: Timestamp = Field(description="Device time when this status was set.")
    monotonic_ms: NonNegativeInt = Field(
        default=0, description="Device monotonic clock (ms since boot) when this was set."
    )


class DeviceState(ProtocolModel):
    """Retained lock and door state, published whenever either changes."""

    device: DeviceIdField
    lock: LockState
    door: DoorState
    privacy: bool = Field(default=False, description="True while the camera is paused.")
    boot_id: BootId
    at: Timestamp = Field(description="Device time of the last change.")
    seq: NonNegativeInt = Field(description="Sequence number of the event that caused it.")


class Telemetry(ProtocolModel):
    """Heartbeat with the device's health figures."""

    device: DeviceIdField
    boot_id: BootId
    at: Timestamp = Field(description="Device wall-clock time (may be wrong without NTP).")
    monotonic_ms: NonNegativeInt = Field(description="Device monotonic clock, ms since boot.")
    clock_synced: bool = Field(description="True when the device believes its wall clock.")
    uptime_s: NonNegativeInt = Field(description="Seconds since the agent started.")
    software_version: str = Field(max_length=64, description="Version of the device software.")
    protocol_version: str = Field(
        default="1", max_length=16, description="Highest schema version the device speaks."
    )
    cpu_temp_c: float | None = Field(
        default=None, ge=-60, le=150, description="CPU temperature in degrees Celsius."
    )
    disk_free_bytes: NonNegativeInt | None = Field(
        default=None, description="Free bytes on the disk holding the outbox."
    )
    outbox_depth: NonNegativeInt = Field(description="Messages waiting in the outbox.")
    outbox_bytes: NonNegativeInt = Field(default=0, description="Bytes held by the outbox.")
    outbox_dropped: NonNegativeInt = Field(
        default=0, description="Messages the outbox had to drop since it was created."
    )
    last_seq: NonNegativeInt = Field(default=0, description="Highest sequence number issued.")
    command_counter: NonNegativeInt = Field(
        default=0, description="Highest command counter accepted so far."
    )
    heartbeat_interval_s: int = Field(
        default=30, ge=1, le=3600, description="Seconds until the next heartbeat is due."
    )


class Sync(ProtocolModel):
    """Retained, hub -> device: every seq up to and including ``stored_through`` is settled.

    Settled = stored durably by the hub, or declared dropped by an ``outbox_overflow``.
    """

    device: DeviceIdField
    stored_through: NonNegativeInt = Field(
        description="Every sequence number up to and including this one is stored by the hub "
        "(or was declared dropped); the device may delete those from its outbox."
    )
    at: Timestamp = Field(description="Hub time when this was published.")
