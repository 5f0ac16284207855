"""Every kind of bad input is refused with its own error class and a message that says why.

Each case starts from a message the codec accepts (checked first), changes one thing,
and expects one specific ``protocol.errors`` class: if the check that catches it were
removed, the message would be accepted or fail differently, and the test would fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol import errors
from protocol.codec import MAX_JSON_BYTES, MAX_SNAPSHOT_BYTES, WireProperties, decode, encode
from protocol.examples import (
    EXAMPLE_JPEG,
    example_ack,
    example_commands,
    example_events,
    example_key,
    example_messages,
    example_snapshot,
)
from protocol.signing import SignedEnvelope, key_id, open_ack, open_command, sign
from protocol.snapshots import SNAPSHOT_CONTENT_TYPE, SNAPSHOT_META_PROPERTY

DEVICE = "door-1a2b3c"
OTHER = "door-9f8e7d"
STATUS_TOPIC = f"doorstep/v1/{DEVICE}/status"
RING_TOPIC = f"doorstep/v1/{DEVICE}/event/ring"


def rejects(cls: type[errors.ProtocolError], words: list[str], call: Callable[[], Any]) -> str:
    """``call`` raises exactly ``cls`` (not a sibling or subclass) naming every word."""
    with pytest.raises(errors.ProtocolError) as info:
        call()
    assert info.type is cls, f"expected {cls.__name__}, got {info.type.__name__}: {info.value}"
    text = str(info.value)
    for word in words:
        assert word.lower() in text.lower(), f"{word!r} not in message {text!r}"
    return text


def status_json(**changes: Any) -> dict[str, Any]:
    data = json.loads(encode(example_messages(DEVICE)[0]).payload)
    data.update(changes)
    return data


def ring_json(**changes: Any) -> dict[str, Any]:
    data = json.loads(encode(example_events(DEVICE)[0]).payload)
    data.update(changes)
    return data


def as_bytes(data: Any) -> bytes:
    return json.dumps(data).encode()


def test_the_unchanged_examples_are_accepted():
    # The baseline every case below departs from.
    assert decode(STATUS_TOPIC, as_bytes(status_json())).message == example_messages(DEVICE)[0]
    assert decode(RING_TOPIC, as_bytes(ring_json())).message == example_events(DEVICE)[0]


# -- bytes that are not a JSON object ------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b'{"v": 1, "device": ', ["not JSON", "line 1"]),
        (b"\xff\xfe{}", ["not UTF-8"]),
        (b"[1, 2, 3]", ["JSON object", "list"]),
        (b'"online"', ["JSON object", "str"]),
        (b'{"v": 1, "cpu": NaN}', ["strict JSON", "NaN"]),
        (b'{"v": 1, "v": 1}', ["strict JSON", "twice"]),
        (b"[" * 5000 + b"]" * 5000, ["nested too deeply"]),
    ],
    ids=["truncated", "not-utf8", "array", "string", "nan", "duplicate-key", "deep"],
)
def test_payloads_that_are_not_a_json_object(payload, words):
    rejects(errors.MalformedMessage, [STATUS_TOPIC, *words], lambda: decode(STATUS_TOPIC, payload))


# -- JSON objects that do not match the schema ---------------------------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"monotonic_ms": "1200"}, ["monotonic_ms", "integer"]),
        ({"monotonic_ms": 1200.0}, ["monotonic_ms", "integer"]),
        ({"online": "yes"}, ["online", "boolean"]),
        ({"since": 1732525212}, ["since", "datetime"]),
        ({"device": "Door_1"}, ["device", "pattern"]),
    ],
    ids=["int-as-string", "int-as-float", "bool-as-string", "time-as-number", "device-pattern"],
)
def test_wrong_types(changes, words):
    payload = as_bytes(status_json(**changes))
    rejects(errors.MessageInvalid, words, lambda: decode(STATUS_TOPIC, payload))


def test_missing_field():
    data = status_json()
    del data["boot_id"]
    rejects(
        errors.MessageInvalid, ["boot_id", "required"], lambda: decode(STATUS_TOPIC, as_bytes(data))
    )


def test_unknown_field():
    payload = as_bytes(status_json(colour="red"))
    rejects(errors.MessageInvalid, ["colour", "extra"], lambda: decode(STATUS_TOPIC, payload))


def test_newer_schema_version_is_unsupported():
    payload = as_bytes(status_json(v=2))
    rejects(errors.UnsupportedVersion, ["v=2", "v=1"], lambda: decode(STATUS_TOPIC, payload))


def test_missing_schema_version():
    data = status_json()
    del data["v"]
    rejects(errors.MessageInvalid, ["'v'", "missing"], lambda: decode(STATUS_TOPIC, as_bytes(data)))


def test_naive_time():
    payload = as_bytes(status_json(since="2026-11-25T09:00:12"))
    rejects(errors.MessageInvalid, ["since", "timezone"], lambda: decode(STATUS_TOPIC, payload))


def test_oversized_json():
    payload = as_bytes(ring_json(padding="x" * MAX_JSON_BYTES))
    rejects(errors.PayloadTooLarge, [str(MAX_JSON_BYTES)], lambda: decode(RING_TOPIC, payload))


def test_oversized_snapshot():
    wire = encode(example_snapshot(DEVICE))
    jpeg = b"\xff\xd8" + b"\0" * MAX_SNAPSHOT_BYTES + b"\xff\xd9"
    rejects(
        errors.PayloadTooLarge,
        [str(MAX_SNAPSHOT_BYTES)],
        lambda: decode(wire.topic, jpeg, wire.properties),
    )


# -- topics ----------------------------------------------------------------------------


def test_payload_for_another_device():
    payload = as_bytes(status_json(device=OTHER))
    rejects(errors.TopicMismatch, [OTHER, DEVICE], lambda: decode(STATUS_TOPIC, payload))


def test_event_kind_differs_from_topic():
    payload = as_bytes(ring_json(kind="door_opened", snapshot_id=None))
    data = json.loads(payload)
    del data["snapshot_id"]  # a door_opened event has no snapshot_id
    topic = f"doorstep/v1/{DEVICE}/event/door_closed"
    rejects(
        errors.TopicMismatch, ["door_opened", "door_closed"], lambda: decode(topic, as_bytes(data))
    )


def test_unknown_event_kind():
    topic = f"doorstep/v1/{DEVICE}/event/doorbell_pressed"
    rejects(
        errors.UnknownMessage,
        ["doorbell_pressed", "ring"],
        lambda: decode(topic, as_bytes(ring_json())),
    )


@pytest.mark.parametrize(
    ("topic", "words"),
    [
        (f"doorstep/v1/{DEVICE}/weather", ["unknown kind", "weather"]),
        ("doorstep/v1/+/status", ["device id", "'+'"]),
        ("doorstep/v1/#", ["not under"]),
        (f"doorstep/v1/{DEVICE}/event/+", ["event", "last level"]),
        (f"doorstep/v1/{DEVICE}/event/#", ["event", "last level"]),
        ("doorstep/v1/Door_1/status", ["device id", "Door_1"]),
        (f"doorstep/v2/{DEVICE}/status", ["'v2'", "v1"]),
        (f"doorstep/v1/{DEVICE}/status/extra", ["no extra level"]),
        (f"homeassistant/v1/{DEVICE}/status", ["not under doorstep/v1"]),
    ],
    ids=["kind", "plus", "hash", "event-plus", "event-hash", "bad-id", "v2", "extra", "root"],
)
def test_bad_topics(topic, words):
    rejects(errors.InvalidTopic, words, lambda: decode(topic, as_bytes(status_json())))


# -- snapshots -------------------------------------------------------------------------


def snapshot_parts(jpeg: bytes = EXAMPLE_JPEG, **meta_changes: Any):
    snap = example_snapshot(DEVICE)
    meta = snap.meta.model_dump(mode="json")
    meta.update(size_bytes=len(jpeg), sha256=hashlib.sha256(jpeg).hexdigest(), **meta_changes)
    props = WireProperties(SNAPSHOT_CONTENT_TYPE, ((SNAPSHOT_META_PROPERTY, json.dumps(meta)),))
    return encode(snap).topic, jpeg, props


def test_snapshot_baseline_is_accepted():
    topic, jpeg, props = snapshot_parts()
    assert decode(topic, jpeg, props).message == example_snapshot(DEVICE)


def test_snapshot_without_content_type():
    topic, jpeg, props = snapshot_parts()
    bare = WireProperties(content_type="", user_properties=props.user_properties)
    rejects(
        errors.MalformedMessage, ["content type", "image/jpeg"], lambda: decode(topic, jpeg, bare)
    )


def test_snapshot_without_metadata():
    topic, jpeg, _ = snapshot_parts()
    props = WireProperties(content_type=SNAPSHOT_CONTENT_TYPE)
    rejects(
        errors.MalformedMessage,
        [SNAPSHOT_META_PROPERTY, "missing"],
        lambda: decode(topic, jpeg, props),
    )


def test_snapshot_hash_mismatch():
    topic, jpeg, props = snapshot_parts()
    altered = jpeg[:-3] + bytes([jpeg[-3] ^ 0xFF]) + jpeg[-2:]  # same size, one byte changed
    rejects(errors.MessageInvalid, ["sha256"], lambda: decode(topic, altered, props))


def test_truncated_jpeg():
    # Metadata that matches the cut bytes: only the JPEG check can catch it.
    topic, jpeg, props = snapshot_parts(EXAMPLE_JPEG[:-40])
    rejects(errors.MalformedMessage, ["JPEG"], lambda: decode(topic, jpeg, props))


def test_snapshot_for_another_device():
    topic, jpeg, props = snapshot_parts(device=OTHER)
    rejects(errors.TopicMismatch, [OTHER], lambda: decode(topic, jpeg, props))


def test_snapshot_id_differs_from_topic():
    topic, jpeg, props = snapshot_parts(id="00000000-0000-4000-8000-000000000999")
    rejects(errors.TopicMismatch, ["000000000999"], lambda: decode(topic, jpeg, props))


# -- signed commands and acknowledgements ----------------------------------------------


def sign_raw(data: dict[str, Any], key: Ed25519PrivateKey) -> SignedEnvelope:
    """Sign a payload the models would refuse to build (as a buggy or hostile hub might)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    sig = base64.urlsafe_b64encode(key.sign(text.encode())).rstrip(b"=").decode()
    return SignedEnvelope(kid=key_id(key.public_key()), payload=text, sig=sig)


