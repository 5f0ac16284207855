"""Input drivers on gpiozero: the doorbell push button and the reed-switch door contact.

Both are wired from the GPIO to ground and use the Pi's internal pull-up, so a
loose wire reads as "not pressed" / "open" rather than floating.

    >>> from gpiozero.pins.mock import MockFactory
    >>> factory = MockFactory()
    >>> bell = GpioDoorbell(27, pin_factory=factory)
    >>> factory.pin(27).drive_low(); bell.is_pressed
    True
"""

from __future__ import annotations

import threading

from gpiozero import DigitalInputDevice, Factory

from .errors import DeviceClosed
from .interfaces import Callback
from .pins import check_pin, gpio_errors


class _Callbacks:
    """Holds user callbacks behind one lock; gpiozero calls from its own threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: dict[str, Callback | None] = {}

    def set(self, name: str, callback: Callback | None) -> None:
        with self._lock:
            self._callbacks[name] = callback

    def fire(self, name: str) -> None:
        with self._lock:
            callback = self._callbacks.get(name)
        if callback is not None:
            callback()


class GpioDoorbell:
    """A debounced push button between ``pin`` and ground (internal pull-up).

    gpiozero's ``Button`` is this plus "held" detection, which costs a polling
    thread per button (and 0.1 s on every close); a doorbell has no use for it.
    """

    def __init__(self, pin: int, *, bounce_ms: int = 50, pin_factory: Factory) -> None:
        check_pin(pin, "doorbell pin")
        self.pin = pin
        self._callbacks = _Callbacks()
        with gpio_errors("doorbell pin", pin):
            self._button = DigitalInputDevice(
                pin,
                pull_up=True,
                bounce_time=bounce_ms / 1000 if bounce_ms > 0 else None,
                pin_factory=pin_factory,
            )
        self._button.when_activated = self._pressed

    def _pressed(self) -> None:
        self._callbacks.fire("press")

    @property
    def is_pressed(self) -> bool:
        if self._button.closed:
            raise DeviceClosed(f"doorbell on GPIO{self.pin} is closed")
        return bool(self._button.is_active)

    def on_press(self, callback: Callback | None) -> None:
        self._callbacks.set("press", callback)

    def close(self) -> None:
        self._callbacks.set("press", None)
        self._button.close()

    def __repr__(self) -> str:
        return f"GpioDoorbell(pin={self.pin})"


class GpioDoorContact:
    """A reed switch between ``pin`` and ground (internal pull-up).

    With the usual normally-open reed and the magnet on the door, the switch is
    closed (pin LOW) while the door is shut, so the pin reads HIGH when open:
    ``open_when_high=True``. A normally-closed reed needs ``open_when_high=False``.
    """

    def __init__(
        self,
        pin: int,
        *,
        open_when_high: bool = True,
        bounce_ms: int = 20,
        pin_factory: Factory,
    ) -> None:
        check_pin(pin, "door contact pin")
        self.pin = pin
        self.open_when_high = open_when_high
        self._callbacks = _Callbacks()
        with gpio_errors("door contact pin", pin):
            self._input = DigitalInputDevice(
                pin,
                pull_up=True,
                bounce_time=bounce_ms / 1000 if bounce_ms > 0 else None,
                pin_factory=pin_factory,
            )
        # With a pull-up, gpiozero's "active" means the pin is LOW.
        self._input.when_activated = self._went_low
        self._input.when_deactivated = self._went_high

    def _went_low(self) -> None:
        self._callbacks.fire("close" if self.open_when_high else "open")

    def _went_high(self) -> None:
        self._callbacks.fire("open" if self.open_when_high else "close")

    @property
    def is_open(self) -> bool:
        if self._input.closed:
            raise DeviceClosed(f"door contact on GPIO{self.pin} is closed")
        pin_high = not self._input.is_active
        return pin_high == self.open_when_high

    def on_open(self, callback: Callback | None) -> None:
        self._callbacks.set("open", callback)

    def on_close(self, callback: Callback | None) -> None:
        self._callbacks.set("close", callback)

    def close(self) -> None:
        self._callbacks.set("open", None)
        self._callbacks.set("close", None)
        self._input.close()

    def __repr__(self) -> str:
        return f"GpioDoorContact(pin={self.pin}, open_when_high={self.open_when_high})"
