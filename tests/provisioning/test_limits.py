"""Size limits: an oversized message is refused and the broker keeps serving the others."""

from __future__ import annotations

import paho.mqtt.client as paho
import pytest

from firmware_config.broker_config import broker_settings
from protocol.codec import MAX_SNAPSHOT_BYTES
from protocol.topics import TopicKind, device_filter, topic_for


@pytest.fixture(scope="module")
def limit(tls_broker) -> int:
    return broker_settings(tls_broker.deployment).message_size_limit


def test_largest_protocol_message_fits(limit):
    assert limit > MAX_SNAPSHOT_BYTES + 16 * 1024


@pytest.mark.parametrize("protocol", [paho.MQTTv311, paho.MQTTv5], ids=["mqtt311", "mqtt5"])
@pytest.mark.parametrize(
    "over", [1_000, 1_000_000], ids=["over-message-limit", "over-packet-limit"]
)
def test_oversized_message_is_refused_and_others_still_served(
    tls_broker, raw_client_factory, limit, protocol, over
):
    big_sender, other = tls_broker.devices[:2]
    hub = raw_client_factory("hub", protocol)
    hub.subscribe(device_filter(TopicKind.SNAPSHOT), device_filter(TopicKind.EVENT))
    sender = raw_client_factory(big_sender, protocol)
    # Just under the limit is delivered: the limit is where we think it is.
    fits = b"f" * (limit - 100)
    sender.publish(topic_for(TopicKind.SNAPSHOT, big_sender, "fits"), fits)
    assert hub.wait_until(lambda m: any(p == fits for _t, p in m))

    sender.client.publish(
        topic_for(TopicKind.SNAPSHOT, big_sender, "big"), b"x" * (limit + over), 1
    )
    # Wait until the broker has dealt with it. Past max_packet_size it drops the
    # connection. Past message_size_limit it discards the message: under 3.1.1 with a
    # normal PUBACK, under 5 with reason 0x95, which paho rejects by disconnecting.
    sender.client.publish(topic_for(TopicKind.EVENT, big_sender, "ring"), b"same-connection", 1)
    assert (
        sender.disconnected.wait(5)
        if over >= 4096
        else hub.wait_until(
            lambda m: sender.disconnected.is_set() or any(p == b"same-connection" for _t, p in m)
        )
    )
    others = raw_client_factory(other, protocol)
    others.publish(topic_for(TopicKind.EVENT, other, "ring"), b"after-big")
    assert hub.wait_until(lambda m: any(p == b"after-big" for _t, p in m))
    # The sender may have been disconnected; a new connection of it is served again.
    again = raw_client_factory(big_sender, protocol)
    again.publish(topic_for(TopicKind.EVENT, big_sender, "ring"), b"sender-again")
    assert hub.wait_until(lambda m: any(p == b"sender-again" for _t, p in m))
    sender.close()  # stop paho re-sending the oversized message on reconnect
    assert not any(t.endswith("/big") for t, _p in hub.messages)
    assert all(len(p) <= limit for _t, p in hub.messages)
    assert tls_broker.process.running
