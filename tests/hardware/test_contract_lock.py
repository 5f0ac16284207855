"""Contract: every LockActuator starts engaged, obeys, re-locks by itself, reports jams."""

from __future__ import annotations

import time

import pytest

from hardware.errors import DeviceClosed
from hardware.interfaces import LockActuator, LockPosition

from .conftest import LockRig

ENGAGED, RELEASED, UNKNOWN = LockPosition.ENGAGED, LockPosition.RELEASED, LockPosition.UNKNOWN


def expected_energised(rig: LockRig, state: LockPosition) -> bool:
    """Fail-secure: power releases. Fail-safe: power holds the lock engaged."""
    return (state is RELEASED) == rig.fail_secure


def test_fits_the_interface(lock_rig: LockRig) -> None:
    assert isinstance(lock_rig.lock, LockActuator)


def test_starts_engaged(lock_rig: LockRig) -> None:
    lock = lock_rig.lock
    assert lock.commanded is ENGAGED
    assert lock.position is (ENGAGED if lock.has_position_sensor else UNKNOWN)
    assert lock_rig.relay_energised() is expected_energised(lock_rig, ENGAGED)


def test_release_then_engage(lock_rig: LockRig) -> None:
    lock = lock_rig.lock
    lock.release()
    assert lock.commanded is RELEASED
    assert lock_rig.relay_energised() is expected_energised(lock_rig, RELEASED)
    assert lock.wait_until(RELEASED, timeout=1.0)
    if lock.has_position_sensor:
        assert lock.position is RELEASED
    lock.engage()
    assert lock.commanded is ENGAGED
    assert lock_rig.relay_energised() is expected_energised(lock_rig, ENGAGED)
    assert lock.wait_until(ENGAGED, timeout=1.0)


def test_release_with_hold_relocks_by_itself(lock_rig: LockRig) -> None:
    lock = lock_rig.lock
    start = time.monotonic()
    lock.release(hold_s=0.15)
    assert lock.commanded is RELEASED
    deadline = start + 2.0
    while lock.commanded is not ENGAGED and time.monotonic() < deadline:
        time.sleep(0.01)
    took = time.monotonic() - start
    assert lock.commanded is ENGAGED
    assert 0.14 <= took < 1.0
    assert lock.wait_until(ENGAGED, timeout=1.0)
    assert lock_rig.relay_energised() is expected_energised(lock_rig, ENGAGED)


def test_engage_cancels_a_pending_relock(lock_rig: LockRig) -> None:
    lock = lock_rig.lock
    lock.release(hold_s=0.1)
    lock.engage()
    lock.release()  # released with no hold: must stay released
    time.sleep(0.25)
    assert lock.commanded is RELEASED


def test_wait_until_without_sensor_reports_the_command(lock_rig: LockRig) -> None:
    lock = lock_rig.lock
    if lock.has_position_sensor:
        pytest.skip("this rig has a position sensor")
    assert lock.wait_until(ENGAGED, timeout=0.01) is True
    assert lock.wait_until(RELEASED, timeout=0.01) is False


def test_jam_is_detected(lock_rig: LockRig) -> None:
    if lock_rig.jam is None or lock_rig.unjam is None:
        pytest.skip("this rig's bolt cannot jam")
    lock = lock_rig.lock
    lock_rig.jam()
    lock.release()
    start = time.monotonic()
    assert lock.wait_until(RELEASED, timeout=0.2) is False
    assert time.monotonic() - start >= 0.19
    assert lock.position is ENGAGED  # the bolt stuck where it was
    assert lock.commanded is RELEASED
    lock_rig.unjam()
    assert lock.wait_until(RELEASED, timeout=1.0)


def test_position_changes_are_reported(lock_rig: LockRig) -> None:
    lock = lock_rig.lock
    if not lock.has_position_sensor:
        pytest.skip("no position sensor")
    seen: list[LockPosition] = []
    lock.on_position(seen.append)  # type: ignore[attr-defined]
    lock.release()
    assert lock.wait_until(RELEASED, timeout=1.0)
    lock.engage()
    assert lock.wait_until(ENGAGED, timeout=1.0)
    assert seen == [RELEASED, ENGAGED]


def test_close_engages_and_is_final(lock_rig: LockRig) -> None:
    lock = lock_rig.lock
    lock.release(hold_s=10)
    energised_when_engaged = expected_energised(lock_rig, ENGAGED)
    lock.close()
    lock.close()
    assert lock.commanded is ENGAGED
    if not energised_when_engaged:
        assert lock_rig.relay_energised() is False
    with pytest.raises(DeviceClosed):
        lock.release()
