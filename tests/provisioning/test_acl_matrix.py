"""The ACL matrix: three doors and the hub, every topic kind, publish and subscribe,
MQTT 3.1.1 and 5, through the broker generated from the deployment.

Return codes prove nothing (a denied publish still gets PUBACK under 3.1.1, a denied
subscription is still "granted"), so deliveries are counted at the subscribers.
"""

from __future__ import annotations

import paho.mqtt.client as paho
import pytest

from protocol.topics import (
    HUB_NOTICES,
    PREFIX,
    ROOT,
    TopicKind,
    device_filter,
    hub_ingest_filters,
    shared,
    topic_for,
)

# The intended policy, stated here independently of the ACL generator.
DOOR_WRITES = {
    TopicKind.STATUS,
    TopicKind.STATE,
    TopicKind.EVENT,
    TopicKind.SNAPSHOT,
    TopicKind.TELEMETRY,
    TopicKind.ACK,
}
DOOR_READS = {TopicKind.COMMAND, TopicKind.SYNC, TopicKind.CHECKPOINT}
HUB_WRITES = {TopicKind.COMMAND, TopicKind.SYNC, TopicKind.CHECKPOINT}
HUB_READS = DOOR_WRITES | {TopicKind.SYNC}
HUB = "hub"
LEAF = {TopicKind.EVENT: "ring", TopicKind.SNAPSHOT: "s1"}


def topic(kind: TopicKind, device: str) -> str:
    return topic_for(kind, device, LEAF.get(kind))


def may_write(publisher: str, kind: TopicKind, device: str) -> bool:
    if publisher == HUB:
        return kind in HUB_WRITES
    return publisher == device and kind in DOOR_WRITES


def may_read(subscriber: str, kind: TopicKind, device: str) -> bool:
    if subscriber.startswith(HUB):
        return kind in HUB_READS
    return subscriber == device and kind in DOOR_READS


@pytest.mark.parametrize("protocol", [paho.MQTTv311, paho.MQTTv5], ids=["mqtt311", "mqtt5"])
def test_no_cross_device_delivery(tls_broker, raw_client_factory, protocol):
    doors = tls_broker.devices
    assert len(doors) >= 3
    tag = f"p{protocol}"

    # Subscribers: each door asks for far more than it may read, including '#'.
    subs = {}
    for door in doors:
        others = [o for o in doors if o != door]
        c = raw_client_factory(door, protocol)
        c.subscribe(
            "#",
            f"{PREFIX}/#",
            device_filter(TopicKind.COMMAND),
            device_filter(TopicKind.SYNC),
            device_filter(TopicKind.EVENT),
            device_filter(TopicKind.COMMAND, door),
            device_filter(TopicKind.SYNC, door),
            *(f"{PREFIX}/{o}/#" for o in others),
            *(shared(device_filter(TopicKind.COMMAND, o)) for o in others),
        )
        subs[door] = c
    subs["hub#"] = raw_client_factory(HUB, protocol)
    subs["hub#"].subscribe("#")
    subs["hub-shared"] = raw_client_factory(HUB, protocol)
    subs["hub-shared"].subscribe(*(shared(f) for f in hub_ingest_filters()))

    # Publishers: every identity tries every kind on every door's topics.
    expected: dict[str, set[bytes]] = {name: set() for name in subs}
    publishers = {name: raw_client_factory(name, protocol) for name in (*doors, HUB)}
    for pub_name, pub in publishers.items():
        for device in doors:
            for kind in TopicKind:
                marker = f"{tag}|{pub_name}|{kind.value}|{device}".encode()
                pub.publish(topic(kind, device), marker)  # waits for PUBACK
                if not may_write(pub_name, kind, device):
                    continue
                for sub_name in subs:
                    if sub_name == "hub-shared" and kind == TopicKind.SYNC:
                        continue  # the shared ingest filters cover device topics only
                    if may_read(sub_name, kind, device):
                        expected[sub_name].add(marker)

    # Every earlier publish was acknowledged, so a sentinel received after it means
    # everything queued before it for that subscriber has arrived too.
    sentinels = {}
    for door in doors:
        sync_mark = f"{tag}|end|{door}".encode()
        publishers[HUB].publish(topic(TopicKind.SYNC, door), sync_mark)
        sentinels[door] = sync_mark
        publishers[door].publish(topic(TopicKind.EVENT, door), f"{tag}|end-ev|{door}".encode())
    for name, sub in subs.items():
        if name in sentinels:
            want = {sentinels[name]}
        else:
            want = {f"{tag}|end-ev|{d}".encode() for d in doors}
        assert sub.wait_until(lambda got, w=want: w <= {p for _t, p in got}), name

    cross = 0
    for name, sub in subs.items():
        got = {p for _t, p in sub.messages if p.startswith(f"{tag}|".encode()) and b"|end" not in p}
        for marker in got:
            _tag, pub_name, _kind, device = marker.decode().split("|")
            if name in doors and device != name:
                cross += 1
            if pub_name in doors and pub_name != device:
                cross += 1
        assert got == expected[name], (
            f"{name}: unexpected {got - expected[name]}, missing {expected[name] - got}"
        )
    assert cross == 0
    # The allowed paths did deliver, so this test can fail both ways.
    assert len(expected["hub#"]) == len(doors) * len(HUB_READS)
    for door in doors:
        assert len(expected[door]) == len(DOOR_READS)


@pytest.mark.parametrize("protocol", [paho.MQTTv311, paho.MQTTv5], ids=["mqtt311", "mqtt5"])
def test_only_hubs_use_the_notice_relay_topic(tls_broker, raw_client_factory, protocol):
    """Hub processes share live notices on HUB_NOTICES; a door can neither read nor write it."""
    doors = tls_broker.devices
    tag = f"relay{protocol}"
    hub_sub = raw_client_factory(HUB)  # the relay subscribes without sharing, MQTT 5
    hub_sub.subscribe(HUB_NOTICES)
    listeners = {}
    for door in doors:
        c = raw_client_factory(door, protocol)
        c.subscribe("#", f"{ROOT}/#", HUB_NOTICES, shared(HUB_NOTICES))
        listeners[door] = c

    hub_pub = raw_client_factory(HUB)
    for door in doors:
        raw_client_factory(door, protocol).publish(HUB_NOTICES, f"{tag}|{door}".encode())
    hub_pub.publish(HUB_NOTICES, f"{tag}|hub".encode())
    # Sentinels each door may read, published after everything else was acknowledged.
    for door in doors:
        hub_pub.publish(topic(TopicKind.SYNC, door), f"{tag}|end|{door}".encode())

    assert hub_sub.wait_until(lambda got: (HUB_NOTICES, f"{tag}|hub".encode()) in got)
    heard = {p for t, p in hub_sub.messages if t == HUB_NOTICES and p.startswith(tag.encode())}
    assert heard == {f"{tag}|hub".encode()}, "a door's write reached the hubs"
    for door, c in listeners.items():
        end = f"{tag}|end|{door}".encode()
        assert c.wait_until(lambda got, e=end: e in {p for _t, p in got}), door
        leaked = [p for t, p in c.messages if t == HUB_NOTICES]
        assert leaked == [], f"{door} read the hubs' notices: {leaked}"