def unlock_json(**changes: Any) -> dict[str, Any]:
    data = example_commands(DEVICE)[0].model_dump(mode="json")
    data.update(changes)
    return data


def test_signed_baseline_is_accepted():
    key = example_key()
    assert (
        open_command(sign_raw(unlock_json(), key), key.public_key(), DEVICE)
        == example_commands(DEVICE)[0]
    )


def test_bad_signature():
    key = example_key()
    env = sign(example_commands(DEVICE)[0], key)
    other_sig = sign(example_commands(DEVICE)[1], key).sig  # valid, but for other bytes
    forged = env.model_copy(update={"sig": other_sig})
    rejects(
        errors.SignatureInvalid,
        ["does not verify"],
        lambda: open_command(forged, key.public_key(), DEVICE),
    )


def test_modified_signed_payload():
    key = example_key()
    env = sign(example_commands(DEVICE)[0], key)
    tampered = env.model_copy(
        update={"payload": env.payload.replace('"counter":17', '"counter":99')}
    )
    assert tampered.payload != env.payload
    rejects(
        errors.SignatureInvalid,
        ["altered"],
        lambda: open_command(tampered, key.public_key(), DEVICE),
    )


def test_wrong_key_id():
    hub = example_key()
    stranger = Ed25519PrivateKey.generate()
    env = sign(example_commands(DEVICE)[0], stranger)
    rejects(
        errors.SignatureInvalid,
        [env.kid, key_id(hub.public_key()), "pinned"],
        lambda: open_command(env, hub.public_key(), DEVICE),
    )


