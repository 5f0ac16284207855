"""The topic tree: builder and parser agree, filters and ACL patterns match what they should.

Matching is checked with paho's own MQTT matcher, the rule the broker applies.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.client import topic_matches_sub

from protocol.errors import InvalidDeviceId, InvalidTopic
from protocol.ids import DEVICE_ID_PATTERN, new_device_id
from protocol.topics import (
    DEVICE_PUBLISHES,
    HUB_PUBLISHES,
    PREFIX,
    ParsedTopic,
    TopicKind,
    acl_pattern,
    device_filter,
    hub_ingest_filters,
    parse_topic,
    shared,
    topic_for,
)

DEVICE = "door-1a2b3c"
LEAF = {TopicKind.EVENT: "ring", TopicKind.SNAPSHOT: "00000000-0000-4000-8000-000000000100"}
KINDS = list(TopicKind)


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_build_then_parse_round_trip(kind):
    topic = topic_for(kind, DEVICE, LEAF.get(kind))
    assert topic.startswith(f"{PREFIX}/{DEVICE}/{kind.value}")
    parsed = parse_topic(topic)
    assert parsed == ParsedTopic(DEVICE, kind, LEAF.get(kind))
    assert parsed.topic == topic


def test_every_kind_has_one_publisher():
    assert set(DEVICE_PUBLISHES) | set(HUB_PUBLISHES) == set(TopicKind)
    assert not set(DEVICE_PUBLISHES) & set(HUB_PUBLISHES)


def test_ack_topic_is_two_levels_under_the_device():
    assert topic_for(TopicKind.ACK, DEVICE) == f"doorstep/v1/{DEVICE}/cmd/ack"
    assert parse_topic(f"doorstep/v1/{DEVICE}/cmd/ack").kind is TopicKind.ACK
    assert parse_topic(f"doorstep/v1/{DEVICE}/cmd").kind is TopicKind.COMMAND


@pytest.mark.parametrize("kind", [TopicKind.EVENT, TopicKind.SNAPSHOT])
@pytest.mark.parametrize("leaf", [None, "", "Ring", "a/b", "+", "#", "x" * 65])
def test_kinds_with_a_last_level_refuse_bad_leaves(kind, leaf):
    with pytest.raises(InvalidTopic, match=kind.value):
        topic_for(kind, DEVICE, leaf)


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in LEAF], ids=lambda k: k.name)
def test_kinds_without_a_last_level_refuse_one(kind):
    with pytest.raises(InvalidTopic, match="no extra level"):
        topic_for(kind, DEVICE, "ring")


@pytest.mark.parametrize("device", ["+", "#", "a/b", "Door-1", "ab", "-door", "", "d" * 64])
def test_builder_refuses_invalid_device_ids(device):
    with pytest.raises(InvalidDeviceId, match="3-63 characters"):
        topic_for(TopicKind.STATUS, device)


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_device_filter_matches_exactly_its_own_kind(kind):
    other_device = new_device_id()
    for candidate in KINDS:
        topic = topic_for(candidate, DEVICE, LEAF.get(candidate))
        assert topic_matches_sub(device_filter(kind), topic) is (candidate is kind)
        assert topic_matches_sub(device_filter(kind, DEVICE), topic) is (candidate is kind)
        assert not topic_matches_sub(device_filter(kind, other_device), topic)


def test_device_filter_refuses_an_invalid_device():
    with pytest.raises(InvalidDeviceId):
        device_filter(TopicKind.STATE, "a/#")


def test_hub_ingest_filters_cover_what_devices_publish_and_nothing_else():
    filters = hub_ingest_filters()
    for kind in KINDS:
        topic = topic_for(kind, DEVICE, LEAF.get(kind))
        matched = any(topic_matches_sub(f, topic) for f in filters)
        assert matched is (kind in DEVICE_PUBLISHES), kind


def test_shared_subscription_form():
    assert shared(device_filter(TopicKind.EVENT)) == "$share/hub/doorstep/v1/+/event/+"
    assert shared("a/b", group="hub-2").startswith("$share/hub-2/")
    with pytest.raises(InvalidTopic, match="group"):
        shared("a/b", group="hub/x")
    with pytest.raises(InvalidTopic, match="group"):
        shared("a/b", group="")


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_acl_pattern_confines_a_device_to_its_own_topics(kind):
    pattern = acl_pattern(kind)
    assert "%u" in pattern
    assert "+" not in pattern.split("/")[2]
    # Mosquitto substitutes %u with the certificate identity before matching.
    own = pattern.replace("%u", DEVICE)
    mine = topic_for(kind, DEVICE, LEAF.get(kind))
    theirs = topic_for(kind, "door-9f8e7d", LEAF.get(kind))
    assert topic_matches_sub(own, mine)
    assert not topic_matches_sub(own, theirs)


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "doorstep",
        "doorstep/v1",
        "doorstep/v1/door-1a2b3c",
        "doorstep/v1/door-1a2b3c/",
        "/doorstep/v1/door-1a2b3c/status",
        "doorstep/v1/door-1a2b3c/event",
        "doorstep/v1/door-1a2b3c/event/ring/extra",
        "doorstep/v1/door-1a2b3c/cmd/ack/extra",
        "doorstep/v1/door-1a2b3c/cmd/nack",
        "doorstep/v1/door-1a2b3c/STATUS",
        "$share/hub/doorstep/v1/door-1a2b3c/status",
    ],
)
def test_parser_refuses_topics_outside_the_tree(topic):
    with pytest.raises(InvalidTopic, match="topic"):
        parse_topic(topic)


devices = st.from_regex(DEVICE_ID_PATTERN, fullmatch=True)
leaves = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,63}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(device=devices, kind=st.sampled_from(KINDS), leaf=leaves)
def test_round_trip_for_any_valid_device_and_leaf(device, kind, leaf):
    leaf_or_none = leaf if kind in LEAF else None
    topic = topic_for(kind, device, leaf_or_none)
    assert parse_topic(topic) == ParsedTopic(device, kind, leaf_or_none)
    assert topic_matches_sub(device_filter(kind), topic)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parser_raises_only_invalid_topic(text):
    try:
        parsed = parse_topic(text)
    except InvalidTopic:
        return
    assert parsed.topic == text
