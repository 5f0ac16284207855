"""Schema version 2 of commands and acknowledgements, beside an unchanged version 1.

A v1 ack is exactly what a v1 hub knows (no ``relock_in_s``, not even null); a v2 ack may
carry it; anything newer is an unsupported version. Commands of v1 and v2 differ in ``v``
only. Every other message kind stays v1 only.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import Field, ValidationError

from protocol import errors
from protocol.base import LATEST_SCHEMA_VERSION, ProtocolModel, since
from protocol.codec import decode, encode, encode_signed
from protocol.commands import COMMAND_VERSIONS, CommandAck, command_version_for
from protocol.examples import example_ack, example_commands, example_key, example_messages
from protocol.signing import SignedEnvelope, key_id, open_ack, open_command, sign
from protocol.topics import TopicKind
from tests.protocol.test_rejections import rejects

DEVICE = "door-1a2b3c"


def signed_text(text: str) -> SignedEnvelope:
    """Sign any text with the example key, as a buggy or hostile sender might."""
    key = example_key()
    sig = base64.urlsafe_b64encode(key.sign(text.encode())).rstrip(b"=").decode()
    return SignedEnvelope(kid=key_id(key.public_key()), payload=text, sig=sig)


def signed_raw(data: dict[str, Any]) -> SignedEnvelope:
    return signed_text(json.dumps(data, sort_keys=True, separators=(",", ":")))


def through_the_wire(envelope: SignedEnvelope) -> SignedEnvelope:
    wire = encode_signed(TopicKind.ACK, DEVICE, envelope)
    message = decode(wire.topic, wire.payload, wire.properties).message
    assert isinstance(message, SignedEnvelope)
    return message


def open_ack_json(data: dict[str, Any]) -> CommandAck:
    return open_ack(through_the_wire(signed_raw(data)), example_key().public_key(), DEVICE)


def ack_json(v: int) -> dict[str, Any]:
    return json.loads(sign(example_ack(DEVICE, v=v), example_key()).payload)


# -- acknowledgements --------------------------------------------------------------------


def test_a_v1_ack_without_relock_in_s_is_accepted_and_is_what_a_v1_hub_knows():
    data = ack_json(1)
    assert data["v"] == 1
    assert "relock_in_s" not in data, "a v1 ack must not even carry a null relock_in_s"
    ack = open_ack_json(data)
    assert ack == example_ack(DEVICE)
    assert ack.relock_in_s is None


@pytest.mark.parametrize("value", [5.0, None], ids=["a-value", "null"])
def test_a_v1_ack_with_relock_in_s_is_refused_naming_the_field(value):
    data = ack_json(1) | {"relock_in_s": value}
    text = rejects(
        errors.MessageInvalid, ["relock_in_s", "v: 2", "v: 1"], lambda: open_ack_json(data)
    )
    assert "leave it out" in text


def test_a_v2_ack_with_relock_in_s_is_accepted():
    data = ack_json(2)
    assert data["v"] == 2
    assert data["relock_in_s"] == 5.0
    ack = open_ack_json(data)
    assert ack == example_ack(DEVICE, v=2)
    assert ack.relock_in_s == 5.0
    # A v2 sender includes the field it knows even when it has nothing to say.
    assert open_ack_json(data | {"relock_in_s": None}).relock_in_s is None
    assert open_ack_json({k: x for k, x in data.items() if k != "relock_in_s"}).v == 2


def test_a_v3_ack_is_an_unsupported_version():
    data = ack_json(2) | {"v": 3}
    rejects(errors.UnsupportedVersion, ["v=3", "v=1 or v=2"], lambda: open_ack_json(data))


def test_the_model_refuses_to_build_a_v1_ack_with_the_field_and_never_writes_it():
    fields = example_ack(DEVICE).model_dump()
    assert "relock_in_s" not in fields
    with pytest.raises(ValidationError, match="relock_in_s exists from v: 2"):
        CommandAck.model_validate(fields | {"relock_in_s": 1.0})
    with pytest.raises(ValidationError, match="relock_in_s exists from v: 2"):
        CommandAck(**fields, relock_in_s=None)
    v1 = CommandAck(**fields)
    assert v1.relock_in_s is None
    assert "relock_in_s" not in v1.model_dump_json()
    v2 = CommandAck(**fields | {"v": 2})
    assert json.loads(v2.model_dump_json())["relock_in_s"] is None


def test_a_signed_ack_is_opened_from_its_exact_bytes_not_re_serialised():
    """Key order and spacing the signer chose are kept: the signature covers those bytes."""
    text = json.dumps(ack_json(2), indent=1)  # not canonical: would differ if re-serialised
    got = through_the_wire(signed_text(text))
    assert got.payload == text
    assert open_ack(got, example_key().public_key(), DEVICE).relock_in_s == 5.0


# -- commands ----------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(6), ids=lambda i: f"command{i}")
def test_v2_commands_have_the_fields_of_v1_and_round_trip(index):
    key = example_key()
    v1 = example_commands(DEVICE)[index]
    v2 = example_commands(DEVICE, v=2)[index]
    one, two = json.loads(sign(v1, key).payload), json.loads(sign(v2, key).payload)
    assert (one["v"], two["v"]) == (1, 2)
    assert {k: x for k, x in one.items() if k != "v"} == {k: x for k, x in two.items() if k != "v"}
    for command in (v1, v2):
        wire = encode_signed(TopicKind.COMMAND, DEVICE, sign(command, key))
        envelope = decode(wire.topic, wire.payload, wire.properties).message
        assert open_command(envelope, key.public_key(), DEVICE) == command


def test_a_v3_command_is_an_unsupported_version():
    data = json.loads(sign(example_commands(DEVICE, v=2)[0], example_key()).payload)
    env = signed_raw(data | {"v": 3})
    rejects(
        errors.UnsupportedVersion,
        ["v=3", "v=2"],
        lambda: open_command(env, example_key().public_key(), DEVICE),
    )


# -- everything else stays v1 ---------------------------------------------------------------


def test_every_other_message_kind_is_v1_only():
    for message in example_messages(DEVICE)[:4]:  # status, state, telemetry, sync
        wire = encode(message)
        payload = json.dumps(json.loads(wire.payload) | {"v": 2}).encode()
        topic = wire.topic
        rejects(
            errors.UnsupportedVersion,
            ["v=2", "v=1"],
            lambda t=topic, p=payload: decode(t, p),  # type: ignore[misc]
        )
    envelope = sign(example_ack(DEVICE, v=2), example_key()).model_dump(mode="json")
    payload = json.dumps(envelope | {"v": 2}).encode()
    topic = f"doorstep/v1/{DEVICE}/cmd/ack"
    rejects(errors.UnsupportedVersion, ["v=2"], lambda: decode(topic, payload))


# -- negotiation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "sent"),
    [(None, 1), ("1", 1), ("2", 2), ("3", 2), ("17", 2), ("0", 1), ("2.0", 1), ("", 1)],
)
def test_the_hub_sends_the_highest_version_both_sides_speak(reported, sent):
    assert command_version_for(reported) == sent


def test_the_edition_is_the_newest_command_version():
    assert max(COMMAND_VERSIONS) == LATEST_SCHEMA_VERSION == 2


def test_a_newer_field_needs_a_versioned_model():
    with pytest.raises(TypeError, match="VersionedModel"):

        class Careless(ProtocolModel):  # defining it is the test
            colour: str | None = Field(default=None, json_schema_extra=since(2))
