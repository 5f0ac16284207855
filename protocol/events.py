"""Device events: one model per kind, all sharing the same header.

Every event carries a unique id, the device's strictly increasing ``seq`` and
the device's own time. The hub stores by (device, seq): duplicates are harmless
and gaps are visible.

    >>> ev = DoorbellRang(device="door-1a2b3c", id=new_message_id(), seq=1,
    ...                   boot_id="ab" * 8, at=utcnow(), monotonic_ms=5)
    >>> ev.kind
    'ring'
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, NonNegativeInt, PositiveInt, TypeAdapter

from .base import BootId, DeviceIdField, MessageId, ProtocolModel, Timestamp
from .device import DoorState, LockState


class EventBase(ProtocolModel):
    """The header every event shares; ``kind`` (also the topic's last level) says which."""

    device: DeviceIdField
    id: MessageId
    seq: PositiveInt = Field(description="Device sequence number, strictly increasing, from 1.")
    boot_id: BootId
    at: Timestamp = Field(description="Device time of the event.")
    monotonic_ms: NonNegativeInt = Field(description="Device monotonic clock at the event.")


class DoorbellRang(EventBase):
    """The bell was pressed. The snapshot (if any) was published before this event."""

    kind: Literal["ring"] = "ring"
    snapshot_id: MessageId | None = Field(
        default=None, description="Id of the snapshot taken at the press, if one was taken."
    )


class DoorOpened(EventBase):
    """The door contact opened."""

    kind: Literal["door_opened"] = "door_opened"


class DoorClosed(EventBase):
    """The door contact closed."""

    kind: Literal["door_closed"] = "door_closed"


class LockCause(StrEnum):
    """Why the lock changed."""

    BOOT = "boot"
    COMMAND = "command"
    RELOCK_TIMER = "relock_timer"
    DOOR_CLOSED = "door_closed"
    MANUAL = "manual"
    FAULT = "fault"


class LockChanged(EventBase):
    """The lock reached (or failed to reach) a state."""

    kind: Literal["lock_changed"] = "lock_changed"
    state: LockState
    cause: LockCause
    command_id: MessageId | None = Field(
        default=None, description="The command that caused the change, if any."
    )
    door: DoorState = DoorState.UNKNOWN


class TamperReason(StrEnum):
    """What looked like tampering (or its end)."""

    CAMERA_LOST = "camera_lost"
    CAMERA_RESTORED = "camera_restored"
    CASE_OPENED = "case_opened"
    REPEATED_BAD_COMMANDS = "repeated_bad_commands"


class TamperDetected(EventBase):
    """Something that may be tampering: camera lost, case opened, repeated bad commands."""

    kind: Literal["tamper"] = "tamper"
    reason: TamperReason
    detail: str = Field(default="", max_length=500, description="Free text for people.")


class PrivacyChanged(EventBase):
    """The privacy switch paused or resumed the camera."""

    kind: Literal["privacy_changed"] = "privacy_changed"
    privacy: bool = Field(description="True while the camera is paused.")


class OutboxOverflowed(EventBase):
    """The outbox had to drop messages; their sequence numbers will never arrive."""

    kind: Literal["outbox_overflow"] = "outbox_overflow"
    dropped_seqs: list[PositiveInt] = Field(
        max_length=10_000, description="Sequence numbers that will never be sent."
    )
    reason: Literal["bytes", "age", "count"] = Field(
        description="Which outbox limit was hit: total bytes, message age or message count."
    )


AnyEvent = Annotated[
    DoorbellRang
    | DoorOpened
    | DoorClosed
    | LockChanged
    | TamperDetected
    | PrivacyChanged
    | OutboxOverflowed,
    Field(discriminator="kind"),
]
EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)
EVENT_KINDS: dict[str, type[EventBase]] = {
    cls.model_fields["kind"].default: cls
    for cls in (
        DoorbellRang,
        DoorOpened,
        DoorClosed,
        LockChanged,
        TamperDetected,
        PrivacyChanged,
        OutboxOverflowed,
    )
}
