"""Builds a ready-to-start agent from a device configuration file.

>>> built = build_agent(load_device_config(path), simulate=True)   # doctest: +SKIP
>>> built.agent.start()                                                         # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from firmware_config.device_config import DeviceConfig
from hardware.interfaces import Hardware
from protocol.device_keys import load_signing_key, load_verify_key
from protocol.mqtt import LinkSettings, TlsFiles

from .agent import EdgeAgent
from .hardware_setup import agent_options, build_hardware
from .outbox import Outbox


@dataclass
class BuiltAgent:
    agent: EdgeAgent
    hardware: Hardware
    board: object | None  # the SimulatedBoard when simulating, for its helpers


def link_settings(cfg: DeviceConfig) -> LinkSettings:
    b = cfg.broker
    return LinkSettings(
        host=b.host,
        port=b.port,
        client_id=cfg.device.id,
        tls=TlsFiles(ca=b.ca, cert=b.cert, key=b.key),
        clean_start=True,
    )


def build_agent(cfg: DeviceConfig, *, simulate: bool = False) -> BuiltAgent:
    board = None
    if simulate:
        from hardware.simulated import SimulatedBoard

        board = SimulatedBoard(
            doorbell_pin=cfg.doorbell.pin,
            relay_pin=cfg.lock.relay_pin,
            active_high=cfg.lock.active_high,
            fail_secure=cfg.lock.fail_secure,
            position_pin=cfg.lock.position_pin,
            position_active_high=cfg.lock.position_active_high,
            door_contact_pin=cfg.door_contact.pin if cfg.door_contact else None,
            open_when_high=cfg.door_contact.open_when_high if cfg.door_contact else True,
            led_pin=cfg.indicator.led_pin,
            buzzer_pin=cfg.indicator.buzzer_pin,
            camera_size=(cfg.camera.width, cfg.camera.height),
        )
        hardware = board.hardware
        if cfg.camera.kind == "none":
            hardware = replace(hardware, camera=None)
    else:
        hardware = build_hardware(cfg)
    outbox = Outbox(
        cfg.outbox.path,
        max_bytes=cfg.outbox.max_bytes,
        max_age_s=cfg.outbox.max_age_days * 86400,
    )
    agent = EdgeAgent(
        cfg.device.id,
        hardware,
        link_settings(cfg),
        outbox,
        hub_key=load_verify_key(cfg.keys.hub_public_key),
        device_key=load_signing_key(cfg.keys.signing_key),
        options=agent_options(cfg),
    )
    return BuiltAgent(agent, hardware, board)
