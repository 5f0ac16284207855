"""The status LED and buzzer, showing a few patterns with gpiozero's background blink/beep.

>>> from gpiozero.pins.mock import MockFactory
>>> indicator = GpioIndicator(led_pin=23, buzzer_pin=24, pin_factory=MockFactory())
>>> indicator.show(IndicatorPattern.UNLOCKING)   # steady LED, two short beeps
>>> indicator.current
<IndicatorPattern.UNLOCKING: 'unlocking'>
>>> indicator.close()
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from gpiozero import LED, Buzzer, Factory

from .errors import DeviceClosed
from .interfaces import IndicatorPattern
from .pins import check_distinct, check_pin, gpio_errors


@dataclass(frozen=True, slots=True)
class Signal:
    """On for ``on_s``, off for ``off_s``, ``n`` times (None: until changed). off_s 0: steady."""

    on_s: float
    off_s: float = 0.0
    n: int | None = None


# (LED, buzzer) per pattern. The buzzer stays short: it is heard inside the home too.
PATTERNS: dict[IndicatorPattern, tuple[Signal | None, Signal | None]] = {
    IndicatorPattern.IDLE: (None, None),
    # Ring received, family being told: slow blink, one chime.
    IndicatorPattern.NOTIFYING: (Signal(0.5, 0.5), Signal(0.15, 0.1, 1)),
    # "Unlocking — come in": steady light, two short beeps.
    IndicatorPattern.UNLOCKING: (Signal(1.0), Signal(0.1, 0.1, 2)),
    # Refused: fast blink then dark, one long low beep.
    IndicatorPattern.DENIED: (Signal(0.1, 0.1, 5), Signal(0.6, 0.1, 1)),
    # Needs attention (jammed lock, no hub): short flash every two seconds, silent.
    IndicatorPattern.FAULT: (Signal(0.2, 1.8), None),
}


class GpioIndicator:
    """An LED and/or an active buzzer; either pin may be ``None`` (not fitted)."""

    def __init__(
        self,
        *,
        led_pin: int | None = None,
        buzzer_pin: int | None = None,
        pin_factory: Factory,
    ) -> None:
        for role, pin in (("indicator LED pin", led_pin), ("indicator buzzer pin", buzzer_pin)):
            if pin is not None:
                check_pin(pin, role)
        check_distinct({"indicator LED pin": led_pin, "indicator buzzer pin": buzzer_pin})
        self.led_pin = led_pin
        self.buzzer_pin = buzzer_pin
        self._lock = threading.Lock()
        self._current = IndicatorPattern.IDLE
        self._closed = False
        self._led: LED | None = None
        self._buzzer: Buzzer | None = None
        if led_pin is not None:
            with gpio_errors("indicator LED pin", led_pin):
                self._led = LED(led_pin, initial_value=False, pin_factory=pin_factory)
        if buzzer_pin is not None:
            try:
                with gpio_errors("indicator buzzer pin", buzzer_pin):
                    self._buzzer = Buzzer(buzzer_pin, initial_value=False, pin_factory=pin_factory)
            except Exception:
                if self._led is not None:
                    self._led.close()
                raise

    @property
    def current(self) -> IndicatorPattern:
        return self._current

    @property
    def led_lit(self) -> bool:
        return self._led is not None and bool(self._led.value)

    @property
    def buzzer_sounding(self) -> bool:
        return self._buzzer is not None and bool(self._buzzer.value)

    def show(self, pattern: IndicatorPattern) -> None:
        """Stop what is showing and start ``pattern`` (returns at once)."""
        led_signal, buzzer_signal = PATTERNS[IndicatorPattern(pattern)]
        with self._lock:
            if self._closed:
                raise DeviceClosed("indicator is closed")
            if self._led is not None:
                _play(self._led, led_signal)
            if self._buzzer is not None:
                _play(self._buzzer, buzzer_signal)
            self._current = IndicatorPattern(pattern)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for device in (self._led, self._buzzer):
                if device is not None:
                    device.close()

    def __repr__(self) -> str:
        return f"GpioIndicator(led_pin={self.led_pin}, buzzer_pin={self.buzzer_pin})"


def _play(device: LED | Buzzer, signal: Signal | None) -> None:
    if signal is None:
        device.off()
    elif signal.off_s <= 0:
        device.on()
    else:
        # blink() and beep() run in gpiozero's background thread; on()/off() stop it.
        device.blink(on_time=signal.on_s, off_time=signal.off_s, n=signal.n, background=True)
