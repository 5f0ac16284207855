"""Tables of what the hub asked doors to do, and the alerts it raised.

>>> CommandStatus.UNKNOWN.value   # a timeout: never "failed", never retried
'unknown'
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from .types import Base, BigIntId, EnumText, Json, UTCDateTime


class CommandStatus(StrEnum):
    REQUESTED = "requested"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"  # the device's signed ack says it executed
    REJECTED = "rejected"  # the device refused it (signed)
    FAILED = "failed"  # the device tried and could not (signed), or the hub could not send
    UNKNOWN = "unknown"  # no ack in time: the door may or may not have opened


class AlertKind(StrEnum):
    DEVICE_OFFLINE = "device_offline"
    LOCK_JAMMED = "lock_jammed"
    DOOR_LEFT_OPEN = "door_left_open"
    DOOR_LEFT_UNLOCKED = "door_left_unlocked"
    RELOCK_FAILED = "relock_failed"
    UNANSWERED_RING = "unanswered_ring"
    REPEATED_REJECTED_COMMANDS = "repeated_rejected_commands"
    TAMPER = "tamper"
    LOW_DISK = "low_disk"
    AUDIT_CHECKPOINT_OVERDUE = "audit_checkpoint_overdue"
    CARER_NON_ARRIVAL = "carer_non_arrival"


class AlertStatus(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Command(Base):
    __tablename__ = "commands"
    __table_args__ = (Unique("device_id", "counter"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    counter: Mapped[int] = mapped_column(BigInteger)
    # A person or service reference, not a foreign key: erasing a person keeps the history.
    requested_by: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[CommandStatus] = mapped_column(EnumText(CommandStatus))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ack_payload: Mapped[str | None] = mapped_column(Text)
    ack_signature: Mapped[str | None] = mapped_column(String(128))
    ack_key_id: Mapped[str | None] = mapped_column(String(16))
    reject_reason: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


class CommandCounter(Base):
    """The last counter handed out per device; only ever grows."""

    __tablename__ = "command_counters"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    value: Mapped[int] = mapped_column(BigInteger)


class Alert(Base):
    """One alert. ``scope`` says what it is about: a device id, ``home:<id>`` or ``hub``."""

    __tablename__ = "alerts"
    __table_args__ = (
        # At most one open (raised or acknowledged) alert per scope and kind.
        Index(
            "uq_alerts_open_scope_kind",
            "scope",
            "kind",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    kind: Mapped[AlertKind] = mapped_column(EnumText(AlertKind))
    scope: Mapped[str] = mapped_column(String(80))
    device_id: Mapped[str | None] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    home_id: Mapped[str | None] = mapped_column(
        ForeignKey("homes.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[AlertStatus] = mapped_column(EnumText(AlertStatus), index=True)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    occurrences: Mapped[int] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(Json)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(80))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(80))
