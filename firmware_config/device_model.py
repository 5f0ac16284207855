"""``DeviceConfig``, the whole device file: its sections and the rules that span them.

The rules no single section can check (each GPIO pin used once, a deadbolt needs a
door contact, a jam is noticed before the relock) are raised together as one
``CrossFieldProblems``, so a file shows every such problem at once, each with where
it is and how to fix it.

    cfg = DeviceConfig.model_validate(data, context={"base_dir": folder})
    for where, pin in cfg.pins(): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Self

from pydantic import Field, model_validator

from .device_sections import (
    BrokerSection,
    CameraSection,
    DeviceSection,
    DoorbellSection,
    DoorContactSection,
    IndicatorSection,
    KeysSection,
    LockSection,
    OutboxSection,
    Section,
    TelemetrySection,
)
from .errors import ConfigError, ConfigProblem


class CrossFieldProblems(ConfigError, ValueError):
    """Raised by ``DeviceConfig``'s model validator; carries each problem with its location."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class DeviceConfig(Section):
    """Everything one door's edge agent needs to know about its hardware and its hub."""

    device: DeviceSection = Field(description="Who this device is.")
    broker: BrokerSection = Field(description="Where the hub's MQTT broker is, with TLS files.")
    keys: KeysSection = Field(
        description="Signing keys: the device's own and the hub's public one."
    )
    lock: LockSection = Field(description="The lock actuator on its relay.")
    doorbell: DoorbellSection = Field(description="The doorbell push button.")
    door_contact: DoorContactSection | None = Field(default=None, description="Reed switch.")
    indicator: IndicatorSection = Field(
        default_factory=IndicatorSection, description="Status LED and buzzer (both optional)."
    )
    camera: CameraSection = Field(default_factory=CameraSection, description="Snapshot camera.")
    outbox: OutboxSection = Field(
        # A dict, validated, so its default path resolves against the file's folder too.
        default={},
        validate_default=True,
        description="Durable local queue of outgoing messages.",
    )
    telemetry: TelemetrySection = Field(default_factory=TelemetrySection, description="Heartbeat.")

    def pins(self) -> Iterator[tuple[str, int]]:
        """Every GPIO in use as (location, BCM number)."""
        candidates = [
            ("lock.relay_pin", self.lock.relay_pin),
            ("lock.position_pin", self.lock.position_pin),
            ("doorbell.pin", self.doorbell.pin),
            ("door_contact.pin", self.door_contact.pin if self.door_contact else None),
            ("indicator.led_pin", self.indicator.led_pin),
            ("indicator.buzzer_pin", self.indicator.buzzer_pin),
        ]
        return ((where, pin) for where, pin in candidates if pin is not None)

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        problems: list[ConfigProblem] = []
        first_user: dict[int, str] = {}
        for where, pin in self.pins():
            if pin in first_user:
                problems.append(
                    ConfigProblem(
                        where,
                        f"BCM pin {pin} is already used by {first_user[pin]}: "
                        "give each part its own GPIO pin",
                    )
                )
            else:
                first_user[pin] = where
        if self.lock.kind == "deadbolt" and self.door_contact is None:
            problems.append(
                ConfigProblem(
                    "lock.kind",
                    "a motorised deadbolt needs a door contact to know the door is closed before "
                    "it throws the bolt: add a [door_contact] section with its pin",
                )
            )
        if self.lock.jam_timeout_s > self.lock.hold_s and self.lock.position_pin is not None:
            problems.append(
                ConfigProblem(
                    "lock.jam_timeout_s",
                    f"jam_timeout_s = {self.lock.jam_timeout_s} is longer than hold_s = "
                    f"{self.lock.hold_s}: a jam would be found after the relock; make it shorter",
                )
            )
        if problems:
            raise CrossFieldProblems(problems)
        return self
