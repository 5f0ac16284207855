"""Turns a device configuration into real drivers (on a Pi) or the simulated board.

The hardware package knows nothing of configuration files; this is the one place
that maps ``[lock]``, ``[doorbell]``... onto driver arguments.

    >>> hardware = build_hardware(load_device_config(path))   # doctest: +SKIP
"""

from __future__ import annotations

from firmware_config.device_config import DeviceConfig
from hardware.cameras import PiCamera, UsbCamera
from hardware.gpio_indicator import GpioIndicator
from hardware.gpio_inputs import GpioDoorbell, GpioDoorContact
from hardware.gpio_lock import GpioLock
from hardware.interfaces import Camera, Hardware
from hardware.pins import real_pin_factory
from hardware.sim_camera import SimCamera

from .options import AgentOptions


def agent_options(cfg: DeviceConfig) -> AgentOptions:
    return AgentOptions(
        hold_s=cfg.lock.hold_s,
        jam_timeout_s=cfg.lock.jam_timeout_s,
        lock_kind=cfg.lock.kind,
        cooldown_s=cfg.doorbell.cooldown_s,
        heartbeat_s=cfg.telemetry.heartbeat_s,
        snapshot_width=cfg.camera.width,
        buffer_frames=cfg.camera.buffer_frames,
        announce_command=tuple(cfg.indicator.announce_command or ()) or None,
        announce_timeout_s=cfg.indicator.announce_timeout_s,
    )


def _camera(cfg: DeviceConfig) -> Camera | None:
    c = cfg.camera
    if c.kind == "picamera2":
        return PiCamera(c.width, c.height)
    if c.kind == "usb":
        return UsbCamera(c.usb_index, width=c.width, height=c.height)
    if c.kind == "simulated":
        return SimCamera(c.width, c.height)
    return None


def build_hardware(cfg: DeviceConfig) -> Hardware:
    """Real drivers on the Pi's GPIO (``Hardware.close()`` engages the lock last)."""
    factory = real_pin_factory()
    lock = GpioLock(
        cfg.lock.relay_pin,
        active_high=cfg.lock.active_high,
        fail_secure=cfg.lock.fail_secure,
        position_pin=cfg.lock.position_pin,
        position_active_high=cfg.lock.position_active_high,
        pin_factory=factory,
    )
    return Hardware(
        doorbell=GpioDoorbell(
            cfg.doorbell.pin, bounce_ms=cfg.doorbell.bounce_ms, pin_factory=factory
        ),
        lock=lock,
        door_contact=(
            GpioDoorContact(
                cfg.door_contact.pin,
                open_when_high=cfg.door_contact.open_when_high,
                pin_factory=factory,
            )
            if cfg.door_contact
            else None
        ),
        camera=_camera(cfg),
        indicator=GpioIndicator(
            led_pin=cfg.indicator.led_pin,
            buzzer_pin=cfg.indicator.buzzer_pin,
            pin_factory=factory,
        ),
    )
