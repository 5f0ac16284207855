"""The Doorstep topic tree: one place that builds topics and one that parses them.

doorstep/v1/{device}/status            retained presence: online / offline (last will)
doorstep/v1/{device}/state             retained lock + door state as the device sees it
doorstep/v1/{device}/event/{kind}      events (QoS 1)
doorstep/v1/{device}/snapshot/{id}     JPEG bytes, metadata in MQTT v5 user properties
doorstep/v1/{device}/telemetry         heartbeat
doorstep/v1/{device}/cmd               hub -> device, signed
doorstep/v1/{device}/cmd/ack           device -> hub, signed by the device
doorstep/v1/{device}/sync              hub -> device, retained: stored-through sequence
doorstep/v1/{device}/checkpoint        hub -> device, retained: signed audit checkpoint
doorstep/hub/notices                   hub -> hub only (not the device protocol): live notices

>>> topic_for(TopicKind.EVENT, "door-1a2b3c", "ring")
'doorstep/v1/door-1a2b3c/event/ring'
>>> parse_topic("doorstep/v1/door-1a2b3c/event/ring")
ParsedTopic(device_id='door-1a2b3c', kind=<TopicKind.EVENT: 'event'>, leaf='ring')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .errors import InvalidDeviceId, InvalidTopic
from .ids import check_device_id

ROOT = "doorstep"
VERSION_LEVEL = "v1"
PREFIX = f"{ROOT}/{VERSION_LEVEL}"

_LEAF_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class TopicKind(StrEnum):
    """The kinds of topic under one device."""

    STATUS = "status"
    STATE = "state"
    EVENT = "event"
    SNAPSHOT = "snapshot"
    TELEMETRY = "telemetry"
    COMMAND = "cmd"
    ACK = "cmd/ack"
    SYNC = "sync"
    CHECKPOINT = "checkpoint"


# Kinds whose topic has one more level (the event kind or the snapshot id).
_WITH_LEAF = {TopicKind.EVENT, TopicKind.SNAPSHOT}

# Who publishes what: used by the broker ACL generator and by docs.
DEVICE_PUBLISHES = (
    TopicKind.STATUS,
    TopicKind.STATE,
    TopicKind.EVENT,
    TopicKind.SNAPSHOT,
    TopicKind.TELEMETRY,
    TopicKind.ACK,
)
HUB_PUBLISHES = (TopicKind.COMMAND, TopicKind.SYNC, TopicKind.CHECKPOINT)

# Hub processes share their live notices here (hub/notice_relay.py); devices may neither
# read nor write it. Not part of the device protocol, but defined here because the broker
# ACL generator (firmware_config) must grant it and protocol is the one package both it
# and the hub import. Outside doorstep/v1/ so no device pattern (%u) can ever match it.
HUB_NOTICES = f"{ROOT}/hub/notices"

# Home Assistant bridge (hub/homeassistant/, off unless a door opts in). Not the device
# protocol either: the hub publishes entity states under HA_ROOT/{device}/..., reads
# Home Assistant's lock requests from HA_ROOT/{device}/lock/set, and announces entities
# under HA_DISCOVERY_PREFIX/<component>/HA_NODE/<object>/config. Here so the broker ACL
# generator (firmware_config) grants exactly these. "_" is no device-id character, so
# HA_BRIDGE_STATUS can never be a door's topic.
HA_ROOT = f"{ROOT}/ha"
HA_DISCOVERY_PREFIX = "homeassistant"
HA_NODE = "doorstep"
HA_BIRTH = f"{HA_DISCOVERY_PREFIX}/status"
HA_BRIDGE_STATUS = f"{HA_ROOT}/_hub/status"


@dataclass(frozen=True, slots=True)
class ParsedTopic:
    """A topic taken apart: which device, which kind, and the extra level if any."""

    device_id: str
    kind: TopicKind
    leaf: str | None = None

    @property
    def topic(self) -> str:
        return topic_for(self.kind, self.device_id, self.leaf)


def topic_for(kind: TopicKind, device_id: str, leaf: str | None = None) -> str:
    """Build the topic of ``kind`` for ``device_id`` (``leaf`` for event / snapshot)."""
    check_device_id(device_id)
    base = f"{PREFIX}/{device_id}/{kind.value}"
    if kind in _WITH_LEAF:
        if leaf is None or not _LEAF_RE.fullmatch(leaf):
            raise InvalidTopic(
                f"{kind.value} topics need a last level of a-z, 0-9, '_' or '-' (got {leaf!r})"
            )
        return f"{base}/{leaf}"
    if leaf is not None:
        raise InvalidTopic(f"{kind.value} topics take no extra level (got {leaf!r})")
    return base


def parse_topic(topic: str) -> ParsedTopic:
    """Take a concrete topic apart, or raise ``InvalidTopic`` saying why."""
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != ROOT:
        raise InvalidTopic(f"topic {topic!r} is not under {PREFIX}/")
    if parts[1] != VERSION_LEVEL:
        raise InvalidTopic(
            f"topic {topic!r} uses protocol level {parts[1]!r}; this side speaks {VERSION_LEVEL}"
        )
    try:
        device_id = check_device_id(parts[2])
    except InvalidDeviceId as exc:
        raise InvalidTopic(f"topic {topic!r}: {exc}") from None
    rest = parts[3:]
    if rest == ["cmd", "ack"]:
        return ParsedTopic(device_id, TopicKind.ACK)
    try:
        kind = TopicKind(rest[0])
    except ValueError:
        raise InvalidTopic(f"topic {topic!r}: unknown kind {rest[0]!r}") from None
    if kind in _WITH_LEAF:
        if len(rest) != 2 or not _LEAF_RE.fullmatch(rest[1]):
            raise InvalidTopic(f"topic {topic!r}: {kind.value} needs exactly one valid last level")
        return ParsedTopic(device_id, kind, rest[1])
    if len(rest) != 1:
        raise InvalidTopic(f"topic {topic!r}: {kind.value} takes no extra level")
    return ParsedTopic(device_id, kind)


def device_filter(kind: TopicKind, device_id: str = "+") -> str:
    """A subscription filter for ``kind`` on one device or, with ``+``, on every device."""
    if device_id != "+":
        check_device_id(device_id)
    base = f"{PREFIX}/{device_id}/{kind.value}"
    return f"{base}/+" if kind in _WITH_LEAF else base


def hub_ingest_filters() -> list[str]:
    """Everything the hub reads from devices."""
    return [device_filter(kind) for kind in DEVICE_PUBLISHES]


def shared(filter_: str, group: str = "hub") -> str:
    """The MQTT v5 shared-subscription form of ``filter_`` (load-balanced over a group)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", group):
        raise InvalidTopic(f"shared subscription group {group!r} may only use A-Z, a-z, 0-9, _ -")
    return f"$share/{group}/{filter_}"


def acl_pattern(kind: TopicKind, placeholder: str = "%u") -> str:
    """A Mosquitto ACL pattern for ``kind`` with the device id replaced by ``placeholder``."""
    base = f"{PREFIX}/{placeholder}/{kind.value}"
    return f"{base}/+" if kind in _WITH_LEAF else base
