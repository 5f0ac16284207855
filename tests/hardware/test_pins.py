"""Bad pin configurations are refused with errors that name the pin and the fix."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.errors import HardwareError, InvalidPin, PinConflict, PinFactoryUnavailable
from hardware.gpio_indicator import GpioIndicator
from hardware.gpio_inputs import GpioDoorbell, GpioDoorContact
from hardware.gpio_lock import GpioLock
from hardware.pins import check_pin, real_pin_factory
from hardware.simulated import SimulatedBoard


@pytest.mark.parametrize("pin", [0, 1, 28, 40, -3])
def test_out_of_range_pins_are_refused(mock_factory: MockFactory, pin: int) -> None:
    with pytest.raises(InvalidPin) as info:
        GpioLock(pin, pin_factory=mock_factory)
    assert f"lock relay pin = {pin} is not a usable GPIO" in str(info.value)
    assert "BCM number from 2 to 27" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, HardwareError)


@pytest.mark.parametrize("pin", ["17", 17.0, True, None])
def test_non_integer_pins_are_refused(pin: object) -> None:
    with pytest.raises(InvalidPin, match="not a GPIO number"):
        check_pin(pin, "doorbell pin")


@pytest.mark.parametrize(
    "build",
    [
        lambda f: GpioDoorbell(99, pin_factory=f),
        lambda f: GpioDoorContact(1, pin_factory=f),
        lambda f: GpioIndicator(led_pin=23, buzzer_pin=30, pin_factory=f),
        lambda f: GpioLock(17, position_pin=0, pin_factory=f),
    ],
    ids=["doorbell", "door-contact", "buzzer", "position-sensor"],
)
def test_every_driver_checks_its_pins(mock_factory: MockFactory, build) -> None:
    with pytest.raises(InvalidPin, match="BCM number from 2 to 27"):
        build(mock_factory)
    assert not mock_factory.pins or all(
        pin.function == "input" for pin in mock_factory.pins.values()
    )


def test_same_pin_twice_in_one_driver(mock_factory: MockFactory) -> None:
    with pytest.raises(PinConflict, match="lock position pin = 17 is already used by lock relay"):
        GpioLock(17, position_pin=17, pin_factory=mock_factory)
    with pytest.raises(PinConflict, match="already used by indicator LED pin"):
        GpioIndicator(led_pin=23, buzzer_pin=23, pin_factory=mock_factory)


def test_same_pin_in_two_drivers(mock_factory: MockFactory) -> None:
    lock = GpioLock(17, pin_factory=mock_factory)
    with pytest.raises(PinConflict, match="doorbell pin = 17 is already in use"):
        GpioDoorbell(17, pin_factory=mock_factory)
    lock.close()
    bell = GpioDoorbell(17, pin_factory=mock_factory)  # free again once closed
    bell.close()


def test_failed_lock_frees_its_relay_pin(mock_factory: MockFactory) -> None:
    bell = GpioDoorbell(5, pin_factory=mock_factory)
    with pytest.raises(PinConflict):
        GpioLock(17, position_pin=5, pin_factory=mock_factory)
    GpioLock(17, pin_factory=mock_factory).close()  # 17 was released by the failed build
    bell.close()


def test_board_refuses_shared_pins() -> None:
    with pytest.raises(PinConflict, match="already used by doorbell pin"):
        SimulatedBoard(doorbell_pin=17)


def test_pin_factory_must_be_given() -> None:
    with pytest.raises(TypeError, match="pin_factory"):
        GpioDoorbell(27)  # type: ignore[call-arg]


def test_real_pin_factory_off_a_pi_says_what_to_do() -> None:
    if importlib.util.find_spec("lgpio") and Path("/dev/gpiochip0").exists():
        pytest.skip("GPIO is available: this is a Pi")  # pragma: no cover
    with pytest.raises(PinFactoryUnavailable, match="simulated board"):
        real_pin_factory()
