"""A whole simulated door: the real gpiozero drivers on a private ``MockFactory``.

The board owns its mock pin factory (never gpiozero's global one) and plays the
physical world: a finger on the bell, a door swinging, a bolt that follows the
relay after a short travel time unless it is jammed, a camera whose feed can be cut.

    >>> with SimulatedBoard() as board:
    ...     board.hardware.lock.release()
    ...     board.lock.wait_until(LockPosition.RELEASED, timeout=1.0)
    True
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPin

from .errors import PartMissing
from .gpio_indicator import GpioIndicator
from .gpio_inputs import GpioDoorbell, GpioDoorContact
from .gpio_lock import GpioLock
from .interfaces import Hardware, LockPosition
from .pins import check_distinct, check_pin
from .sim_camera import SimCamera


class _WatchedPin(MockPin):
    """A mock output pin that tells the board each time its level changes."""

    def __init__(self, factory: Any, info: Any, on_change: Callable[[bool], None]) -> None:
        self._on_change = on_change
        super().__init__(factory, info)

    def _change_state(self, value: bool) -> bool:
        changed = bool(super()._change_state(value))
        if changed and self.function == "output":
            self._on_change(bool(value))
        return changed


class SimulatedBoard:
    """Doorbell, lock (with position sensor), door contact, LED, buzzer and camera.

    Pins default to the wiring in hardware/README.md. ``travel_s`` is how long the
    bolt takes to follow the relay; ``position_pin=None`` leaves the sensor out.
    """

    def __init__(
        self,
        *,
        doorbell_pin: int = 27,
        relay_pin: int = 17,
        active_high: bool = True,
        fail_secure: bool = True,
        position_pin: int | None = 5,
        position_active_high: bool = True,
        door_contact_pin: int | None = 22,
        open_when_high: bool = True,
        led_pin: int | None = 23,
        buzzer_pin: int | None = 24,
        camera_size: tuple[int, int] = (640, 480),
        seed: int = 0,
        travel_s: float = 0.05,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        roles = {
            "doorbell pin": doorbell_pin,
            "lock relay pin": relay_pin,
            "lock position pin": position_pin,
            "door contact pin": door_contact_pin,
            "indicator LED pin": led_pin,
            "indicator buzzer pin": buzzer_pin,
        }
        for role, pin in roles.items():
            if pin is not None:
                check_pin(pin, role)
        check_distinct(roles)
        self.factory = MockFactory()
        self.travel_s = travel_s
        self._active_high = active_high
        self._fail_secure = fail_secure
        self._position_active_high = position_active_high
        self._open_when_high = open_when_high
        self._world = threading.Lock()
        self._jammed = False
        self._travel: threading.Timer | None = None
        self._history: list[tuple[float, bool]] = []
        self._watching = False
        self._relay_pin = self.factory.pin(
            relay_pin, pin_class=_WatchedPin, on_change=self._relay_changed
        )
        self._bell_pin = self.factory.pin(doorbell_pin)
        self._position_pin = self.factory.pin(position_pin) if position_pin is not None else None
        self._contact_pin = (
            self.factory.pin(door_contact_pin) if door_contact_pin is not None else None
        )
        self.doorbell = GpioDoorbell(doorbell_pin, pin_factory=self.factory)
        self.lock = GpioLock(
            relay_pin,
            active_high=active_high,
            fail_secure=fail_secure,
            position_pin=position_pin,
            position_active_high=position_active_high,
            pin_factory=self.factory,
        )
        self.door_contact = (
            GpioDoorContact(
                door_contact_pin, open_when_high=open_when_high, pin_factory=self.factory
            )
            if door_contact_pin is not None
            else None
        )
        self.indicator = GpioIndicator(
            led_pin=led_pin, buzzer_pin=buzzer_pin, pin_factory=self.factory
        )
        self.camera = SimCamera(*camera_size, seed=seed, clock=clock)
        self._led_pin = self.factory.pin(led_pin) if led_pin is not None else None
        self._buzzer_pin = self.factory.pin(buzzer_pin) if buzzer_pin is not None else None
        # The world starts settled: bolt engaged, door closed; history starts now.
        self._set_sensor(LockPosition.ENGAGED)
        if self._contact_pin is not None:
            self._drive(self._contact_pin, high=not open_when_high)
        self._watching = True

    @property
    def hardware(self) -> Hardware:
        """The parts, typed as the interfaces the edge agent uses."""
        return Hardware(
            doorbell=self.doorbell,
            lock=self.lock,
            camera=self.camera,
            indicator=self.indicator,
            door_contact=self.door_contact,
        )

    # -- the visitor --------------------------------------------------------------------
    def press_bell(self) -> None:
        self._bell_pin.drive_low()  # button to ground; fires when_pressed synchronously

    def release_bell(self) -> None:
        self._bell_pin.drive_high()

    def ring(self) -> None:
        """Press and release the bell, as a finger does."""
        self.press_bell()
        self.release_bell()

    @property
    def visitor(self) -> bool:
        return self.camera.visitor

    @visitor.setter
    def visitor(self, present: bool) -> None:
        self.camera.visitor = present

    # -- the door -----------------------------------------------------------------------
    def open_door(self) -> None:
        self._drive(self._need(self._contact_pin, "door contact"), high=self._open_when_high)

    def close_door(self) -> None:
        self._drive(self._need(self._contact_pin, "door contact"), high=not self._open_when_high)

    # -- the lock -----------------------------------------------------------------------
    @property
    def relay_energised(self) -> bool:
        return bool(self._relay_pin.state) == self._active_high

    @property
    def relay_changes(self) -> list[tuple[float, bool]]:
        """(monotonic time, energised) for each relay change since the board was built."""
        with self._world:
            return list(self._history)

    def jam_lock(self) -> None:
        """The bolt sticks where it is until ``unjam_lock``."""
        with self._world:
            self._jammed = True
            if self._travel is not None:
                self._travel.cancel()

    def unjam_lock(self) -> None:
        """Free the bolt; it then travels to where the relay tells it to be."""
        with self._world:
            self._jammed = False
        self._start_travel(self._relay_says())

    def _relay_says(self) -> LockPosition:
        released = self.relay_energised == self._fail_secure
        return LockPosition.RELEASED if released else LockPosition.ENGAGED

    def _relay_changed(self, level: bool) -> None:
        if not self._watching:
            return
        with self._world:
            self._history.append((time.monotonic(), level == self._active_high))
        self._start_travel(self._relay_says())

    def _start_travel(self, target: LockPosition) -> None:
        if self._position_pin is None:
            return
        with self._world:
            if self._travel is not None:
                self._travel.cancel()
            if self._jammed:
                return
            timer = threading.Timer(self.travel_s, self._arrive, args=(target,))
            timer.daemon = True
            self._travel = timer
            timer.start()

    def _arrive(self, target: LockPosition) -> None:
        with self._world:
            if self._jammed:
                return
        self._set_sensor(target)

    def _set_sensor(self, position: LockPosition) -> None:
        if self._position_pin is not None:
            engaged = position is LockPosition.ENGAGED
            self._drive(self._position_pin, high=engaged == self._position_active_high)

    # -- indicator and camera ---------------------------------------------------------
    @property
    def led_lit(self) -> bool:
        return self._led_pin is not None and bool(self._led_pin.state)

    @property
    def buzzer_sounding(self) -> bool:
        return self._buzzer_pin is not None and bool(self._buzzer_pin.state)

    def cut_camera(self) -> None:
        self.camera.cut()

    def restore_camera(self) -> None:
        self.camera.restore()

    # -- plumbing -----------------------------------------------------------------------
    @staticmethod
    def _drive(pin: MockPin, *, high: bool) -> None:
        if high:
            pin.drive_high()
        else:
            pin.drive_low()

    @staticmethod
    def _need(pin: MockPin | None, what: str) -> MockPin:
        if pin is None:
            raise PartMissing(f"this simulated board has no {what}: pass its pin when building it")
        return pin

    def close(self) -> None:
        with self._world:
            if self._travel is not None:
                self._travel.cancel()
            self._jammed = True  # no more bolt movement after close
        self.hardware.close()

    def __enter__(self) -> SimulatedBoard:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
