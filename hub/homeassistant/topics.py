"""Every topic of the Home Assistant bridge, built and parsed here only.

doorstep/ha/_hub/status                      retained: the bridge is online / offline
doorstep/ha/{device}/availability            retained: the door is online / offline
doorstep/ha/{device}/{entity}                entity states (lock retained, ring not)
doorstep/ha/{device}/lock/set                Home Assistant -> hub: lock requests
{prefix}/{component}/doorstep/{device}_{entity}/config   retained discovery configs

>>> lock_set_topic("door-1a2b3c")
'doorstep/ha/door-1a2b3c/lock/set'
>>> device_of_lock_set("doorstep/ha/door-1a2b3c/lock/set")
'door-1a2b3c'
"""

from __future__ import annotations

from enum import StrEnum

from protocol.errors import InvalidDeviceId
from protocol.ids import check_device_id
from protocol.topics import HA_NODE, HA_ROOT


class Entity(StrEnum):
    """The entities of one door, with the Home Assistant component each one is."""

    LOCK = "lock"
    RING = "ring"
    SNAPSHOT = "snapshot"
    CONNECTIVITY = "connectivity"
    LAST_SEEN = "last_seen"
    CPU_TEMP = "cpu_temp"
    OUTBOX = "outbox_depth"

    @property
    def component(self) -> str:
        return _COMPONENTS[self]


_COMPONENTS = {
    Entity.LOCK: "lock",
    Entity.RING: "event",
    Entity.SNAPSHOT: "image",
    Entity.CONNECTIVITY: "binary_sensor",
    Entity.LAST_SEEN: "sensor",
    Entity.CPU_TEMP: "sensor",
    Entity.OUTBOX: "sensor",
}

LOCK_SET_FILTER = f"{HA_ROOT}/+/lock/set"


def state_topic(device_id: str, entity: Entity) -> str:
    return f"{HA_ROOT}/{check_device_id(device_id)}/{entity.value}"


def availability_topic(device_id: str) -> str:
    return f"{HA_ROOT}/{check_device_id(device_id)}/availability"


def lock_set_topic(device_id: str) -> str:
    return f"{HA_ROOT}/{check_device_id(device_id)}/lock/set"


def device_of_lock_set(topic: str) -> str | None:
    """The door a lock request is for, or None when the topic is not one."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:2]) != HA_ROOT or parts[3:] != ["lock", "set"]:
        return None
    try:
        return check_device_id(parts[2])
    except InvalidDeviceId:
        return None


def unique_id(device_id: str, entity: Entity) -> str:
    return f"doorstep_{check_device_id(device_id)}_{entity.value}"


def config_topic(prefix: str, device_id: str, entity: Entity) -> str:
    """Single-component discovery topic; the node id keeps us to our own subtree."""
    obj = f"{check_device_id(device_id)}_{entity.value}"
    return f"{prefix}/{entity.component}/{HA_NODE}/{obj}/config"
