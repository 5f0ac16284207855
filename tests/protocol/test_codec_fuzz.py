"""Property tests of the codec: hostile input raises only ``ProtocolError``, valid input
round-trips, a mutated signed command is never opened, and whatever ``decode`` accepts
also satisfies the published JSON Schema.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from protocol.codec import WireProperties, decode, encode, encode_signed
from protocol.commands import MAX_COMMAND_LIFETIME_S, AckOutcome, RejectReason
from protocol.device import DoorState, LockState
from protocol.errors import ProtocolError
from protocol.events import LockCause, TamperReason
from protocol.examples import (
    EXAMPLE_JPEG,
    example_ack,
    example_commands,
    example_key,
    example_messages,
)
from protocol.ids import DEVICE_ID_PATTERN
from protocol.signing import SignedEnvelope, open_ack, open_command, sign
from protocol.snapshots import SNAPSHOT_CONTENT_TYPE, SNAPSHOT_META_PROPERTY, Snapshot
from protocol.spec import json_schema
from protocol.topics import TopicKind, topic_for

DEVICE = "door-1a2b3c"
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UNSIGNED = example_messages(DEVICE)
JSON_EXAMPLES = [m for m in UNSIGNED if not isinstance(m, Snapshot)]


@cache
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(json_schema(name))


def decode_or_error(topic: str, payload: bytes, props: WireProperties | None = None) -> Any:
    """Decode; a ``ProtocolError`` is a fine answer, anything else fails the test."""
    try:
        return decode(topic, payload, props).message
    except ProtocolError:
        return None


# -- hostile input ---------------------------------------------------------------------

topics = st.sampled_from(
    [
        topic_for(k, DEVICE, "ring" if k is TopicKind.EVENT else None)
        for k in TopicKind
        if k is not TopicKind.SNAPSHOT
    ]
)


@FAST
@given(topic=topics, payload=st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_protocol_errors(topic, payload):
    decode_or_error(topic, payload)


@FAST
@given(topic=st.text(max_size=120), payload=st.binary(max_size=64))
def test_arbitrary_topics_raise_only_protocol_errors(topic, payload):
    decode_or_error(topic, payload)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def near(value: Any) -> st.SearchStrategy[Any]:
    """Values close to ``value`` (same type, edge cases, look-alikes): the hard cases."""
    if isinstance(value, bool):
        return st.sampled_from([not value, 0, 1, "true", None])
    if isinstance(value, int):
        return st.integers() | st.sampled_from([str(value), float(value), -1, 0, 2**64, True])
    if isinstance(value, float):
        return st.floats(allow_nan=False) | st.integers() | st.just(str(value))
    if isinstance(value, str):
        return st.sampled_from(
            [value.upper(), value[:-1], value + " ", value[:10], value.replace("Z", ""), ""]
        ) | st.text(alphabet=value or "a", max_size=len(value) + 2)
    if isinstance(value, list):
        return st.lists(st.integers(-1, 2**64), max_size=3)
    return st.none() | st.uuids().map(str)


@st.composite
def mutated_json(draw: st.DrawFn) -> tuple[str, bytes, BaseModel]:
    """A valid example with one field replaced, dropped or added."""
    message = draw(st.sampled_from(JSON_EXAMPLES))
    wire = encode(message)
    data = json.loads(wire.payload)
    field = draw(st.sampled_from(sorted(data)))
    how = draw(st.sampled_from(["replace", "drop", "add"]))
    if how == "replace":
        data[field] = draw(near(data[field]) | json_values)
    elif how == "drop":
        del data[field]
    else:
        data[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
    return wire.topic, json.dumps(data).encode(), message


@settings(max_examples=500, deadline=None)
@given(mutated_json())
def test_whatever_decode_accepts_satisfies_the_published_schema(case):
    topic, payload, _original = case
    decoded = decode_or_error(topic, payload)
    event("accepted" if decoded is not None else "refused")
    if decoded is not None:
        errors = list(validator(type(decoded).__name__).iter_errors(json.loads(payload)))
        assert not errors, f"decode accepted what the schema refuses: {errors[0].message}"


@st.composite
def mutated_bytes(draw: st.DrawFn) -> tuple[str, bytes, WireProperties]:
    wire = encode(draw(st.sampled_from(UNSIGNED)))
    data = bytearray(wire.payload)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        how = draw(st.sampled_from(["flip", "delete", "insert"]))
        if how == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "delete" and data:
            del data[at]
        else:
            data.insert(at, draw(st.integers(0, 255)))
    return wire.topic, bytes(data), wire.properties


@FAST
@given(mutated_bytes())
def test_mutated_payloads_raise_only_protocol_errors(case):
    decode_or_error(*case)


# -- signed commands -------------------------------------------------------------------


B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@st.composite
def mutated_envelopes(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A signed command changed as text, in one field, or as bytes on the wire."""
    env = sign(draw(st.sampled_from(example_commands(DEVICE))), example_key())
    original = encode_signed(TopicKind.COMMAND, DEVICE, env).payload
    data = env.model_dump()
    how = draw(st.sampled_from(["field", "spare-bits", "wire"]))
    if how == "field":
        field = draw(st.sampled_from(["payload", "sig", "kid"]))
        text = data[field]
        at = draw(st.integers(0, len(text) - 1))
        char = draw(st.sampled_from(B64URL) | st.characters(codec="utf-8"))
        data[field] = text[:at] + char + text[at + 1 :]
        return original, json.dumps(data).encode()
    if how == "spare-bits":
        # The last of 86 base64url characters carries 4 bits no signature byte uses.
        last = B64URL.index(data["sig"][-1]) ^ draw(st.integers(1, 15))
        data["sig"] = data["sig"][:-1] + B64URL[last]
        return original, json.dumps(data).encode()
    wire = bytearray(original)
    at = draw(st.integers(0, len(wire) - 1))
    wire[at] ^= 1 << draw(st.integers(0, 7))
    return original, bytes(wire)


