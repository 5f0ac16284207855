"""Bytes <-> models. The only place that turns protocol messages into MQTT payloads.

    >>> wire = encode(status)                      # doctest: +SKIP
    >>> decode(wire.topic, wire.payload, wire.properties).message == status  # doctest: +SKIP

``decode`` refuses anything malformed, oversized, unknown or addressed to the
wrong device with a specific ``ProtocolError`` whose message says what was wrong.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from .audit import AuditCheckpoint
from .commands import MAX_COMMAND_LIFETIME_S
from .device import DeviceState, DeviceStatus, Sync, Telemetry
from .errors import (
    MalformedMessage,
    MessageInvalid,
    PayloadTooLarge,
    TopicMismatch,
    UnknownMessage,
)
from .events import EVENT_ADAPTER, EVENT_KINDS, EventBase
from .signing import SignedEnvelope
from .snapshots import SNAPSHOT_CONTENT_TYPE, SNAPSHOT_META_PROPERTY, Snapshot, SnapshotMeta
from .topics import ParsedTopic, TopicKind, parse_topic, topic_for
from .validation import check_version, describe_validation_error

MAX_JSON_BYTES = 16 * 1024
MAX_SNAPSHOT_BYTES = 1024 * 1024
JSON_CONTENT_TYPE = "application/json"

# What each topic kind carries, its QoS and whether the broker retains it.
_QOS = {
    TopicKind.STATUS: 1,
    TopicKind.STATE: 1,
    TopicKind.EVENT: 1,
    TopicKind.SNAPSHOT: 1,
    # A lost heartbeat is superseded by the next one; QoS 0 keeps fleet load light.
    TopicKind.TELEMETRY: 0,
    TopicKind.COMMAND: 1,
    TopicKind.ACK: 1,
    TopicKind.SYNC: 1,
    TopicKind.CHECKPOINT: 1,
}
_RETAINED = {TopicKind.STATUS, TopicKind.STATE, TopicKind.SYNC, TopicKind.CHECKPOINT}
_MODELS: dict[TopicKind, type[BaseModel]] = {
    TopicKind.STATUS: DeviceStatus,
    TopicKind.STATE: DeviceState,
    TopicKind.TELEMETRY: Telemetry,
    TopicKind.SYNC: Sync,
    TopicKind.CHECKPOINT: AuditCheckpoint,
    TopicKind.COMMAND: SignedEnvelope,
    TopicKind.ACK: SignedEnvelope,
}


@dataclass(frozen=True, slots=True)
class WireProperties:
    """The MQTT v5 properties a message needs, independent of any client library."""

    content_type: str = JSON_CONTENT_TYPE
    user_properties: tuple[tuple[str, str], ...] = ()
    message_expiry_s: int | None = None


@dataclass(frozen=True, slots=True)
class WireMessage:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: WireProperties = field(default_factory=WireProperties)


@dataclass(frozen=True, slots=True)
class Decoded:
    topic: ParsedTopic
    message: Any


def _json_bytes(model: BaseModel) -> bytes:
    return model.model_dump_json().encode()


def _wire(
    kind: TopicKind,
    device: str,
    payload: bytes,
    leaf: str | None = None,
    properties: WireProperties | None = None,
) -> WireMessage:
    return WireMessage(
        topic=topic_for(kind, device, leaf),
        payload=payload,
        qos=_QOS[kind],
        retain=kind in _RETAINED,
        properties=properties or WireProperties(),
    )


def encode(message: BaseModel) -> WireMessage:
    """Encode any device-side or sync message (not signed envelopes: see ``encode_signed``)."""
    if isinstance(message, EventBase):
        return _wire(TopicKind.EVENT, message.device, _json_bytes(message), message.kind)
    if isinstance(message, Snapshot):
        meta = message.meta
        props = WireProperties(
            content_type=SNAPSHOT_CONTENT_TYPE,
            user_properties=((SNAPSHOT_META_PROPERTY, meta.model_dump_json()),),
        )
        return _wire(TopicKind.SNAPSHOT, meta.device, message.jpeg, meta.id, props)
    for kind, model in _MODELS.items():
        if type(message) is model and model is not SignedEnvelope:
            return _wire(kind, message.device, _json_bytes(message))  # type: ignore[attr-defined]
    raise UnknownMessage(f"{type(message).__name__} is not a protocol message that encode() knows")


def encode_signed(
    kind: TopicKind, device: str, envelope: SignedEnvelope, expiry_s: int = MAX_COMMAND_LIFETIME_S
) -> WireMessage:
    """Encode a signed command (hub) or acknowledgement (device)."""
    if kind not in (TopicKind.COMMAND, TopicKind.ACK):
        raise UnknownMessage(f"only commands and acks are signed, not {kind.value}")
    # Commands are never retained and expire in the broker too.
    props = WireProperties(message_expiry_s=expiry_s if kind is TopicKind.COMMAND else None)
    return _wire(kind, device, _json_bytes(envelope), properties=props)


class _NotStrictJson(Exception):
    """Raised inside ``json.loads`` hooks for input that plain JSON does not allow."""


def _reject_constant(name: str) -> None:
    raise _NotStrictJson(f"{name} is not a JSON value")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate keys are read differently by different parsers: refuse them outright.
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _NotStrictJson(f"key {key!r} appears twice")
        obj[key] = value
    return obj


def _load_json(parsed: ParsedTopic, payload: bytes) -> dict[str, Any]:
    """Size, UTF-8, strict JSON, object and version checks; the schema comes after."""
    if len(payload) > MAX_JSON_BYTES:
        raise PayloadTooLarge(
            f"{parsed.kind.value} from {parsed.device_id}: {len(payload)} bytes, "
            f"limit {MAX_JSON_BYTES}"
        )
    try:
        data = json.loads(
            payload.decode("utf-8"),
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_keys,
        )
    except UnicodeDecodeError as exc:
        raise MalformedMessage(f"{parsed.topic}: payload is not UTF-8 ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise MalformedMessage(
            f"{parsed.topic}: payload is not JSON ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno})"
        ) from None
    except _NotStrictJson as exc:
        raise MalformedMessage(f"{parsed.topic}: payload is not strict JSON ({exc})") from None
    except RecursionError:
        raise MalformedMessage(f"{parsed.topic}: payload JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise MalformedMessage(
            f"{parsed.topic}: payload must be a JSON object, got {type(data).__name__}"
        )
    check_version(data, parsed.topic)
    return data


def _validate(parsed: ParsedTopic, validator: Any, payload: bytes) -> Any:
    # Strict JSON validation: "5" is not an integer and "yes" is not a boolean, exactly
    # as the published JSON Schemas say (lax mode would accept both).
    try:
        return validator(payload, strict=True)
    except ValidationError as exc:
        raise MessageInvalid(f"{parsed.topic}: {describe_validation_error(exc)}") from None


def _check_device(parsed: ParsedTopic, named: str) -> None:
    if named != parsed.device_id:
        raise TopicMismatch(
            f"{parsed.topic}: payload names device {named!r} but the topic is for "
            f"{parsed.device_id!r}"
        )


def decode(topic: str, payload: bytes, properties: WireProperties | None = None) -> Decoded:
    """Parse and validate one received message; raise a ``ProtocolError`` if it is bad."""
    parsed = parse_topic(topic)
    if parsed.kind is TopicKind.SNAPSHOT:
        return Decoded(parsed, _decode_snapshot(parsed, payload, properties))
    if parsed.kind is TopicKind.EVENT and parsed.leaf not in EVENT_KINDS:
        raise UnknownMessage(
            f"{topic}: unknown event kind {parsed.leaf!r}; v1 defines {sorted(EVENT_KINDS)}"
        )
    _load_json(parsed, payload)
    if parsed.kind is TopicKind.EVENT:
        message = _validate(parsed, EVENT_ADAPTER.validate_json, payload)
        if message.kind != parsed.leaf:
            raise TopicMismatch(
                f"{topic}: payload is a {message.kind!r} event but the topic says {parsed.leaf!r}"
            )
    else:
        message = _validate(parsed, _MODELS[parsed.kind].model_validate_json, payload)
    if not isinstance(message, SignedEnvelope):
        _check_device(parsed, message.device)
    return Decoded(parsed, message)


def _decode_snapshot(
    parsed: ParsedTopic, payload: bytes, properties: WireProperties | None
) -> Snapshot:
    if len(payload) > MAX_SNAPSHOT_BYTES:
        raise PayloadTooLarge(
            f"{parsed.topic}: snapshot of {len(payload)} bytes, limit {MAX_SNAPSHOT_BYTES}"
        )
    props = properties or WireProperties(content_type="")
    if props.content_type != SNAPSHOT_CONTENT_TYPE:
        raise MalformedMessage(
            f"{parsed.topic}: content type {props.content_type!r}, expected "
            f"{SNAPSHOT_CONTENT_TYPE!r} (snapshots need MQTT v5)"
        )
    raw_meta = dict(props.user_properties).get(SNAPSHOT_META_PROPERTY)
    if raw_meta is None:
        raise MalformedMessage(f"{parsed.topic}: user property {SNAPSHOT_META_PROPERTY!r} missing")
    try:
        raw_meta_bytes = raw_meta.encode()
    except UnicodeEncodeError:
        raise MalformedMessage(f"{parsed.topic}: {SNAPSHOT_META_PROPERTY!r} is not UTF-8") from None
    _load_json(parsed, raw_meta_bytes)
    meta = _validate(parsed, SnapshotMeta.model_validate_json, raw_meta_bytes)
    _check_device(parsed, meta.device)
    if meta.id != parsed.leaf:
        raise TopicMismatch(f"{parsed.topic}: metadata is for snapshot {meta.id}")
    if meta.size_bytes != len(payload) or hashlib.sha256(payload).hexdigest() != meta.sha256:
        raise MessageInvalid(f"{parsed.topic}: JPEG bytes do not match size/sha256 in metadata")
    if not (payload.startswith(b"\xff\xd8") and payload.rstrip(b"\x00").endswith(b"\xff\xd9")):
        raise MalformedMessage(f"{parsed.topic}: payload is not a complete JPEG")
    return Snapshot(meta=meta, jpeg=payload)
