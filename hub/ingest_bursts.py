"""What a door sends together: a cheap peek at a message (no decoding) that tells ingest
whether to wait a moment for the rest of its burst, so the burst shares one transaction
instead of the message people wait for queueing behind another commit.

    more_follows(topic, payload, props)   # Follows.SOON after a ring's picture
    is_heartbeat(topic)                   # heartbeats wait for company of their own
"""

from __future__ import annotations

import enum
import json

from protocol.codec import WireProperties
from protocol.snapshots import SNAPSHOT_META_PROPERTY


class Follows(enum.Enum):
    """What the door sends right after a message."""

    NOTHING = enum.auto()
    SOON = enum.auto()  # sent at once, right behind it
    ACK = enum.auto()  # the command's signed answer: what the person unlocking waits for


def more_follows(topic: str, payload: bytes, props: WireProperties) -> Follows:
    """A ring's snapshot (then the ring), a state (its event was written first but goes
    out through the outbox), a commanded release (then the command's ack)."""
    leaf = topic.rsplit("/", 2)
    try:
        if leaf[-2] == "snapshot":
            meta = dict(props.user_properties).get(SNAPSHOT_META_PROPERTY, "")
            ring = json.loads(meta).get("reason") == "ring"
            return Follows.SOON if ring else Follows.NOTHING
        if leaf[-1] == "state":
            return Follows.SOON
        if leaf[-2:] == ["event", "lock_changed"]:
            body = json.loads(payload)
            if body.get("command_id") and body.get("state") == "released":
                return Follows.ACK
    except (ValueError, AttributeError, IndexError):
        pass  # decoding will say what is wrong with it
    return Follows.NOTHING


def is_heartbeat(topic: str) -> bool:
    return topic.endswith("/telemetry")
