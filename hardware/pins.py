"""Pin numbers and pin factories: checks with clear messages, and the real factory.

Drivers never pick a pin factory themselves: the caller passes one. On a Pi
that is ``real_pin_factory()``; in tests and demos a gpiozero ``MockFactory``.

    >>> check_pin(17, "relay_pin")
    17
    >>> check_distinct({"relay_pin": 17, "position_pin": 5})
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from gpiozero import Factory
from gpiozero.exc import GPIOPinInUse, PinInvalidPin

from .errors import InvalidPin, PinConflict, PinFactoryUnavailable

# BCM 0 and 1 are the HAT ID EEPROM bus; 28 and up are not on the 40-pin header.
BCM_PIN_MIN, BCM_PIN_MAX = 2, 27


def check_pin(pin: object, role: str) -> int:
    """Return ``pin`` if it is a BCM GPIO number 2-27, else raise ``InvalidPin``."""
    if isinstance(pin, bool) or not isinstance(pin, int):
        raise InvalidPin(
            f"{role} = {pin!r} is not a GPIO number: give the BCM number as an integer, e.g. 17"
        )
    if not BCM_PIN_MIN <= pin <= BCM_PIN_MAX:
        raise InvalidPin(
            f"{role} = {pin} is not a usable GPIO: use a BCM number from {BCM_PIN_MIN} to "
            f"{BCM_PIN_MAX} (BCM numbering, not the physical header pin number)"
        )
    return pin


def check_distinct(pins: Mapping[str, int | None]) -> None:
    """Raise ``PinConflict`` if two roles share a pin (``None`` means not fitted)."""
    seen: dict[int, str] = {}
    for role, pin in pins.items():
        if pin is None:
            continue
        if pin in seen:
            raise PinConflict(
                f"{role} = {pin} is already used by {seen[pin]}: give each part its own GPIO pin"
            )
        seen[pin] = role


@contextmanager
def gpio_errors(role: str, pin: int) -> Iterator[None]:
    """Translate gpiozero's pin errors into ours, naming the role and the fix."""
    try:
        yield
    except GPIOPinInUse as exc:
        raise PinConflict(
            f"{role} = {pin} is already in use by another device on this pin factory: "
            "give each part its own GPIO pin, or close the other device first"
        ) from exc
    except PinInvalidPin as exc:
        raise InvalidPin(f"{role} = {pin} does not exist on this board ({exc})") from exc


def real_pin_factory() -> Factory:
    """The pin factory for a real Raspberry Pi (lgpio: works on Pi 4, Pi 5 and Zero 2 W)."""
    try:
        from gpiozero.pins.lgpio import LGPIOFactory
    except ImportError as exc:
        raise PinFactoryUnavailable(
            "the lgpio library is missing: on Raspberry Pi OS run 'sudo apt install python3-lgpio' "
            "(or install doorstep with the [pi] extra); off a Pi use the simulated board"
        ) from exc
    try:
        return LGPIOFactory()
    except Exception as exc:  # lgpio raises its own error type when /dev/gpiochip* is absent
        raise PinFactoryUnavailable(
            f"cannot open the GPIO chip ({exc}): run on a Raspberry Pi as a user in the 'gpio' "
            "group, or use the simulated board"
        ) from exc
