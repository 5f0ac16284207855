"""Snapshot metadata. The JPEG bytes are the MQTT payload; this model travels beside
them as the MQTT v5 user property ``doorstep-meta`` with content type ``image/jpeg``.

Snapshots share the device's sequence numbers with events, so the hub's sync
message covers both and the edge outbox can prune them the same way.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt

from .base import BootId, DeviceIdField, MessageId, ProtocolModel, Timestamp

SNAPSHOT_CONTENT_TYPE = "image/jpeg"
SNAPSHOT_META_PROPERTY = "doorstep-meta"


class SnapshotMeta(ProtocolModel):
    """Metadata of one JPEG snapshot; it shares the device's ``seq`` space with events."""

    device: DeviceIdField
    id: MessageId = Field(description="Snapshot id; also the last level of its topic.")
    seq: PositiveInt = Field(description="Device sequence number (shared with events).")
    boot_id: BootId
    at: Timestamp = Field(description="Device time the frame was captured.")
    monotonic_ms: NonNegativeInt = Field(description="Device monotonic clock at capture.")
    reason: Literal["ring", "request", "live_view"] = Field(
        description="Why it was taken: a ring, a snapshot command or a live view."
    )
    event_id: MessageId | None = Field(default=None, description="The ring it belongs to.")
    command_id: MessageId | None = Field(default=None, description="The request it answers.")
    width: PositiveInt = Field(le=8192, description="Image width in pixels.")
    height: PositiveInt = Field(le=8192, description="Image height in pixels.")
    size_bytes: PositiveInt = Field(description="Length of the JPEG bytes.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the JPEG bytes.")


class Snapshot(ProtocolModel):
    """A snapshot as the code handles it: metadata plus the JPEG bytes."""

    meta: SnapshotMeta
    jpeg: bytes = Field(repr=False)
