"""Discovery configs and state payloads, as Home Assistant's MQTT platforms define them.

Field names follow the MQTT lock, event, image, sensor and binary_sensor pages of the
Home Assistant documentation (tests/hub/test_ha_discovery_payloads.py checks them).
The lock is never optimistic: its state is only what the door reported.

    >>> door = Door("door-1a2b3c", "Front door", "1.0.0")
    >>> [topic for topic, _ in configs(door, "homeassistant", share_snapshots=False)][0]
    'homeassistant/lock/doorstep/door-1a2b3c_lock/config'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from protocol.device import LockState
from protocol.topics import HA_BRIDGE_STATUS

from .topics import Entity, availability_topic, config_topic, lock_set_topic, state_topic, unique_id

# One code: six digits, the member's authenticator code (hub/homeassistant/requests.py).
CODE_FORMAT = r"^\d{6}$"
# Home Assistant renders this with the service call's value and code (lock.mqtt docs).
COMMAND_TEMPLATE = '{"action": "{{ value }}", "code": "{{ code }}"}'
RING = "ring"

# Only the door says what the lock is; "None" is the documented reset to unknown.
_LOCK_PAYLOADS = {
    LockState.ENGAGED: "LOCKED",
    LockState.RELEASED: "UNLOCKED",
    LockState.JAMMED: "JAMMED",
    LockState.UNKNOWN: "None",
}
UNLOCKING = "UNLOCKING"


@dataclass(frozen=True, slots=True)
class Door:
    device_id: str
    name: str
    software_version: str | None = None
    configuration_url: str | None = None


def lock_payload(state: LockState | str) -> str:
    return _LOCK_PAYLOADS[LockState(state)]


def ring_payload(at: str | None, event_id: str | None) -> bytes:
    """The event entity's JSON: ``event_type`` plus attributes (never retained)."""
    return json.dumps({"event_type": RING, "at": at, "event_id": event_id}).encode()


def _origin() -> dict[str, str]:
    try:
        version = metadata.version("doorstep")
    except metadata.PackageNotFoundError:  # running from a source tree
        version = "0"
    return {"name": "Doorstep hub", "sw_version": version}


def _device(door: Door) -> dict[str, Any]:
    block: dict[str, Any] = {
        "identifiers": [f"doorstep_{door.device_id}"],
        "name": door.name,
        "manufacturer": "Doorstep",
        "model": "Doorstep door",
        "serial_number": door.device_id,
    }
    if door.software_version:
        block["sw_version"] = door.software_version
    if door.configuration_url:
        block["configuration_url"] = door.configuration_url
    return block


def _base(door: Door, entity: Entity, name: str, *, door_matters: bool) -> dict[str, Any]:
    # The door's own entities need the bridge *and* the door; diagnostics only the
    # bridge (a "disconnected" door must still show as disconnected, not unavailable).
    availability = [{"topic": HA_BRIDGE_STATUS}]
    if door_matters:
        availability.append({"topic": availability_topic(door.device_id)})
    return {
        "name": name,
        "unique_id": unique_id(door.device_id, entity),
        "device": _device(door),
        "origin": _origin(),
        "availability": availability,
        "availability_mode": "all",
    }


def _diagnostic(door: Door, entity: Entity, name: str, **extra: Any) -> dict[str, Any]:
    return {
        **_base(door, entity, name, door_matters=False),
        "state_topic": state_topic(door.device_id, entity),
        "entity_category": "diagnostic",
        **extra,
    }


def entity_configs(door: Door, *, share_snapshots: bool) -> dict[Entity, dict[str, Any] | None]:
    """Each entity's config; None for one that must not exist (so it is removed)."""
    d = door.device_id
    lock = {
        **_base(door, Entity.LOCK, "Lock", door_matters=True),
        "state_topic": state_topic(d, Entity.LOCK),
        "command_topic": lock_set_topic(d),
        "command_template": COMMAND_TEMPLATE,
        "code_format": CODE_FORMAT,
        "payload_lock": "LOCK",
        "payload_unlock": "UNLOCK",
        "state_locked": "LOCKED",
        "state_unlocked": "UNLOCKED",
        "state_locking": "LOCKING",
        "state_unlocking": UNLOCKING,
        "state_jammed": "JAMMED",
        "optimistic": False,
        "qos": 1,
        "retain": False,
    }
    ring = {
        **_base(door, Entity.RING, "Doorbell", door_matters=True),
        "state_topic": state_topic(d, Entity.RING),
        "event_types": [RING],
        "device_class": "doorbell",
        "qos": 1,
    }
    snapshot = {
        **_base(door, Entity.SNAPSHOT, "Last ring", door_matters=True),
        "image_topic": state_topic(d, Entity.SNAPSHOT),
        "content_type": "image/jpeg",
    }
    return {
        Entity.LOCK: lock,
        Entity.RING: ring,
        Entity.SNAPSHOT: snapshot if share_snapshots else None,
        Entity.CONNECTIVITY: _diagnostic(
            door,
            Entity.CONNECTIVITY,
            "Connected",
            device_class="connectivity",
            payload_on="ON",
            payload_off="OFF",
        ),
        Entity.LAST_SEEN: _diagnostic(
            door, Entity.LAST_SEEN, "Last heartbeat", device_class="timestamp"
        ),
        Entity.CPU_TEMP: _diagnostic(
            door,
            Entity.CPU_TEMP,
            "CPU temperature",
            device_class="temperature",
            unit_of_measurement="°C",
            state_class="measurement",
        ),
        Entity.OUTBOX: _diagnostic(
            door, Entity.OUTBOX, "Events waiting to send", state_class="measurement"
        ),
    }


def configs(door: Door, prefix: str, *, share_snapshots: bool) -> list[tuple[str, bytes]]:
    """(topic, retained payload) for every entity; an empty payload deletes one."""
    out = []
    for entity, config in entity_configs(door, share_snapshots=share_snapshots).items():
        payload = b"" if config is None else json.dumps(config, sort_keys=True).encode()
        out.append((config_topic(prefix, door.device_id, entity), payload))
    return out


def removals(device_id: str, prefix: str) -> list[tuple[str, bytes]]:
    """Empty retained configs for every entity: Home Assistant deletes them."""
    return [(config_topic(prefix, device_id, entity), b"") for entity in Entity]
