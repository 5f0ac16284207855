"""The base every protocol message shares: frozen, strict about unknown fields, versioned.

Most message kinds exist in schema version 1 only. A kind that gained a version (commands
and acknowledgements: ``v: 2``) derives from ``VersionedModel``, and each field added
after version 1 says since when it exists:

    relock_in_s: float | None = Field(default=None, json_schema_extra=since(2))

A message of an older version must leave such a field out: it is refused on receipt and
never written when sending, so an older receiver sees exactly the schema it knows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
    model_validator,
)

from .ids import DEVICE_ID_PATTERN

# The version a sender writes unless it knows the receiver speaks more; the only version
# of every message kind that is not a ``VersionedModel``.
SCHEMA_VERSION = 1
# The highest schema version of this edition of the protocol: what a device reports in
# ``Telemetry.protocol_version`` when it speaks all of it.
LATEST_SCHEMA_VERSION = 2
# Marks a field added after version 1 (also published in the JSON Schemas).
SINCE_KEY = "x-since-v"

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


def since(version: int) -> dict[str, Any]:
    """``Field(json_schema_extra=since(2))``: this field exists from schema version 2 on."""
    return {SINCE_KEY: version}


@cache
def newer_fields(model: type[BaseModel]) -> dict[str, int]:
    """The fields of ``model`` added after version 1, with the version that added each."""
    out = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and isinstance(extra.get(SINCE_KEY), int):
            out[name] = int(extra[SINCE_KEY])  # type: ignore[arg-type]
    return out


def versions_of(model: type[BaseModel]) -> tuple[int, ...]:
    """The schema versions ``model`` exists in (the values its ``v`` may take)."""
    return tuple(get_args(model.model_fields["v"].annotation))


class ProtocolModel(BaseModel):
    """Base of every message: immutable, unknown fields refused, schema version carried."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    v: Literal[1] = Field(
        default=SCHEMA_VERSION, description="Schema version of this message (always 1)."
    )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # Only a VersionedModel knows to leave newer fields out of older versions.
        if newer_fields(cls) and not issubclass(cls, VersionedModel):
            raise TypeError(f"{cls.__name__} has fields added after v1: derive VersionedModel")


def _versioned_schema(schema: dict[str, Any], cls: type[Any]) -> None:
    """Publish the rule in the JSON Schema too: in version N, fields since N+1 are absent."""
    rules = []
    for version in versions_of(cls):
        absent = sorted(name for name, added in newer_fields(cls).items() if added > version)
        if absent:
            rules.append(
                {
                    "if": {"properties": {"v": {"const": version}}, "required": ["v"]},
                    "then": {"properties": dict.fromkeys(absent, False)},
                }
            )
    if rules:
        schema["allOf"] = rules


class VersionedModel(ProtocolModel):
    """A message kind that exists in schema versions 1 and 2.

    Fields added in version 2 are optional; a version 1 message must not carry them
    (refused here with the field named) and never writes them (left out when
    serialising, even as ``null``), so it is byte for byte what a v1 receiver expects.
    """

    model_config = ConfigDict(json_schema_extra=_versioned_schema)

    v: Literal[1, 2] = Field(
        default=SCHEMA_VERSION,
        description="Schema version of this message: 1, or 2 where the receiver speaks it "
        "(see Versioning in docs/protocol.md).",
    )

    @model_validator(mode="after")
    def _no_newer_fields(self) -> VersionedModel:
        for name, added in newer_fields(type(self)).items():
            if added > self.v and name in self.model_fields_set:
                raise ValueError(
                    f"{name} exists from v: {added} on; a v: {self.v} {type(self).__name__} "
                    f"must leave it out (send v: {added} to receivers that speak it)"
                )
        return self

    @model_serializer(mode="wrap")
    def _omit_newer_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name, added in newer_fields(type(self)).items():
            if added > self.v:
                data.pop(name, None)
        return data
