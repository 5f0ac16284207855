"""Every message type published by one paho client and received by another through a
real private Mosquitto, then decoded equal."""

from __future__ import annotations

import pytest

from protocol import (
    TopicKind,
    decode,
    encode,
    encode_signed,
    new_device_id,
    open_ack,
    open_command,
    sign,
)
from protocol.examples import example_ack, example_commands, example_key, example_messages
from protocol.topics import PREFIX
from tests.fixtures.broker import Received

KINDS = [type(m).__name__ for m in example_messages("door-000")]


@pytest.fixture
def device() -> str:
    # A fresh id per test: retained messages of earlier tests must not leak in.
    return new_device_id()


@pytest.mark.parametrize("index", range(len(KINDS)), ids=KINDS)
def test_unsigned_message_round_trip(link_factory, device, index):
    message = example_messages(device)[index]
    got = Received()
    sub = link_factory()
    sub.subscribe(f"{PREFIX}/{device}/#", got)
    assert sub.wait_subscribed()
    pub = link_factory()
    wire = encode(message)
    pub.publish(wire).wait_for_publish(5)
    items = got.wait_for(1)
    assert items, f"nothing received on {wire.topic}"
    topic, payload, props = items[-1]
    assert topic == wire.topic
    assert decode(topic, payload, props).message == message


@pytest.mark.parametrize("v", [1, 2], ids=["v1", "v2"])
@pytest.mark.parametrize("index", range(5), ids=lambda i: f"command{i}")
def test_signed_command_round_trip(link_factory, device, index, v):
    command = example_commands(device, v=v)[index]
    key = example_key()
    got = Received()
    sub = link_factory()
    sub.subscribe(f"{PREFIX}/{device}/cmd", got)
    assert sub.wait_subscribed()
    wire = encode_signed(TopicKind.COMMAND, device, sign(command, key))
    assert not wire.retain
    assert wire.properties.message_expiry_s
    link_factory().publish(wire).wait_for_publish(5)
    topic, payload, props = got.wait_for(1)[0]
    decoded = decode(topic, payload, props)
    assert open_command(decoded.message, key.public_key(), device) == command


@pytest.mark.parametrize("v", [1, 2], ids=["v1", "v2-with-relock_in_s"])
def test_signed_ack_round_trip(link_factory, device, v):
    key = example_key()
    ack = example_ack(device, v=v)
    got = Received()
    sub = link_factory()
    sub.subscribe(f"{PREFIX}/{device}/cmd/ack", got)
    assert sub.wait_subscribed()
    link_factory().publish(encode_signed(TopicKind.ACK, device, sign(ack, key))).wait_for_publish(5)
    topic, payload, props = got.wait_for(1)[0]
    assert open_ack(decode(topic, payload, props).message, key.public_key(), device) == ack
