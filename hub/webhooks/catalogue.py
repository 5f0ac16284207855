"""The event types a partner can subscribe to, and what each one carries.

Payloads are least privilege: ids, kinds and times, never a name, a snapshot or
its id, nor an alert's free-text details (see docs/webhooks.md).

    >>> EVENT_TYPES["doorstep.ring"].description
    'Someone rang the doorbell'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

RING = "doorstep.ring"
DOOR_UNLOCKED = "doorstep.door.unlocked"
DOOR_OPENED = "doorstep.door.opened"
DOOR_CLOSED = "doorstep.door.closed"
ALERT_RAISED = "doorstep.alert.raised"
ALERT_RESOLVED = "doorstep.alert.resolved"
DEVICE_OFFLINE = "doorstep.device.offline"
DEVICE_ONLINE = "doorstep.device.online"
VISIT_MISSED = "doorstep.visit.missed"


@dataclass(frozen=True, slots=True)
class EventType:
    """What one event type means, said twice: for people and for partners' developers."""

    description: str  # short plain English: the admin page's checkbox label
    detail: str  # exactly what makes the hub send it


# In the order the admin page offers them (the API lists them in this order).
EVENT_TYPES: dict[str, EventType] = {
    RING: EventType("Someone rang the doorbell", "someone rang the doorbell"),
    DOOR_UNLOCKED: EventType(
        "The lock was released", "the lock was released (by a remote command or by hand)"
    ),
    DOOR_OPENED: EventType("The door opened", "the door contact opened"),
    DOOR_CLOSED: EventType("The door closed", "the door contact closed"),
    ALERT_RAISED: EventType(
        "An alert was raised", "an alert was raised (any kind: lock jammed, unanswered ring...)"
    ),
    ALERT_RESOLVED: EventType("An alert was resolved", "an alert was resolved"),
    DEVICE_OFFLINE: EventType(
        "A door went offline", "a door went offline (its device_offline alert was raised)"
    ),
    DEVICE_ONLINE: EventType(
        "An offline door came back",
        "an offline door came back (its device_offline alert was resolved)",
    ),
    VISIT_MISSED: EventType(
        "A carer did not arrive for a visit",
        "a carer did not arrive in a visit window (carer_non_arrival alert)",
    ),
}

# Device event kinds (protocol.events) that can become a CloudEvent: ingest skips the rest.
EVENT_KINDS = frozenset({"ring", "lock_changed", "door_opened", "door_closed"})


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One CloudEvent to be: written to the outbox, fanned out, delivered."""

    ce_id: str
    type: str
    subject: str
    home_id: str | None
    time: datetime
    data: dict[str, Any]


def from_event(
    kind: str, payload: dict[str, Any], device: str, home: str | None, at: datetime
) -> Occurrence | None:
    """The CloudEvent for a stored device event, or None if partners never see it."""
    base = {"device": device, "home": home, "event_id": payload["id"], "seq": payload["seq"]}
    subject = f"devices/{device}"
    if kind == "ring":
        data = base | {"has_snapshot": bool(payload.get("snapshot_id"))}
        return Occurrence(payload["id"], RING, subject, home, at, data)
    if kind == "lock_changed" and payload.get("state") == "released":
        data = base | {
            "cause": payload.get("cause"),
            "command_id": payload.get("command_id"),  # links to the hub's audit log
            "remote": payload.get("command_id") is not None,
        }
        return Occurrence(payload["id"], DOOR_UNLOCKED, subject, home, at, data)
    if kind in ("door_opened", "door_closed"):
        type_ = DOOR_OPENED if kind == "door_opened" else DOOR_CLOSED
        return Occurrence(payload["id"], type_, subject, home, at, base)
    return None


def from_alert(
    alert_id: int,
    kind: str,
    change: str,
    device: str | None,
    home: str | None,
    at: datetime,
) -> list[Occurrence]:
    """The CloudEvents for an alert raised or resolved (``change``)."""
    data: dict[str, Any] = {"alert_id": alert_id, "kind": kind, "device": device, "home": home}
    subject = f"alerts/{alert_id}"
    generic = ALERT_RAISED if change == "raised" else ALERT_RESOLVED
    out = [Occurrence(f"alert-{alert_id}-{change}", generic, subject, home, at, data)]
    specific = {
        ("device_offline", "raised"): DEVICE_OFFLINE,
        ("device_offline", "resolved"): DEVICE_ONLINE,
        ("carer_non_arrival", "raised"): VISIT_MISSED,
    }.get((kind, change))
    if specific is not None:
        name = specific.rsplit(".", 1)[-1]
        out.append(Occurrence(f"alert-{alert_id}-{name}", specific, subject, home, at, data))
    return out
