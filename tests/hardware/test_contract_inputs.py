"""Contract: every Doorbell and DoorContact implementation behaves the same."""

from __future__ import annotations

import pytest

from hardware.errors import DeviceClosed, HardwareError
from hardware.interfaces import Doorbell, DoorContact

from .conftest import BellRig, ContactRig


def test_bell_fits_the_interface(bell_rig: BellRig) -> None:
    assert isinstance(bell_rig.bell, Doorbell)


def test_bell_starts_released(bell_rig: BellRig) -> None:
    assert bell_rig.bell.is_pressed is False


def test_bell_press_and_release(bell_rig: BellRig) -> None:
    presses: list[bool] = []
    bell_rig.bell.on_press(lambda: presses.append(bell_rig.bell.is_pressed))
    bell_rig.press()
    assert bell_rig.bell.is_pressed
    bell_rig.release()
    assert not bell_rig.bell.is_pressed
    assert presses == [True]  # once per press, and the button reads pressed inside it


def test_bell_counts_each_press(bell_rig: BellRig) -> None:
    count = 0

    def pressed() -> None:
        nonlocal count
        count += 1

    bell_rig.bell.on_press(pressed)
    for _ in range(3):
        bell_rig.press()
        bell_rig.release()
    assert count == 3


def test_bell_callback_can_be_removed(bell_rig: BellRig) -> None:
    presses: list[int] = []
    bell_rig.bell.on_press(lambda: presses.append(1))
    bell_rig.bell.on_press(None)
    bell_rig.press()
    assert presses == []
    assert bell_rig.bell.is_pressed


def test_bell_after_close(bell_rig: BellRig) -> None:
    bell_rig.bell.close()
    bell_rig.bell.close()  # idempotent
    with pytest.raises(DeviceClosed) as info:
        _ = bell_rig.bell.is_pressed
    assert isinstance(info.value, HardwareError)


def test_contact_fits_the_interface(contact_rig: ContactRig) -> None:
    assert isinstance(contact_rig.contact, DoorContact)


def test_contact_starts_closed(contact_rig: ContactRig) -> None:
    assert contact_rig.contact.is_open is False


def test_contact_open_and_close(contact_rig: ContactRig) -> None:
    events: list[str] = []
    contact = contact_rig.contact
    contact.on_open(lambda: events.append(f"open:{contact.is_open}"))
    contact.on_close(lambda: events.append(f"close:{contact.is_open}"))
    contact_rig.open()
    assert contact.is_open
    contact_rig.shut()
    assert not contact.is_open
    contact_rig.open()
    assert events == ["open:True", "close:False", "open:True"]


def test_contact_repeated_level_is_not_an_event(contact_rig: ContactRig) -> None:
    events: list[str] = []
    contact_rig.contact.on_open(lambda: events.append("open"))
    contact_rig.open()
    contact_rig.open()
    assert events == ["open"]


def test_contact_after_close(contact_rig: ContactRig) -> None:
    contact_rig.contact.close()
    with pytest.raises(DeviceClosed):
        _ = contact_rig.contact.is_open
