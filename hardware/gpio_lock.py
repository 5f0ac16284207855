"""The lock driver: a relay on gpiozero's ``OutputDevice``, plus an optional position sensor.

The lock starts engaged. For a fail-secure strike "engaged" means the relay is
de-energised, so a crash, a reboot or a power cut leaves the door locked from
outside (the inside handle still opens it). A fail-safe lock (``fail_secure=False``)
is held engaged by an energised relay, and unlocks when power is lost.

    >>> from gpiozero.pins.mock import MockFactory
    >>> lock = GpioLock(17, position_pin=5, pin_factory=MockFactory())
    >>> lock.commanded, lock.relay_energised
    (<LockPosition.ENGAGED: 'engaged'>, False)
    >>> lock.release(hold_s=5.0)   # re-engages by itself after 5 s
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gpiozero import DigitalInputDevice, Factory, OutputDevice

from .errors import DeviceClosed
from .interfaces import LockPosition
from .pins import check_distinct, check_pin, gpio_errors

PositionCallback = Callable[[LockPosition], None]


class GpioLock:
    """A strike or motorised deadbolt switched by a relay on ``relay_pin``.

    ``active_high``: the relay board energises its coil when the pin is HIGH.
    ``position_pin``: a switch to ground that changes with the bolt/keeper;
    ``position_active_high``: it reads HIGH when the lock is engaged.
    """

    def __init__(
        self,
        relay_pin: int,
        *,
        active_high: bool = True,
        fail_secure: bool = True,
        position_pin: int | None = None,
        position_active_high: bool = True,
        pin_factory: Factory,
    ) -> None:
        check_pin(relay_pin, "lock relay pin")
        if position_pin is not None:
            check_pin(position_pin, "lock position pin")
        check_distinct({"lock relay pin": relay_pin, "lock position pin": position_pin})
        self.relay_pin = relay_pin
        self.position_pin = position_pin
        self.fail_secure = fail_secure
        self.position_active_high = position_active_high
        self._changed = threading.Condition()
        self._timer: threading.Timer | None = None
        self._on_position: PositionCallback | None = None
        self._commanded = LockPosition.ENGAGED
        with gpio_errors("lock relay pin", relay_pin):
            self._relay = OutputDevice(
                relay_pin,
                active_high=active_high,
                # Engaged from the first instant: never a glitch that frees the door.
                initial_value=self._energised_for(LockPosition.ENGAGED),
                pin_factory=pin_factory,
            )
        self._sensor: DigitalInputDevice | None = None
        if position_pin is not None:
            try:
                with gpio_errors("lock position pin", position_pin):
                    self._sensor = DigitalInputDevice(
                        position_pin, pull_up=True, bounce_time=None, pin_factory=pin_factory
                    )
            except Exception:
                self._relay.close()
                raise
            self._sensor.when_activated = self._sensor_changed
            self._sensor.when_deactivated = self._sensor_changed

    def _energised_for(self, state: LockPosition) -> bool:
        # Fail-secure: power releases. Fail-safe: power holds it engaged.
        return (state is LockPosition.RELEASED) == self.fail_secure

    def _check_open(self) -> None:
        if self._relay.closed:
            raise DeviceClosed(f"lock on GPIO{self.relay_pin} is closed")

    def _drive(self, state: LockPosition) -> None:
        with self._changed:
            self._check_open()
            self._relay.value = self._energised_for(state)
            self._commanded = state
            self._changed.notify_all()

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    @property
    def relay_energised(self) -> bool:
        return bool(self._relay.value)

    @property
    def commanded(self) -> LockPosition:
        return self._commanded

    @property
    def has_position_sensor(self) -> bool:
        return self._sensor is not None

    @property
    def position(self) -> LockPosition:
        if self._sensor is None:
            return LockPosition.UNKNOWN
        self._check_open()
        pin_high = not self._sensor.is_active  # pull-up: "active" is LOW
        engaged = pin_high == self.position_active_high
        return LockPosition.ENGAGED if engaged else LockPosition.RELEASED

    def release(self, hold_s: float | None = None) -> None:
        """Release; with ``hold_s``, engage again by itself after that many seconds."""
        self._cancel_timer()
        self._drive(LockPosition.RELEASED)
        if hold_s is not None:
            timer = threading.Timer(hold_s, self._relock)
            timer.daemon = True
            timer.name = f"relock-GPIO{self.relay_pin}"
            self._timer = timer
            timer.start()

    def _relock(self) -> None:
        if not self._relay.closed:
            self._drive(LockPosition.ENGAGED)

    def engage(self) -> None:
        self._cancel_timer()
        self._drive(LockPosition.ENGAGED)

    def on_position(self, callback: PositionCallback | None) -> None:
        """Call ``callback(position)`` when the sensor changes (also when moved by hand)."""
        self._on_position = callback

    def _sensor_changed(self) -> None:
        with self._changed:
            self._changed.notify_all()
        callback = self._on_position
        if callback is not None and not self._relay.closed:
            callback(self.position)

    def wait_until(self, state: LockPosition, timeout: float) -> bool:
        """True once the sensor reads ``state``; False after ``timeout`` s (jammed).

        Without a sensor only the command is known: True if it was ``state``.
        """
        if self._sensor is None:
            return self._commanded is state
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.position is not state:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # Re-check now and then too: a real GPIO edge can be missed.
                self._changed.wait(min(left, 0.05))
        return True

    def close(self) -> None:
        """Cancel any pending relock, engage, and free the pins (idempotent)."""
        self._cancel_timer()
        if not self._relay.closed:
            self._drive(LockPosition.ENGAGED)
            self._relay.close()
        if self._sensor is not None:
            self._sensor.close()

    def __repr__(self) -> str:
        return (
            f"GpioLock(relay_pin={self.relay_pin}, position_pin={self.position_pin}, "
            f"fail_secure={self.fail_secure}, commanded={self._commanded.value})"
        )
