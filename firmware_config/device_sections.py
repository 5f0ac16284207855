"""The sections of a device file and the field types they share, one pydantic model each.

Each section is immutable and refuses unknown keys (a typo fails loudly); every field
is described, because the JSON Schema in docs/schemas/ is generated from these models
and the problem messages quote the descriptions. GPIO pins must be BCM numbers, and
paths resolve against the device file's own folder (``base_dir`` in the validation
context). ``DeviceConfig`` in device_model.py puts the sections together.

    LockSection(relay_pin=17).hold_s        # 5.0
    LockSection(relay_pin=1)                # ValidationError: BCM numbering, 2-27
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
)

from protocol.ids import DEVICE_ID_PATTERN, check_device_id

BCM_PIN_MIN, BCM_PIN_MAX = 2, 27
HOLD_S_MIN, HOLD_S_MAX = 0.5, 30.0


def _check_pin(value: int) -> int:
    if not BCM_PIN_MIN <= value <= BCM_PIN_MAX:
        raise ValueError(
            f"pin {value} is out of range: use a BCM GPIO number from {BCM_PIN_MIN} to "
            f"{BCM_PIN_MAX} (BCM numbering, not the physical header pin number)"
        )
    return value


def _check_hold(value: float) -> float:
    if value <= 0:
        raise ValueError(
            f"hold_s = {value} would never release the door: set how long it stays released, "
            f"{HOLD_S_MIN:g}-{HOLD_S_MAX:g} s (5 is typical)"
        )
    if not HOLD_S_MIN <= value <= HOLD_S_MAX:
        raise ValueError(
            f"hold_s = {value} is outside {HOLD_S_MIN:g}-{HOLD_S_MAX:g} s: a door left released "
            "longer is a security risk and may overheat the strike; set e.g. hold_s = 5.0"
        )
    return value


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """Relative paths are relative to the config file's folder (given as context)."""
    base = (info.context or {}).get("base_dir")
    return value if value.is_absolute() or base is None else Path(base) / value


BcmPin = Annotated[
    int,
    Strict(),
    AfterValidator(_check_pin),
    Field(json_schema_extra={"minimum": 2, "maximum": 27}),
]
ConfigPath = Annotated[Path, AfterValidator(_resolve)]
DeviceId = Annotated[
    str, AfterValidator(check_device_id), Field(json_schema_extra={"pattern": DEVICE_ID_PATTERN})
]


class Section(BaseModel):
    """Base of every section: immutable, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DeviceSection(Section):
    id: DeviceId = Field(description="Device id; must equal the CN of its client certificate.")
    name: str = Field(min_length=1, max_length=80, description="Human name, e.g. 'Front door'.")
    software_channel: str | None = Field(
        default=None, pattern=r"^[a-z][a-z0-9-]{0,31}$", description="Update channel, e.g. stable."
    )


class BrokerSection(Section):
    host: str = Field(min_length=1, pattern=r"^[^\s/]+$", description="Hub broker host name or IP.")
    port: int = Field(default=8883, ge=1, le=65535, description="Broker TLS port (1-65535).")
    ca: ConfigPath = Field(description="CA certificate (PEM) that signed the broker's certificate.")
    cert: ConfigPath = Field(description="This device's client certificate (PEM).")
    key: ConfigPath = Field(description="Private key of the client certificate (PEM).")


class KeysSection(Section):
    signing_key: ConfigPath = Field(description="Device Ed25519 key that signs events and acks.")
    hub_public_key: ConfigPath = Field(description="Pinned hub public key that signs commands.")


class LockSection(Section):
    kind: Literal["strike", "deadbolt"] = Field(
        default="strike", description="'strike': electric strike on a relay; 'deadbolt': motorised."
    )
    relay_pin: BcmPin = Field(description="BCM pin driving the lock relay.")
    active_high: bool = Field(
        default=True, description="True if the relay board energises on HIGH."
    )
    hold_s: Annotated[float, AfterValidator(_check_hold)] = Field(
        default=5.0, description="Seconds the lock stays released before it re-engages by itself."
    )
    position_pin: BcmPin | None = Field(
        default=None, description="BCM pin of the optional lock-position sensor (jam detection)."
    )
    position_active_high: bool = Field(
        default=True, description="True if the position sensor reads HIGH when the lock is engaged."
    )
    jam_timeout_s: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="Seconds to reach the commanded state before 'jammed'.",
    )
    fail_secure: bool = Field(
        default=True, description="True if the lock stays locked without power (fail-secure)."
    )


class DoorbellSection(Section):
    pin: BcmPin = Field(description="BCM pin of the push button (wired to ground, pull-up).")
    bounce_ms: int = Field(default=50, ge=0, le=1000, description="Debounce time in ms.")
    cooldown_s: float = Field(
        default=3.0, ge=0, le=120, description="Ignore re-rings for this long."
    )


class DoorContactSection(Section):
    pin: BcmPin = Field(description="BCM pin of the reed switch (wired to ground, pull-up).")
    open_when_high: bool = Field(
        default=True, description="True if the pin reads HIGH when the door is open (NO reed)."
    )


class IndicatorSection(Section):
    led_pin: BcmPin | None = Field(default=None, description="BCM pin of the status LED.")
    buzzer_pin: BcmPin | None = Field(default=None, description="BCM pin of the active buzzer.")
    announce_command: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(
        default=None,
        min_length=1,
        description='Indoor cue announcement, run without a shell; "{text}" is replaced by '
        'the sentence, e.g. ["espeak", "{text}"]. Omitted: indicator only.',
    )
    announce_timeout_s: float = Field(
        default=10.0, gt=0, le=60, description="Seconds before an announcement is stopped."
    )


class CameraSection(Section):
    kind: Literal["picamera2", "usb", "simulated", "none"] = Field(
        default="none",
        description="Camera driver: Pi Camera Module, USB (OpenCV), simulated, none.",
    )
    width: int = Field(default=640, ge=160, le=4056, description="Capture width in pixels.")
    height: int = Field(default=480, ge=120, le=3040, description="Capture height in pixels.")
    usb_index: int = Field(default=0, ge=0, le=63, description="OpenCV index of the USB camera.")
    buffer_frames: int = Field(default=5, ge=1, le=30, description="Frames in a ring burst.")
    sharpness_select: bool = Field(default=True, description="Keep the sharpest frame of a burst.")


class OutboxSection(Section):
    path: ConfigPath = Field(
        default=Path("state/outbox.sqlite"),
        validate_default=True,
        description="SQLite file holding events until the hub confirms them.",
    )
    max_bytes: int = Field(
        default=268_435_456, ge=1_048_576, description="Size cap; oldest snapshots go first."
    )
    max_age_days: int = Field(
        default=14, ge=1, le=365, description="Drop messages older than this."
    )


class TelemetrySection(Section):
    heartbeat_s: int = Field(default=30, ge=5, le=3600, description="Seconds between heartbeats.")
