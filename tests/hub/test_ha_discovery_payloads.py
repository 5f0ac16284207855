"""Discovery payloads checked against Home Assistant's published MQTT discovery fields.

The schemas below are written from the Home Assistant documentation pages (their
``{% configuration %}`` blocks: which keys exist, which are required, their types):
  lock:          home-assistant.io/integrations/lock.mqtt/
  event:         home-assistant.io/integrations/event.mqtt/
  image:         home-assistant.io/integrations/image.mqtt/
  sensor:        home-assistant.io/integrations/sensor.mqtt/
  binary_sensor: home-assistant.io/integrations/binary_sensor.mqtt/
(sources: source/_integrations/<platform>.mqtt.markdown in home-assistant/home-assistant.io)
  discovery topic, origin, birth message: home-assistant.io/integrations/mqtt/ ("MQTT Discovery")
Only the keys we might use are listed per platform; a key outside these is an error
(Home Assistant would refuse the whole config), as is a missing required one.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jinja2
import pytest

from hub.homeassistant import discovery
from hub.homeassistant.requests import LockRequest
from hub.homeassistant.topics import Entity
from protocol.device import LockState
from protocol.topics import HA_BIRTH

STR, BOOL, INT, LIST, MAP = str, bool, int, list, dict

# Options every MQTT entity platform documents (availability, device, identity, ...).
COMMON: dict[str, Any] = {
    "availability": LIST,
    "availability_mode": STR,
    "availability_template": STR,
    "availability_topic": STR,
    "device": MAP,
    "enabled_by_default": BOOL,
    "encoding": STR,
    "entity_category": STR,
    "entity_picture": STR,
    "icon": STR,
    "json_attributes_template": STR,
    "json_attributes_topic": STR,
    "name": (STR, type(None)),
    "object_id": STR,
    "origin": MAP,  # discovery only ("Adding information about the origin")
    "payload_available": STR,
    "payload_not_available": STR,
    "unique_id": STR,
}
PLATFORMS: dict[str, tuple[set[str], dict[str, Any]]] = {
    "lock": (
        {"command_topic"},
        {
            "code_format": STR,
            "command_template": STR,
            "command_topic": STR,
            "optimistic": BOOL,
            "payload_lock": STR,
            "payload_open": STR,
            "payload_reset": STR,
            "payload_unlock": STR,
            "qos": INT,
            "retain": BOOL,
            "state_jammed": STR,
            "state_locked": STR,
            "state_locking": STR,
            "state_topic": STR,
            "state_unlocked": STR,
            "state_unlocking": STR,
            "value_template": STR,
        },
    ),
    "event": (
        {"state_topic", "event_types"},
        {
            "device_class": (STR, type(None)),
            "event_types": LIST,
            "qos": INT,
            "state_topic": STR,
            "value_template": STR,
        },
    ),
    "image": (
        set(),  # image_topic or url_topic: "exclusive" (checked below)
        {
            "content_type": STR,
            "image_encoding": STR,
            "image_topic": STR,
            "url_template": STR,
            "url_topic": STR,
        },
    ),
    "sensor": (
        {"state_topic"},
        {
            "device_class": (STR, type(None)),
            "expire_after": INT,
            "force_update": BOOL,
            "last_reset_value_template": STR,
            "options": LIST,
            "qos": INT,
            "state_class": STR,
            "state_topic": STR,
            "suggested_display_precision": INT,
            "unit_of_measurement": (STR, type(None)),
            "value_template": STR,
        },
    ),
    "binary_sensor": (
        {"state_topic"},
        {
            "device_class": (STR, type(None)),
            "expire_after": INT,
            "force_update": BOOL,
            "off_delay": INT,
            "payload_off": STR,
            "payload_on": STR,
            "qos": INT,
            "state_topic": STR,
            "value_template": STR,
        },
    ),
}
AVAILABILITY_ITEM = {"topic": STR, "payload_available": STR, "payload_not_available": STR}
DEVICE = {
    "configuration_url": STR,
    "connections": LIST,
    "hw_version": STR,
    "identifiers": (LIST, STR),
    "manufacturer": STR,
    "model": STR,
    "model_id": STR,
    "name": STR,
    "serial_number": STR,
    "suggested_area": STR,
    "sw_version": STR,
    "via_device": STR,
}
ORIGIN = {"name": STR, "sw_version": STR, "support_url": STR}
# <discovery_prefix>/<component>/[<node_id>/]<object_id>/config, ids of [a-zA-Z0-9_-].
TOPIC = re.compile(r"^homeassistant/([a-z_]+)/(?:[a-zA-Z0-9_-]+/)?[a-zA-Z0-9_-]+/config$")
# Entity categories and the classes we use, from the entity / sensor / binary_sensor pages.
CATEGORIES = {"config", "diagnostic"}
SENSOR_CLASSES = {"timestamp", "temperature", None}
STATE_CLASSES = {"measurement", "total", "total_increasing"}

DOOR = discovery.Door("door-1a2b3c", "Front door", "1.4.2", "https://hub.example/")


def _typed(where: str, value: Any, expected: Any) -> None:
    assert isinstance(value, expected), f"{where}: {value!r} is not {expected}"
    assert not (expected in (INT, STR) and isinstance(value, bool)), where


def check_config(component: str, config: dict[str, Any]) -> None:
    required, own = PLATFORMS[component]
    allowed = COMMON | own
    assert required <= set(config), f"{component}: missing {required - set(config)}"
    for key, value in config.items():
        assert key in allowed, f"{component}: {key!r} is not a documented option"
        _typed(f"{component}.{key}", value, allowed[key])
    for item in config.get("availability", []):
        assert "topic" in item
        for key, value in item.items():
            _typed(f"availability.{key}", value, AVAILABILITY_ITEM[key])
    assert config.get("availability_mode", "latest") in {"all", "any", "latest"}
    device = config["device"]
    assert device.get("identifiers") or device.get("connections"), "device needs an identifier"
    for key, value in device.items():
        _typed(f"device.{key}", value, DEVICE[key])
    assert "name" in config["origin"]
    for key, value in config["origin"].items():
        _typed(f"origin.{key}", value, ORIGIN[key])
    assert config.get("entity_category") in CATEGORIES | {None}


@pytest.mark.parametrize("share", [True, False], ids=["with_snapshots", "without"])
def test_every_config_is_valid_for_its_platform(share: bool) -> None:
    seen_ids = set()
    for topic, payload in discovery.configs(DOOR, "homeassistant", share_snapshots=share):
        match = TOPIC.fullmatch(topic)
        assert match, topic
        if not payload:
            assert topic.startswith("homeassistant/image/")
            assert not share
            continue
        config = json.loads(payload)
        check_config(match.group(1), config)
        assert config["unique_id"] not in seen_ids
        seen_ids.add(config["unique_id"])
    assert len(seen_ids) == (7 if share else 6)


def _configs(share: bool = True) -> dict[Entity, dict[str, Any]]:
    found = discovery.entity_configs(DOOR, share_snapshots=share)
    return {e: c for e, c in found.items() if c is not None}


def test_lock_is_never_optimistic_and_asks_for_a_six_digit_code() -> None:
    lock = _configs()[Entity.LOCK]
    assert lock["optimistic"] is False
    assert lock["state_topic"]
    code = re.compile(lock["code_format"])
    assert code.fullmatch("123456")
    assert not code.fullmatch("12345")
    assert not code.fullmatch("")
    # The command goes to the hub's own tree, never a door's command topic.
    assert lock["command_topic"] == "doorstep/ha/door-1a2b3c/lock/set"
    assert not lock["command_topic"].startswith("doorstep/v1/")


@pytest.mark.parametrize(
    ("value", "code", "expected"),
    [("UNLOCK", "123456", "123456"), ("LOCK", None, "None"), ("UNLOCK", '1"}x', None)],
)
def test_command_template_renders_what_the_hub_parses(value, code, expected) -> None:
    # Rendered as Home Assistant does (Jinja, variables value and code: lock.mqtt docs).
    lock = _configs()[Entity.LOCK]
    rendered = jinja2.Template(lock["command_template"]).render(value=value, code=code)
    if expected is None:  # a code outside code_format: HA refuses it; the hub must too
        with pytest.raises(ValueError, match="JSON"):
            LockRequest.model_validate_json(rendered)
        return
    request = LockRequest.model_validate_json(rendered)
    assert (request.action, request.code) == (value, expected)


def test_lock_state_payloads_are_the_configured_states() -> None:
    lock = _configs()[Entity.LOCK]
    states = {lock[k] for k in lock if k.startswith("state_") and k != "state_topic"}
    for state in LockState:
        payload = discovery.lock_payload(state)
        assert payload in states or payload == "None"  # "None": documented reset to unknown
    assert lock["state_unlocking"] == discovery.UNLOCKING


def test_doorbell_event_image_and_diagnostics() -> None:
    c = _configs()
    ring = c[Entity.RING]
    assert ring["device_class"] == "doorbell"
    assert ring["event_types"] == ["ring"]
    assert (
        json.loads(discovery.ring_payload("2026-11-25T09:00:00+00:00", "e1"))["event_type"]
        in (ring["event_types"])
    )
    image = c[Entity.SNAPSHOT]
    assert ("image_topic" in image) != ("url_topic" in image)
    assert image["content_type"] == "image/jpeg"
    for entity in (Entity.CONNECTIVITY, Entity.LAST_SEEN, Entity.CPU_TEMP, Entity.OUTBOX):
        assert c[entity]["entity_category"] == "diagnostic"
        assert c[entity].get("device_class") in SENSOR_CLASSES | {"connectivity"}
        assert c[entity].get("state_class", "measurement") in STATE_CLASSES
    assert c[Entity.CONNECTIVITY]["device_class"] == "connectivity"
    # Diagnostics stay available while the door is offline (they say so); the rest not.
    assert len(c[Entity.CONNECTIVITY]["availability"]) == 1
    assert len(c[Entity.LOCK]["availability"]) == 2


def test_every_entity_of_a_door_is_one_device_and_states_are_ours() -> None:
    c = _configs()
    devices = {json.dumps(conf["device"], sort_keys=True) for conf in c.values()}
    assert len(devices) == 1
    for conf in c.values():
        for key in ("state_topic", "image_topic", "command_topic"):
            if key in conf:
                assert conf[key].startswith("doorstep/ha/door-1a2b3c/")


def test_removal_empties_every_config_topic() -> None:
    topics = {t for t, _ in discovery.configs(DOOR, "homeassistant", share_snapshots=True)}
    removals = discovery.removals(DOOR.device_id, "homeassistant")
    assert {t for t, _ in removals} == topics
    assert all(p == b"" for _, p in removals)
    assert HA_BIRTH == "homeassistant/status"
