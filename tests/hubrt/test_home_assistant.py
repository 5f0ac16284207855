"""Home Assistant discovery end to end: a real broker, a real hub, the real edge agent.

"Home Assistant" here is an MQTT client doing what its MQTT integration does: read
retained discovery configs and states, publish its birth message and lock requests
rendered from the lock's command_template. A lock request must become an unlock only
through the hub's authorisation; the broker ACL keeps Home Assistant's account away
from the doors' own topics.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pyotp
import pytest
from argon2 import PasswordHasher

from firmware_config.broker_config import acl_text, refresh
from firmware_config.deployment import HUB_SERVICE
from firmware_config.registry import ServiceRole
from hub.audit import entries
from hub.homeassistant.store import set_link
from hub.storage.accounts import Passwords, confirm_totp, create_account, start_totp
from hub.storage.devices import get_device
from protocol import utcnow
from protocol.codec import WireMessage
from protocol.topics import HA_BIRTH, PREFIX
from tests.fixtures.broker import Received
from tests.fixtures.tls_broker import RawClient, start_tls_broker
from tests.hubrt.rig import HubRig

ENTITIES = ("lock", "ring", "connectivity", "last_seen", "cpu_temp", "outbox_depth")


@pytest.fixture
def rig(database, plain_broker):
    r = HubRig(database, plain_broker, unlocks_per_minute=20)
    yield r
    r.stop()


class HomeAssistant:
    """An MQTT client standing in for Home Assistant's MQTT integration."""

    def __init__(self, link_factory: Any, device: str) -> None:
        self.device = device
        self.got = Received()
        self.link = link_factory()
        for filter_ in ("homeassistant/+/doorstep/+/config", f"doorstep/ha/{device}/#"):
            self.link.subscribe(filter_, self._mine)
        assert self.link.wait_subscribed()

    def _mine(self, topic: str, payload: bytes, props: Any) -> None:
        if f"/{self.device}/" in topic or f"/{self.device}_" in topic:
            self.got(topic, payload, props)

    def on(self, suffix: str) -> list[bytes]:
        return [p for t, p, _ in self.got.items if t.endswith(suffix)]

    def configs(self) -> dict[str, dict[str, Any]]:
        out = {}
        for topic, payload, _ in self.got.items:
            if topic.startswith("homeassistant/") and payload:
                out[topic.split("/")[3].removeprefix(f"{self.device}_")] = json.loads(payload)
        return out

    def wait(self, predicate: Any, timeout: float = 10.0) -> bool:
        with self.got.cond:
            return self.got.cond.wait_for(predicate, timeout)

    def publish(self, topic: str, payload: bytes) -> None:
        self.link.publish(WireMessage(topic, payload, 1, False)).wait_for_publish(5)

    def lock_request(self, value: str, code: str | None) -> None:
        # What Home Assistant sends: the lock's command_template rendered.
        body = json.dumps({"action": value, "code": str(code)})
        self.publish(f"doorstep/ha/{self.device}/lock/set", body.encode())




def _audit(rig: HubRig, action: str) -> list[Any]:
    with rig.db.read_session() as s:
        return [e for e in entries(s) if e.action == action]


def _opt_in(rig: HubRig, device: str, person: str | None = None, share: bool = False) -> None:
    with rig.db.session() as s:
        set_link(s, device, person_id=person, share_snapshots=share, at=utcnow())


def _enrol(rig: HubRig, person: str) -> str:
    """An account with a confirmed authenticator, its code step already in the past."""
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    past = utcnow() - timedelta(minutes=2)
    with rig.db.session() as s:
        create_account(
            s, passwords, person_id=person, username=person[:8], password="x" * 12, at=past
        )
        secret = start_totp(s, person)
        assert confirm_totp(s, person, pyotp.TOTP(secret).at(past), at=past)
    return secret


