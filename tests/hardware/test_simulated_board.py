"""The simulated board: the world around the real drivers behaves like a door."""

from __future__ import annotations

import time

import pytest

from hardware.errors import PartMissing
from hardware.interfaces import (
    Camera,
    Doorbell,
    DoorContact,
    Hardware,
    Indicator,
    IndicatorPattern,
    LockActuator,
    LockPosition,
)
from hardware.simulated import SimulatedBoard


def test_board_parts_fit_the_interfaces(board: SimulatedBoard) -> None:
    parts = board.hardware
    assert isinstance(parts, Hardware)
    assert isinstance(parts.doorbell, Doorbell)
    assert isinstance(parts.lock, LockActuator)
    assert isinstance(parts.door_contact, DoorContact)
    assert isinstance(parts.camera, Camera)
    assert isinstance(parts.indicator, Indicator)


def test_board_starts_locked_closed_quiet(board: SimulatedBoard) -> None:
    assert board.lock.commanded is LockPosition.ENGAGED
    assert board.lock.position is LockPosition.ENGAGED
    assert board.relay_energised is False
    assert board.relay_changes == []
    assert board.door_contact is not None
    assert board.door_contact.is_open is False
    assert not board.led_lit
    assert not board.buzzer_sounding


def test_relay_changes_are_counted(board: SimulatedBoard) -> None:
    board.lock.release()
    board.lock.release()  # same level: not a change
    board.lock.engage()
    changes = board.relay_changes
    assert [energised for _, energised in changes] == [True, False]
    assert changes[0][0] <= changes[1][0]


def test_bolt_follows_the_relay_after_travel() -> None:
    with SimulatedBoard(travel_s=0.1) as board:
        start = time.monotonic()
        board.lock.release()
        assert board.lock.position is LockPosition.ENGAGED  # still moving
        assert board.lock.wait_until(LockPosition.RELEASED, timeout=1.0)
        assert time.monotonic() - start >= 0.09


def test_jam_detected_on_relock(board: SimulatedBoard) -> None:
    """A bolt that sticks open: the agent must see 'not engaged' and report a jam."""
    board.lock.release()
    assert board.lock.wait_until(LockPosition.RELEASED, timeout=1.0)
    board.jam_lock()
    board.lock.engage()
    assert board.lock.wait_until(LockPosition.ENGAGED, timeout=0.15) is False
    assert board.lock.position is LockPosition.RELEASED
    board.unjam_lock()
    assert board.lock.wait_until(LockPosition.ENGAGED, timeout=1.0)


def test_ring_with_visitor(board: SimulatedBoard) -> None:
    rings: list[bool] = []
    board.doorbell.on_press(lambda: rings.append(board.visitor))
    board.visitor = True
    board.ring()
    assert rings == [True]
    assert board.doorbell.is_pressed is False
    assert board.camera.visitor is True


def test_door_helpers_and_missing_parts() -> None:
    with SimulatedBoard(door_contact_pin=None, position_pin=None) as board:
        assert board.door_contact is None
        assert board.lock.has_position_sensor is False
        with pytest.raises(PartMissing, match="no door contact"):
            board.open_door()


def test_active_low_relay_idles_high() -> None:
    with SimulatedBoard(active_high=False) as board:
        relay = board.factory.pin(17)
        assert relay.state is True  # an active-low relay board is off when the pin is HIGH
        assert board.relay_energised is False
        board.lock.release()
        assert relay.state is False
        assert board.relay_energised is True


def test_indicator_pins_are_visible(board: SimulatedBoard) -> None:
    board.indicator.show(IndicatorPattern.UNLOCKING)
    assert board.led_lit
    board.indicator.show(IndicatorPattern.IDLE)
    assert not board.led_lit


def test_camera_cut_and_restore(board: SimulatedBoard) -> None:
    from hardware.errors import CameraUnavailable

    board.cut_camera()
    with pytest.raises(CameraUnavailable):
        board.camera.capture()
    board.restore_camera()
    assert board.camera.capture().shape == (480, 640, 3)


def test_close_leaves_the_door_locked() -> None:
    board = SimulatedBoard()
    board.lock.release(hold_s=30)
    board.close()
    assert board.relay_energised is False
    assert board.lock.commanded is LockPosition.ENGAGED


def test_boards_are_independent() -> None:
    with SimulatedBoard() as a, SimulatedBoard() as b:
        a.lock.release()
        assert a.relay_energised
        assert not b.relay_energised
