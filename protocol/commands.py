"""Commands (hub -> device) and acknowledgements (device -> hub).

Both travel inside a ``SignedEnvelope`` (see ``protocol.signing``). A command
binds target device, action, a unique id, a counter larger than any the device
accepted before, who asked, and an expiry that does not depend on the device's
wall clock: ``boot_id`` + ``not_after_monotonic_ms`` are read against the
device's own monotonic clock, which the device reports in status and telemetry.
A command for an older boot is refused, so nothing signed before a reboot can be
replayed after it.

Commands and acks exist in schema versions 1 and 2. A v2 command is a v1 command with
``v: 2`` (it tells the device the hub speaks v2); a v2 ack may add ``relock_in_s``. The
hub sends v2 only to a device that reported it (``command_version_for``), and a device
answers in the version of the command, so neither side ever gets a version it lacks.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, NonNegativeInt, PositiveInt, TypeAdapter, model_validator

from .base import (
    SCHEMA_VERSION,
    BootId,
    DeviceIdField,
    MessageId,
    Timestamp,
    VersionedModel,
    since,
    versions_of,
)
from .device import LockState

MAX_COMMAND_LIFETIME_S = 30


class CommandBase(VersionedModel):
    """What every command binds; ``expires_at - issued_at`` must be within (0, 30] s."""

    device: DeviceIdField = Field(description="The only device that may execute this command.")
    id: MessageId
    counter: PositiveInt = Field(description="Must exceed every counter the device accepted.")
    issued_at: Timestamp = Field(description="Hub time of signing.")
    expires_at: Timestamp = Field(
        description="Hub time after which the command is void (checked when the clock is synced)."
    )
    boot_id: BootId = Field(description="The device boot this command is for.")
    not_after_monotonic_ms: NonNegativeInt = Field(
        description="Deadline on the device's monotonic clock for that boot."
    )
    requested_by: str = Field(
        min_length=1, max_length=64, description="Opaque id of the person (or service) asking."
    )

    @model_validator(mode="after")
    def _short_lived(self) -> CommandBase:
        lifetime = (self.expires_at - self.issued_at).total_seconds()
        if not 0 < lifetime <= MAX_COMMAND_LIFETIME_S:
            raise ValueError(
                f"command lifetime must be within (0, {MAX_COMMAND_LIFETIME_S}] s, got {lifetime}"
            )
        return self


class UnlockDoor(CommandBase):
    """Release the lock for ``hold_s`` seconds (device default if omitted), then re-lock."""

    action: Literal["unlock"] = "unlock"
    hold_s: float | None = Field(
        default=None, gt=0, le=30, description="Seconds to hold the lock released."
    )


class TakeSnapshot(CommandBase):
    """Capture one snapshot now (unless privacy is on) and publish it."""

    action: Literal["snapshot"] = "snapshot"


class StartLiveView(CommandBase):
    """Publish a snapshot every ``interval_ms`` for ``duration_s``; stops by itself."""

    action: Literal["live_view"] = "live_view"
    duration_s: PositiveInt = Field(le=300, description="How long to keep publishing.")
    interval_ms: PositiveInt = Field(
        ge=100, le=10_000, description="Milliseconds between snapshots."
    )


class StopLiveView(CommandBase):
    """Stop a live view before its duration is over."""

    action: Literal["stop_live_view"] = "stop_live_view"


class SetPrivacy(CommandBase):
    """Pause (``privacy: true``) or resume the camera."""

    action: Literal["set_privacy"] = "set_privacy"
    privacy: bool = Field(description="True pauses the camera, false resumes it.")


class CueKind(StrEnum):
    """What an indoor cue tells the person at home."""

    CARER_AT_DOOR = "carer_at_door"
    FAMILY_UNLOCKED = "family_unlocked"


class IndoorCue(CommandBase):
    """Tell the person at home what is happening at the door: an indicator pattern and,
    where the device has one configured, a spoken announcement. Changes nothing else."""

    action: Literal["cue"] = "cue"
    cue: CueKind = Field(description="Which cue to give.")
    who: str | None = Field(
        default=None,
        min_length=1,
        max_length=80,
        description="First name to announce (e.g. the carer's); omitted: a generic phrase.",
    )


AnyCommand = Annotated[
    UnlockDoor | TakeSnapshot | StartLiveView | StopLiveView | SetPrivacy | IndoorCue,
    Field(discriminator="action"),
]
COMMAND_ADAPTER: TypeAdapter[AnyCommand] = TypeAdapter(AnyCommand)


class AckOutcome(StrEnum):
    """What became of a command."""

    EXECUTED = "executed"
    REJECTED = "rejected"
    FAILED = "failed"


class RejectReason(StrEnum):
    """Why a command was not executed (``rejected``) or did not complete (``failed``)."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_KEY = "unknown_key"
    WRONG_DEVICE = "wrong_device"
    EXPIRED = "expired"
    STALE_BOOT = "stale_boot"
    COUNTER_REPLAYED = "counter_replayed"
    DUPLICATE_ID = "duplicate_id"
    UNSUPPORTED = "unsupported"
    BUSY = "busy"
    PRIVACY = "privacy"
    HARDWARE_FAULT = "hardware_fault"
    RATE_LIMITED = "rate_limited"


class CommandAck(VersionedModel):
    """The device's signed answer to a command, whatever happened to it."""

    device: DeviceIdField
    command_id: MessageId | None = Field(
        description="The command answered; null if it was too malformed to read an id."
    )
    action: str | None = Field(
        default=None, max_length=32, description="The command's action, if it could be read."
    )
    outcome: AckOutcome
    reason: RejectReason | None = Field(default=None, description="Set unless executed.")
    detail: str = Field(default="", max_length=500, description="Free text for people.")
    lock: LockState = Field(description="Lock state after handling the command.")
    counter: NonNegativeInt = Field(description="Highest accepted counter after handling.")
    boot_id: BootId
    at: Timestamp = Field(description="Device time of the answer.")
    monotonic_ms: NonNegativeInt = Field(description="Device monotonic clock at the answer.")
    relock_in_s: float | None = Field(
        default=None,
        ge=0,
        le=3600,
        description=(
            "Since v2 (absent from a v1 ack). Executed unlock only: seconds from this answer "
            "until the device re-locks by itself (its hold time); null when it will not by "
            "time alone (a deadbolt waits for the door) or for any other command."
        ),
        json_schema_extra=since(2),
    )

    @model_validator(mode="after")
    def _reason_matches_outcome(self) -> CommandAck:
        if (self.outcome is AckOutcome.EXECUTED) != (self.reason is None):
            raise ValueError("reason must be set exactly when the outcome is not 'executed'")
        return self


COMMAND_VERSIONS = versions_of(CommandBase)


def command_version_for(reported: str | None) -> int:
    """The command version to send a device that reported ``protocol_version`` (telemetry).

    The highest version both sides speak; 1 when the device said nothing or something
    unreadable, since every device speaks v1.
    """
    try:
        theirs = int(reported) if reported is not None else SCHEMA_VERSION
    except ValueError:
        return SCHEMA_VERSION
    speakable = [v for v in COMMAND_VERSIONS if v <= theirs]
    return max(speakable, default=SCHEMA_VERSION)