def _wrong(secret: str) -> str:
    totp, now = pyotp.TOTP(secret), utcnow()
    valid = {totp.at(now + timedelta(seconds=d)) for d in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def test_opted_in_door_is_announced_and_an_opted_out_one_is_not(rig, link_factory):
    door, other = rig.add_device(), rig.add_device()
    _opt_in(rig, door)
    rig.start()  # a door is opted in: the bridge starts with the hub
    assert rig.hub.home_assistant.running
    ha, ha_other = HomeAssistant(link_factory, door), HomeAssistant(link_factory, other)
    # Retained: a Home Assistant connecting later still finds every entity.
    assert ha.wait(lambda: set(ENTITIES) <= set(ha.configs()))
    configs = ha.configs()
    assert "snapshot" not in configs  # pictures are off unless the admin shares them
    assert configs["lock"]["command_topic"] == f"doorstep/ha/{door}/lock/set"
    assert ha.wait(lambda: ha.on("/lock") == [b"None"])  # nothing reported yet: unknown
    assert ha_other.configs() == {}
    assert ha_other.got.items == []


def test_without_any_opted_in_door_the_bridge_stays_off(rig):
    rig.add_device()
    rig.start()
    assert not rig.hub.home_assistant.running


def test_entities_become_unavailable_when_the_hub_stops(rig, link_factory):
    door = rig.add_device()
    _opt_in(rig, door)
    rig.start()
    status = Received()
    watcher = link_factory()
    watcher.subscribe("doorstep/ha/_hub/status", status)
    assert watcher.wait_subscribed()
    assert status.wait_for(1)[-1][1] == b"online"  # retained
    rig.hub.home_assistant.stop()
    assert status.wait_for(2)[-1][1] == b"offline"
    lock = json.loads(_config(door, "lock"))
    assert {"topic": "doorstep/ha/_hub/status"} in lock["availability"]


def _config(door: str, entity: str) -> bytes:
    from hub.homeassistant import discovery

    configs = dict(
        discovery.configs(discovery.Door(door, "x"), "homeassistant", share_snapshots=False)
    )
    return configs[f"homeassistant/{entity}/doorstep/{door}_{entity}/config"]


def test_birth_message_makes_the_hub_announce_again(rig, link_factory):
    door = rig.add_device()
    _opt_in(rig, door)
    rig.start()
    ha = HomeAssistant(link_factory, door)
    assert ha.wait(lambda: len(ha.on("_lock/config")) == 1)
    ha.publish(HA_BIRTH, b"offline")  # Home Assistant's last will: nothing to do
    ha.publish(HA_BIRTH, b"online")  # restarted: it needs every config again
    assert ha.wait(lambda: len(ha.on("_lock/config")) == 2)
    assert ha.on("_lock/config")[0] == ha.on("_lock/config")[1]


def test_states_follow_the_door_and_rings_reach_home_assistant(rig, link_factory):
    door = rig.add_device()
    _opt_in(rig, door, share=True)
    rig.start()
    ha = HomeAssistant(link_factory, door)
    _agent, board = rig.agent(door, cooldown_s=0.01)  # two rings in a row both count
    rig.wait_online(door)
    assert ha.wait(lambda: ha.on("/lock")[-1:] == [b"LOCKED"])
    assert ha.wait(lambda: ha.on("/availability")[-1:] == [b"online"])
    board.ring()
    assert ha.wait(lambda: bool(ha.on("/ring")))
    assert json.loads(ha.on("/ring")[0])["event_type"] == "ring"
    assert ha.wait(lambda: bool(ha.on("/snapshot")))
    assert ha.on("/snapshot")[0][:2] == b"\xff\xd8"  # the JPEG itself
    shared = _audit(rig, "home_assistant_snapshot_shared")
    assert len(shared) == 1
    assert f"device:{door}" in shared[0].subjects
    # The door's privacy switch wins: no picture leaves the hub while it is on.
    with rig.db.session() as s:
        get_device(s, door).privacy = True
    board.ring()
    # Ordered on one connection: had its picture been sent, it came before this ring.
    assert ha.wait(lambda: len(ha.on("/ring")) == 2)
    assert len(ha.on("/snapshot")) == 1
    assert len(_audit(rig, "home_assistant_snapshot_shared")) == 1


def _commands_seen(rig: HubRig, door: str) -> Received:
    seen = Received()
    link = rig.device_link(door, will=False)
    link.subscribe(f"{PREFIX}/{door}/cmd", seen)
    assert link.wait_subscribed()
    return seen


def test_lock_requests_without_the_hub_s_authorisation_are_refused(rig, link_factory):
    door = rig.add_device()
    secret = _enrol(rig, rig.family)
    _opt_in(rig, door, person=rig.family)
    rig.start()
    _agent, board = rig.agent(door)
    rig.wait_online(door)
    ha = HomeAssistant(link_factory, door)
    commands = _commands_seen(rig, door)
    cases = [
        (lambda: ha.lock_request("UNLOCK", None), "no_code"),
        (lambda: ha.lock_request("UNLOCK", _wrong(secret)), "wrong_code"),
        (lambda: ha.lock_request("LOCK", "123456"), "lock_not_supported"),
        (lambda: ha.publish(f"doorstep/ha/{door}/lock/set", b"UNLOCK"), "malformed"),
    ]
    for send, reason in cases:
        before = len(_audit(rig, "home_assistant_refused"))
        send()
        assert rig.wait_until(lambda b=before: len(_audit(rig, "home_assistant_refused")) > b)
        refused = _audit(rig, "home_assistant_refused")[-1]
        assert refused.details["refusal"] == reason
        assert refused.details["via"] == "home_assistant"
    assert commands.items == []
    assert board.relay_changes == []
    assert _audit(rig, "unlock_requested") == []


def test_a_member_without_unlock_is_refused_even_with_a_valid_code(rig, link_factory):
    door = rig.add_device()
    secret = _enrol(rig, rig.telecare)
    _opt_in(rig, door, person=rig.telecare)  # the API refuses this link; the hub must too
    rig.start()
    _agent, board = rig.agent(door)
    rig.wait_online(door)
    ha = HomeAssistant(link_factory, door)
    commands = _commands_seen(rig, door)
    ha.lock_request("UNLOCK", pyotp.TOTP(secret).now())
    assert rig.wait_until(lambda: bool(_audit(rig, "home_assistant_refused")))
    assert _audit(rig, "home_assistant_refused")[0].details["refusal"] == "not_authorised"
    assert commands.items == []
    assert board.relay_changes == []


def test_a_valid_code_unlocks_through_the_hub_s_signed_command(rig, link_factory):
    door = rig.add_device()
    secret = _enrol(rig, rig.family)
    _opt_in(rig, door, person=rig.family)
    rig.start()
    _agent, board = rig.agent(door)
    rig.wait_online(door)
    ha = HomeAssistant(link_factory, door)
    code = pyotp.TOTP(secret).now()
    ha.lock_request("UNLOCK", code)
    assert rig.wait_until(lambda: bool(_audit(rig, "command_acknowledged")))
    assert board.relay_changes[0][1] is True  # the real edge agent verified and released
    requested = _audit(rig, "unlock_requested")[0]
    assert requested.actor == f"person:{rig.family}"
    assert requested.details["reason"] == "home_assistant"
    step_up = _audit(rig, "step_up")[0]
    assert step_up.details == {"via": "home_assistant"}
    assert ha.wait(lambda: b"UNLOCKING" in ha.on("/lock"))
    assert ha.wait(lambda: b"UNLOCKED" in ha.on("/lock"))
    assert ha.wait(lambda: ha.on("/lock")[-1] == b"LOCKED")  # it re-locked by itself
    # The same code twice is a replay: refused, never a second unlock.
    ha.lock_request("UNLOCK", code)
    assert rig.wait_until(lambda: bool(_audit(rig, "home_assistant_refused")))
    assert _audit(rig, "home_assistant_refused")[0].details["refusal"] == "wrong_code"
    assert len(_audit(rig, "unlock_requested")) == 1


def test_a_jammed_lock_shows_as_jammed(rig, link_factory):
    door = rig.add_device()
    _opt_in(rig, door)
    rig.start()
    _agent, board = rig.agent(door, jam_timeout_s=0.2)
    rig.wait_online(door)
    ha = HomeAssistant(link_factory, door)
    assert ha.wait(lambda: ha.on("/lock")[-1:] == [b"LOCKED"])
    board.jam_lock()
    rig.hub.commands.request(door, "unlock", person_id=rig.family)  # from the web app
    assert ha.wait(lambda: ha.on("/lock")[-1:] == [b"JAMMED"])


def test_opting_out_deletes_the_entities(rig, link_factory):
    door = rig.add_device()
    _opt_in(rig, door)
    rig.start()
    ha = HomeAssistant(link_factory, door)
    assert ha.wait(lambda: set(ENTITIES) <= set(ha.configs()))
    with rig.db.session() as s:
        from hub.homeassistant.store import remove_link

        assert remove_link(s, door)
    rig.hub.home_assistant.withdraw(door)
    assert ha.wait(lambda: len([p for p in ha.on("_lock/config") if p == b""]) == 1)
    later = HomeAssistant(link_factory, door)  # nothing retained is left behind
    assert not later.wait(lambda: bool(later.got.items), timeout=0.5)


def test_refresh_follows_opt_ins_and_outs_made_by_another_hub_process(rig, link_factory):
    from hub.homeassistant.store import remove_link

    first, second = rig.add_device(), rig.add_device()
    _opt_in(rig, first)
    rig.start()
    ha_first, ha_second = HomeAssistant(link_factory, first), HomeAssistant(link_factory, second)
    assert ha_first.wait(lambda: set(ENTITIES) <= set(ha_first.configs()))
    _opt_in(rig, second)  # as another process's web app would
    with rig.db.session() as s:
        assert remove_link(s, first)
    rig.hub.home_assistant.refresh()  # what the bridge does every refresh_interval_s
    assert ha_second.wait(lambda: set(ENTITIES) <= set(ha_second.configs()))
    assert ha_first.wait(lambda: b"" in ha_first.on("_lock/config"))


# -- the broker: Home Assistant's account never reaches a door ---------------------------
def test_acl_gives_home_assistant_no_door_topic() -> None:
    from datetime import UTC, datetime

    from firmware_config.registry import Registry, ServiceRecord

    now = datetime.now(UTC)
    ha = ServiceRecord(
        name="home-assistant", role=ServiceRole.HOME_ASSISTANT, serial="2", not_after=now, added=now
    )
    text = acl_text(Registry(broker_hosts=["x"], services={"home-assistant": ha}))
    block = text.split("user svc.home-assistant\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block == [
        "topic read doorstep/ha/#",
        "topic write doorstep/ha/+/lock/set",
        "topic read homeassistant/#",
        "topic write homeassistant/status",
    ]


def _raw(broker: Any, identity: str, tag: str) -> RawClient:
    c = RawClient(broker.host, broker.port, broker.tls(identity), paho.MQTTv5, f"{identity}-{tag}")
    assert c.connect(), identity
    return c


@pytest.fixture
def ha_broker():
    broker = start_tls_broker(devices=1)
    broker.deployment.add_service("home-assistant", role=ServiceRole.HOME_ASSISTANT)
    assert Path(broker.process.layout.root / "acl").is_file()
    refresh(broker.deployment, broker.process)  # new ACL (SIGHUP), as an operator would
    clients: list[RawClient] = []
    yield broker, clients
    for c in clients:
        c.close()
    broker.stop()


def test_home_assistant_account_cannot_command_a_door(ha_broker) -> None:
    broker, clients = ha_broker
    door = broker.devices[0]
    device = _raw(broker, door, "door")
    hub = _raw(broker, HUB_SERVICE, "hub")
    ha = _raw(broker, "svc.home-assistant", "ha")
    watcher = _raw(broker, "svc.home-assistant", "watch")
    clients += [device, hub, ha, watcher]
    device.subscribe(f"{PREFIX}/{door}/cmd")
    hub.subscribe(f"doorstep/ha/{door}/lock/set")
    ha.subscribe(f"{PREFIX}/#", "#")
    watcher.subscribe("homeassistant/#")
    # Denied: straight to the door, forging a door's state, writing discovery configs.
    ha.publish(f"{PREFIX}/{door}/cmd", b'{"forged": true}')
    ha.publish(f"doorstep/ha/{door}/lock", b"UNLOCKED")
    ha.publish(f"homeassistant/lock/doorstep/{door}_lock/config", b"{}")
    # Allowed: a lock request to the hub, and the hub's own discovery config.
    ha.publish(f"doorstep/ha/{door}/lock/set", b'{"action": "UNLOCK", "code": "123456"}')
    hub.publish(f"homeassistant/lock/doorstep/{door}_lock/config", b'{"x": 1}')
    device.publish(f"{PREFIX}/{door}/status", b"{}")  # a door's own traffic: not for HA
    assert hub.wait_until(lambda m: len(m) == 1)
    assert watcher.wait_until(lambda m: len(m) == 1)
    assert watcher.messages == [(f"homeassistant/lock/doorstep/{door}_lock/config", b'{"x": 1}')]
    # The allowed messages have arrived; the denied ones (published first) never will.
    assert device.messages == []
    assert [t for t, _ in ha.messages if t.startswith(PREFIX)] == []


# -- the admin API: opt in, change, opt out; audited --------------------------------------
def test_admin_opts_a_door_in_and_out_through_the_api(rig, link_factory):
    from fastapi.testclient import TestClient

    from hub.storage.models_registry import Role
    from mobile_api.app import create_app
    from mobile_api.settings import WebSettings
    from tests.web.conftest import Clock, Web, log_in, make_person

    door = rig.add_device()
    rig.start()
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    clock = Clock()
    app = create_app(rig.hub, WebSettings(), passwords=passwords, clock=clock)
    web = Web(
        rig, lambda: TestClient(app, base_url="https://testserver"), passwords, {}, clock, app
    )
    make_person(web, "admin", Role.ADMIN, rig.home)
    make_person(web, "daughter", Role.FAMILY_MEMBER, rig.home)
    admin, csrf = log_in(web, "admin")
    url = f"/api/admin/devices/{door}/home-assistant"
    ha = HomeAssistant(link_factory, door)

    assert admin.get(url).json()["enabled"] is False  # off by default
    r = admin.put(url, headers=csrf, json={"person_id": rig.telecare})
    assert r.status_code == 422  # a telecare officer may not unlock: cannot be linked
    daughter, daughter_csrf = log_in(web, "daughter")
    assert daughter.put(url, headers=daughter_csrf, json={}).status_code == 403
    r = admin.put(url, headers=csrf, json={"person_id": rig.family, "share_snapshots": True})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "device": door,
        "enabled": True,
        "person_id": rig.family,
        "share_snapshots": True,
    }
    assert rig.hub.home_assistant.running  # started by the first opt-in
    assert ha.wait(lambda: {*ENTITIES, "snapshot"} <= set(ha.configs()))
    assert admin.delete(url, headers=csrf).status_code == 204
    assert ha.wait(lambda: b"" in ha.on("_lock/config"))
    assert admin.get(url).json()["enabled"] is False
    assert admin.delete(url, headers=csrf).status_code == 404
    changes = [e.details["change"] for e in _audit(rig, "home_assistant_changed")]
    assert changes == ["enabled", "disabled"]