def test_command_for_another_device():
    key = example_key()
    env = sign(example_commands(OTHER)[0], key)
    rejects(
        errors.TopicMismatch, [OTHER, DEVICE], lambda: open_command(env, key.public_key(), DEVICE)
    )


def test_command_lifetime_over_30_s():
    key = example_key()
    env = sign_raw(unlock_json(expires_at="2026-11-25T09:00:43Z"), key)  # issued 09:00:12
    rejects(
        errors.MessageInvalid,
        ["lifetime", "31"],
        lambda: open_command(env, key.public_key(), DEVICE),
    )


def test_signed_command_of_newer_version():
    key = example_key()
    env = sign_raw(unlock_json(v=3), key)
    rejects(
        errors.UnsupportedVersion,
        ["v=3", "v=1 or v=2"],
        lambda: open_command(env, key.public_key(), DEVICE),
    )


def test_signed_command_with_unknown_action():
    key = example_key()
    env = sign_raw(unlock_json(action="open_garage"), key)
    rejects(
        errors.MessageInvalid, ["open_garage"], lambda: open_command(env, key.public_key(), DEVICE)
    )


@pytest.mark.parametrize(
    "changes",
    [{"outcome": "executed", "reason": "expired"}, {"outcome": "rejected", "reason": None}],
    ids=["executed-with-reason", "rejected-without-reason"],
)
def test_ack_outcome_and_reason_disagree(changes):
    key = example_key()
    good = example_ack(DEVICE).model_dump(mode="json")
    assert open_ack(sign_raw(good, key), key.public_key(), DEVICE) == example_ack(DEVICE)
    env = sign_raw(good | changes, key)
    rejects(
        errors.MessageInvalid,
        ["reason", "outcome"],
        lambda: open_ack(env, key.public_key(), DEVICE),
    )


def test_ack_from_another_device():
    key = example_key()
    env = sign(example_ack(OTHER), key)
    rejects(errors.TopicMismatch, [OTHER, DEVICE], lambda: open_ack(env, key.public_key(), DEVICE))


def test_envelope_with_unknown_algorithm():
    env = sign(example_commands(DEVICE)[0], example_key()).model_dump(mode="json")
    payload = as_bytes(env | {"alg": "HS256"})
    topic = f"doorstep/v1/{DEVICE}/cmd"
    rejects(errors.MessageInvalid, ["alg", "Ed25519"], lambda: decode(topic, payload))
