"""The small interfaces the edge agent codes against; real drivers and simulations fit them.

>>> def ring_handler(bell: Doorbell) -> None:
...     bell.on_press(lambda: print("ding"))
>>> LockPosition.ENGAGED.value
'engaged'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Callback = Callable[[], None]
Frame = npt.NDArray[np.uint8]
"""A camera frame: height x width x 3, BGR order (what OpenCV expects), uint8."""


class LockPosition(StrEnum):
    """Where a lock is: commanded, or as its position sensor reports it."""

    ENGAGED = "engaged"
    RELEASED = "released"
    UNKNOWN = "unknown"


class IndicatorPattern(StrEnum):
    """What the LED and buzzer tell the person at the door (and the person inside)."""

    IDLE = "idle"
    NOTIFYING = "notifying"  # ring received: the family is being told
    UNLOCKING = "unlocking"  # "unlocking — come in"
    DENIED = "denied"
    FAULT = "fault"


@runtime_checkable
class Doorbell(Protocol):
    """The push button at the door."""

    @property
    def is_pressed(self) -> bool: ...

    def on_press(self, callback: Callback | None) -> None:
        """Call ``callback`` (from a driver thread: keep it short) on each press."""

    def close(self) -> None: ...


@runtime_checkable
class LockActuator(Protocol):
    """A strike or motorised deadbolt behind a relay, with an optional position sensor.

    ``commanded`` is what we asked for; ``position`` is what the sensor says
    (``UNKNOWN`` without one). Only ``position`` may be reported as the lock's state.
    """

    @property
    def commanded(self) -> LockPosition: ...

    @property
    def position(self) -> LockPosition: ...

    @property
    def has_position_sensor(self) -> bool: ...

    def release(self, hold_s: float | None = None) -> None:
        """Release; with ``hold_s``, engage again by itself after that many seconds."""

    def engage(self) -> None: ...

    def wait_until(self, state: LockPosition, timeout: float) -> bool:
        """True once the sensor shows ``state``; False after ``timeout`` s (a jam)."""

    def close(self) -> None:
        """Engage, then free the pins."""


@runtime_checkable
class DoorContact(Protocol):
    """A reed switch on the door frame."""

    @property
    def is_open(self) -> bool: ...

    def on_open(self, callback: Callback | None) -> None: ...

    def on_close(self, callback: Callback | None) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class Camera(Protocol):
    """Something that returns still frames on demand."""

    @property
    def resolution(self) -> tuple[int, int]:
        """(width, height) of the frames ``capture`` returns."""

    def capture(self) -> Frame:
        """One BGR frame; raises ``CameraUnavailable`` when there is none to give."""

    def close(self) -> None: ...


@runtime_checkable
class Indicator(Protocol):
    """Status LED and buzzer."""

    @property
    def current(self) -> IndicatorPattern: ...

    def show(self, pattern: IndicatorPattern) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Hardware:
    """One door's parts, as the edge agent receives them (real or simulated)."""

    doorbell: Doorbell
    lock: LockActuator
    camera: Camera | None
    indicator: Indicator
    door_contact: DoorContact | None = None

    def close(self) -> None:
        """Close every part; the lock last, so the door is engaged when this returns."""
        parts = (self.camera, self.indicator, self.door_contact, self.doorbell, self.lock)
        for part in parts:
            if part is not None:
                part.close()