@settings(max_examples=500, deadline=None)
@given(mutated_envelopes())
def test_a_mutated_signed_command_is_never_opened(case):
    original, mutated = case
    topic = topic_for(TopicKind.COMMAND, DEVICE)
    envelope = decode_or_error(topic, mutated)
    if envelope is None:
        event("refused as an envelope")
        return
    assume(envelope != decode(topic, original).message)  # e.g. a flipped bit in whitespace
    event("envelope decoded, contents changed")
    try:
        open_command(envelope, example_key().public_key(), DEVICE)
    except ProtocolError:
        return
    raise AssertionError(f"a mutated command was accepted: {envelope}")


# -- round trips of generated valid messages -------------------------------------------

offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
aware_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
)
uuids = st.uuids().map(str)
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "device": st.from_regex(DEVICE_ID_PATTERN, fullmatch=True),
    "id": uuids,
    "boot_id": st.from_regex(r"[0-9a-f]{16,64}", fullmatch=True),
    "seq": st.integers(1, 2**63),
    "at": aware_times,
    "since": aware_times,
    "monotonic_ms": st.integers(0, 2**63),
    "online": st.booleans(),
    "privacy": st.booleans(),
    "clock_synced": st.booleans(),
    "lock": st.sampled_from(LockState),
    "door": st.sampled_from(DoorState),
    "state": st.sampled_from(LockState),
    "cause": st.sampled_from(LockCause),
    "reason": st.sampled_from(TamperReason),
    "detail": st.text(max_size=500),
    "software_version": st.text(max_size=64),
    "cpu_temp_c": st.none() | st.floats(-60, 150),
    "snapshot_id": st.none() | uuids,
    "command_id": st.none() | uuids,
    "dropped_seqs": st.lists(st.integers(1, 2**40), max_size=50),
    "stored_through": st.integers(0, 2**63),
    "requested_by": st.text(min_size=1, max_size=64),
    "counter": st.integers(1, 2**63),
}


def varied(example: BaseModel, draw: st.DrawFn, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    data = example.model_dump()
    for name in data:
        if name in FIELDS and name not in skip and draw(st.booleans()):
            data[name] = draw(FIELDS[name])
    return data


@st.composite
def valid_messages(draw: st.DrawFn) -> BaseModel:
    example = draw(st.sampled_from(JSON_EXAMPLES))
    skip = ("reason",) if example.model_dump().get("kind") == "outbox_overflow" else ()
    return type(example).model_validate(varied(example, draw, skip))


@FAST
@given(valid_messages())
def test_valid_messages_round_trip(message):
    wire = encode(message)
    assert decode(wire.topic, wire.payload, wire.properties).message == message


@FAST
@given(jpeg_body=st.binary(max_size=2000), data=st.data())
def test_valid_snapshots_round_trip(jpeg_body, data):
    jpeg = EXAMPLE_JPEG[:-2] + jpeg_body + b"\xff\xd9"
    meta = varied(example_messages(DEVICE)[-1].meta, data.draw, skip=("reason",))
    meta |= {"size_bytes": len(jpeg), "sha256": hashlib.sha256(jpeg).hexdigest()}
    snap = Snapshot.model_validate({"meta": meta, "jpeg": jpeg})
    wire = encode(snap)
    assert wire.properties.content_type == SNAPSHOT_CONTENT_TYPE
    assert dict(wire.properties.user_properties)[SNAPSHOT_META_PROPERTY]
    assert decode(wire.topic, wire.payload, wire.properties).message == snap


@st.composite
def valid_commands(draw: st.DrawFn) -> BaseModel:
    example = draw(st.sampled_from(example_commands(DEVICE)))
    data = varied(example, draw)
    lifetime = draw(st.integers(1, MAX_COMMAND_LIFETIME_S * 1000))
    data["expires_at"] = data["issued_at"] + timedelta(milliseconds=lifetime)
    return type(example).model_validate(data)


@FAST
@given(valid_commands())
def test_signed_commands_round_trip(command):
    key = example_key()
    wire = encode_signed(TopicKind.COMMAND, command.device, sign(command, key))
    envelope = decode(wire.topic, wire.payload, wire.properties).message
    assert isinstance(envelope, SignedEnvelope)
    assert open_command(envelope, key.public_key(), command.device) == command


@FAST
@given(data=st.data(), outcome=st.sampled_from(AckOutcome), reason=st.sampled_from(RejectReason))
def test_signed_acks_round_trip(data, outcome, reason):
    ack_data = varied(example_ack(DEVICE), data.draw, skip=("reason",))
    ack_data |= {"outcome": outcome, "reason": None if outcome is AckOutcome.EXECUTED else reason}
    ack = type(example_ack(DEVICE)).model_validate(ack_data)
    key = example_key()
    wire = encode_signed(TopicKind.ACK, ack.device, sign(ack, key))
    envelope = decode(wire.topic, wire.payload, wire.properties).message
    assert open_ack(envelope, key.public_key(), ack.device) == ack
