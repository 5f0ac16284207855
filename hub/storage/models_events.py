"""Tables of what devices sent: events, conflicts, gaps, lost sequence numbers,
snapshots, and counts of what ingest refused.

Snapshots share the device's sequence numbers with events, so every snapshot is
also an ``events`` row (kind ``snapshot``): one UNIQUE(device, seq) covers both.

    >>> GapStatus.OPEN.value
    'open'
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from .types import Base, BigIntId, EnumText, Json, UTCDateTime

SNAPSHOT_KIND = "snapshot"


class GapStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"  # every missing message arrived
    ABANDONED = "abandoned"  # some never will: the device's outbox dropped them


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Unique("device_id", "seq"),
        Index("ix_events_device_id_kind_device_time", "device_id", "kind", "device_time"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    boot_id: Mapped[str] = mapped_column(String(64))
    device_time: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(Json)


class EventConflict(Base):
    """A message that reused a stored (device, seq) with a different id: kept, not dropped."""

    __tablename__ = "event_conflicts"
    __table_args__ = (Unique("device_id", "seq", "event_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[str] = mapped_column(String(36))
    stored_event_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(Json)


class AbandonedSeq(Base):
    """A sequence number the device says it dropped (outbox overflow): it will never come."""

    __tablename__ = "abandoned_seqs"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    declared_by: Mapped[str] = mapped_column(String(36))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SequenceGap(Base):
    """Sequence numbers seen missing when a later one arrived."""

    __tablename__ = "sequence_gaps"
    __table_args__ = (
        Unique("device_id", "from_seq", "to_seq"),
        Index("ix_sequence_gaps_device_id_status", "device_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    from_seq: Mapped[int] = mapped_column(BigInteger)
    to_seq: Mapped[int] = mapped_column(BigInteger)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[GapStatus] = mapped_column(EnumText(GapStatus))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StoredSnapshot(Base):
    """Metadata of one snapshot; the JPEG is a content-addressed file (see ``path``)."""

    __tablename__ = "snapshots"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    event_id: Mapped[str | None] = mapped_column(String(36), index=True)
    command_id: Mapped[str | None] = mapped_column(String(36))
    path: Mapped[str] = mapped_column(String(128))


class IngestCounter(Base):
    """How many messages ingest refused or could not parse, by reason."""

    __tablename__ = "ingest_counters"

    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    reason: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
