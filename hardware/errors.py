"""Errors of the hardware package: one root, leaves that also inherit a builtin.

>>> issubclass(InvalidPin, ValueError) and issubclass(InvalidPin, HardwareError)
True
"""

from __future__ import annotations


class HardwareError(Exception):
    """Root of every error the hardware package raises."""


class InvalidPin(HardwareError, ValueError):
    """A pin number is not a usable BCM GPIO number."""


class PinConflict(HardwareError, ValueError):
    """Two parts were given the same GPIO pin."""


class PinFactoryUnavailable(HardwareError, RuntimeError):
    """No real GPIO library is available on this machine."""


class CameraUnavailable(HardwareError, RuntimeError):
    """The camera cannot deliver a frame: absent, unplugged, closed or its feed was cut."""


class DeviceClosed(HardwareError, RuntimeError):
    """A driver was used after ``close()``."""


class ImagingError(HardwareError, ValueError):
    """A frame is not a BGR uint8 image, or an imaging parameter is out of range."""


class PartMissing(HardwareError, LookupError):
    """A simulated or real part was asked for but is not fitted on this door."""


class InvalidCameraSettings(HardwareError, ValueError):
    """A camera was asked for a size or source it cannot provide."""
