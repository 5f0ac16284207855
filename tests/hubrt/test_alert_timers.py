"""The alert timers: door left open, door left unlocked, unanswered ring.

Real broker, real database, a running hub; the device side is a plain MQTT link
publishing protocol messages. Time is driven with the hub's injectable clock, and
the health monitor's loop is slowed to an hour so that only the test's explicit
``check()`` calls judge it.
"""

from __future__ import annotations

from typing import Any

import pytest

from hub.health import HealthMonitor
from hub.storage import open_alerts
from hub.storage.devices import get_device
from protocol import encode, utcnow
from protocol.device import DeviceState, DoorState, LockState
from protocol.events import DoorClosed, DoorOpened, LockCause, LockChanged
from tests.fixtures.database import ring
from tests.hubrt.rig import HubRig

BOOT = "ab" * 8
LIMITS = {"door_open_alert_s": 300, "unlocked_alert_s": 60, "unanswered_ring_s": 60}


@pytest.fixture
def rig(database, plain_broker):
    r = HubRig(database, plain_broker, health_interval_s=3600, **LIMITS).start()
    yield r
    r.stop()


def _open(rig: HubRig, device: str) -> dict[str, Any]:
    with rig.db.read_session() as s:
        return {a.kind.value: a for a in open_alerts(s, device_id=device)}


def _state(device: str, lock: LockState, door: DoorState, seq: int) -> DeviceState:
    return DeviceState(device=device, lock=lock, door=door, boot_id=BOOT, at=utcnow(), seq=seq)


def _head(device: str, seq: int) -> dict[str, Any]:
    return {
        "device": device,
        "id": f"00000000-0000-4000-9000-{seq:012d}",
        "seq": seq,
        "boot_id": BOOT,
        "at": utcnow(),
        "monotonic_ms": seq,
    }


def _check_at(rig: HubRig, seconds: float) -> None:
    rig.clock.advance_to(seconds)
    rig.hub.health.check()


def _reported(rig: HubRig, device: str, lock: LockState, door: DoorState) -> None:
    def seen() -> bool:
        with rig.db.read_session() as s:
            d = get_device(s, device)
            return (d.lock_state, d.door_state) == (lock, door)

    assert rig.wait_until(seen), "the hub never stored the device's state"


def test_door_left_open_is_raised_after_the_limit_once_and_resolved_on_close(rig):
    device = rig.add_device()
    link = rig.device_link(device, will=False)
    notices = rig.hub.bus.subscribe()
    link.publish(encode(_state(device, LockState.ENGAGED, DoorState.OPEN, seq=1)))
    _reported(rig, device, LockState.ENGAGED, DoorState.OPEN)

    _check_at(rig, 290)
    assert "door_left_open" not in _open(rig, device), "still within the 300 s limit"
    _check_at(rig, 310)
    alert = _open(rig, device)["door_left_open"]
    assert alert.device_id == device
    _check_at(rig, 400)
    assert _open(rig, device)["door_left_open"].occurrences == 1, "raised once, not every pass"
    posted = [n for n in iter(lambda: notices.get(timeout=0.5), None) if n.kind == "alert"]
    assert [n.data["alert"] for n in posted] == ["door_left_open"]
    assert posted[0].home_id == rig.home

    link.publish(encode(DoorClosed(**_head(device, 2))))
    assert rig.wait_until(lambda: "door_left_open" not in _open(rig, device))


def test_door_left_unlocked_is_raised_after_the_limit_and_resolved_when_locked(rig):
    device = rig.add_device()
    other = rig.add_device()  # locked and closed: never alerted
    link = rig.device_link(device, will=False)
    other_link = rig.device_link(other, will=False)
    link.publish(encode(_state(device, LockState.RELEASED, DoorState.CLOSED, seq=1)))
    other_link.publish(encode(_state(other, LockState.ENGAGED, DoorState.CLOSED, seq=1)))
    _reported(rig, device, LockState.RELEASED, DoorState.CLOSED)
    _reported(rig, other, LockState.ENGAGED, DoorState.CLOSED)

    _check_at(rig, 50)
    assert "door_left_unlocked" not in _open(rig, device)
    _check_at(rig, 70)
    assert "door_left_unlocked" in _open(rig, device)
    assert _open(rig, other) == {}

    engaged = LockChanged(state=LockState.ENGAGED, cause=LockCause.RELOCK_TIMER, **_head(device, 2))
    link.publish(encode(engaged))
    assert rig.wait_until(lambda: "door_left_unlocked" not in _open(rig, device))


def _pending(rig: HubRig, device: str) -> None:
    assert rig.wait_until(lambda: device in rig.hub.health.pending_rings()), "ring never seen"


def test_unanswered_ring_is_raised_after_the_limit_and_a_late_answer_resolves_it(rig):
    device = rig.add_device()
    link = rig.device_link(device, will=False)
    link.publish(encode(ring(device, 1)))
    _pending(rig, device)

    _check_at(rig, 50)
    assert "unanswered_ring" not in _open(rig, device), "within the 60 s limit"
    _check_at(rig, 70)
    alert = _open(rig, device)["unanswered_ring"]
    assert alert.details["ring_at"]

    # Someone finally opens the door: the alert resolves itself.
    link.publish(encode(DoorOpened(**_head(device, 2))))
    assert rig.wait_until(lambda: "unanswered_ring" not in _open(rig, device))


def test_an_answered_ring_raises_nothing(rig):
    device = rig.add_device()
    link = rig.device_link(device, will=False)
    link.publish(encode(ring(device, 1)))
    _pending(rig, device)
    link.publish(encode(DoorOpened(**_head(device, 2))))
    assert rig.wait_until(lambda: device not in rig.hub.health.pending_rings())

    _check_at(rig, 3600)
    assert "unanswered_ring" not in _open(rig, device)


def test_two_hub_processes_count_an_unanswered_ring_once(rig):
    # Every hub process follows rings on its own notice board (relayed between them), so
    # each sees the same ring go unanswered and raises it: one occurrence, not one each.
    other = HealthMonitor(rig.db, rig.hub.bus, rig.hub.health.settings, clock=rig.clock)
    other.start()
    try:
        device = rig.add_device()
        link = rig.device_link(device, will=False)
        link.publish(encode(ring(device, 1)))
        _pending(rig, device)
        assert rig.wait_until(lambda: device in other.pending_rings())
        _check_at(rig, 70)
        other.check()
        assert _open(rig, device)["unanswered_ring"].occurrences == 1
        # A second unanswered ring is a second occurrence, still counted once.
        link.publish(encode(ring(device, 2)))
        _pending(rig, device)
        assert rig.wait_until(lambda: device in other.pending_rings())
        _check_at(rig, 140)
        other.check()
        _check_at(rig, 150)  # a later pass of one hub counts nothing new either
        assert _open(rig, device)["unanswered_ring"].occurrences == 2
    finally:
        other.stop()
