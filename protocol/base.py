"""The base every protocol message shares: frozen, strict about unknown fields, versioned."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from .ids import DEVICE_ID_PATTERN

SCHEMA_VERSION = 1

DeviceIdField = Annotated[
    str,
    StringConstraints(pattern=DEVICE_ID_PATTERN),
    Field(description="Device id: the CN of the device's client certificate."),
]
MessageId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
    Field(description="Unique id (UUID, lower-case text form)."),
]
BootId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{16,64}$"),
    Field(description="Random id the device draws at every boot (hex)."),
]
Timestamp = Annotated[AwareDatetime, Field(description="Time with a UTC offset (RFC 3339).")]


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class ProtocolModel(BaseModel):
    """Base of every message: immutable, unknown fields refused, schema version carried."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    v: Literal[1] = Field(
        default=SCHEMA_VERSION, description="Schema version of this message (this document: 1)."
    )
