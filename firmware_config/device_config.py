"""The device configuration: one TOML file per door, validated by pydantic.

Every section refuses unknown keys (a typo fails loudly), every field is described
(the JSON Schema in docs/schemas/ is generated from these models), and relative
paths resolve against the file's own folder.

    >>> cfg = load_device_config("firmware_config/examples/simulated.toml")  # doctest: +SKIP
    >>> cfg.lock.relay_pin, cfg.camera.kind                                  # doctest: +SKIP
    (17, 'simulated')
    >>> check_device_config("door.toml")  # [] when valid                    # doctest: +SKIP
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from protocol.ids import DEVICE_ID_PATTERN, check_device_id

from .errors import ConfigError, ConfigProblem, DeviceConfigError

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


def _problem_from_error(err: Any) -> list[ConfigProblem]:
    """Turn one pydantic error into problems whose message carries the fix."""
    loc = [str(p) for p in err["loc"]]
    where = ".".join(loc) or "(file)"
    error = (err.get("ctx") or {}).get("error")
    if isinstance(error, CrossFieldProblems):
        return error.problems
    if isinstance(error, ValueError):
        return [ConfigProblem(where, str(error))]
    kind = err["type"]
    if kind == "extra_forbidden":
        return [ConfigProblem(where, _unknown_key_message(loc))]
    if kind == "missing":
        field = _field_for(loc)
        hint = f" ({field.description.rstrip('.')})" if field and field.description else ""
        if len(loc) == 1:
            return [ConfigProblem(where, f"section [{loc[0]}] is missing: add it{hint}")]
        return [ConfigProblem(where, f"missing key: add {loc[-1]} = ... to [{loc[0]}]{hint}")]
    field = _field_for(loc)
    hint = f"; expected: {field.description.rstrip('.')}" if field and field.description else ""
    return [ConfigProblem(where, f"{err['input']!r} is invalid: {err['msg']}{hint}")]


def _model_for(loc: list[str]) -> type[BaseModel] | None:
    model: type[BaseModel] = DeviceConfig
    for part in loc:
        field = model.model_fields.get(part)
        inner = _section_type(field.annotation) if field else None
        if inner is None:
            return None
        model = inner
    return model


def _section_type(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _field_for(loc: list[str]) -> Any:
    model = _model_for(loc[:-1]) if loc else None
    return model.model_fields.get(loc[-1]) if model else None


def _unknown_key_message(loc: list[str]) -> str:
    model = _model_for(loc[:-1])
    known = sorted(model.model_fields) if model else []
    import difflib  # error path only: the running agent never loads it

    close = difflib.get_close_matches(loc[-1], known, n=1)
    if len(loc) == 1:
        fix = f"did you mean [{close[0]}]?" if close else f"sections are: {', '.join(known)}"
        return f"unknown section [{loc[0]}]: remove it or fix its name ({fix})"
    fix = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
    return f"unknown key {loc[-1]!r}: remove it or fix the spelling ({fix})"


def _file_problems(cfg: DeviceConfig) -> list[ConfigProblem]:
    files = {
        "broker.ca": (cfg.broker.ca, "the CA certificate"),
        "broker.cert": (cfg.broker.cert, "the device certificate"),
        "broker.key": (cfg.broker.key, "the device private key"),
        "keys.signing_key": (cfg.keys.signing_key, "the device signing key"),
        "keys.hub_public_key": (cfg.keys.hub_public_key, "the hub public key"),
    }
    return [
        ConfigProblem(
            where,
            f"{what} file {path} does not exist: copy it from the device's provisioning bundle "
            "or fix the path",
        )
        for where, (path, what) in files.items()
        if not path.is_file()
    ]


def _validate(path: Path, check_files: bool) -> tuple[DeviceConfig | None, list[ConfigProblem]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, [ConfigProblem(str(path), "file not found: check the path")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [ConfigProblem(str(path), f"cannot read the file ({exc}): check permissions")]
    except tomllib.TOMLDecodeError as exc:
        return None, [ConfigProblem("(toml)", f"not valid TOML: {exc}; fix the syntax there")]
    try:
        cfg = DeviceConfig.model_validate(data, context={"base_dir": path.resolve().parent})
    except ValidationError as exc:
        return None, [p for err in exc.errors() for p in _problem_from_error(err)]
    return cfg, _file_problems(cfg) if check_files else []


def check_device_config(path: str | Path, check_files: bool = True) -> list[ConfigProblem]:
    """Every problem in the file at ``path`` (empty when it is valid)."""
    return _validate(Path(path), check_files)[1]


def load_device_config(path: str | Path, *, check_files: bool = False) -> DeviceConfig:
    """Load and validate a device file; raise ``DeviceConfigError`` listing every problem.

    ``check_files`` also requires the certificate and key files to exist (the agent
    should pass True; tools that only read the settings need not).
    """
    cfg, problems = _validate(Path(path), check_files)
    if problems or cfg is None:
        raise DeviceConfigError(str(path), problems)
    return cfg


def dump_device_config(cfg: DeviceConfig, relative_to: str | Path | None = None) -> str:
    """TOML text for ``cfg``; paths under ``relative_to`` are written relative to it."""
    data = cfg.model_dump(mode="json", exclude_none=True)
    if relative_to is not None:
        base = Path(relative_to).resolve()
        for section, key in (
            ("broker", "ca"),
            ("broker", "cert"),
            ("broker", "key"),
            ("keys", "signing_key"),
            ("keys", "hub_public_key"),
            ("outbox", "path"),
        ):
            value = Path(data[section][key])
            if value.is_absolute() and value.is_relative_to(base):
                data[section][key] = value.relative_to(base).as_posix()
    import tomli_w  # writing device files is provisioning's job, not the agent's

    return tomli_w.dumps(data)
