"""What a command request must pass, and the command it becomes.

In one transaction: the person's right (or a time-boxed one), the door's state (online,
clock known, privacy), the unlock rate; then the command's counter, the command itself
and, for an unlock, its "requested" audit entry. Nothing here sends: ``hub.commands`` does.

    check_action("unlock")
    with db.session() as s:
        command, home = record_request(s, device_id, "unlock", person_id=pid, ...)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from protocol.commands import (
    IndoorCue,
    SetPrivacy,
    StartLiveView,
    StopLiveView,
    TakeSnapshot,
    UnlockDoor,
    command_version_for,
)
from protocol.ids import new_message_id

from .audit import AuditAction, append, command_ref, device_ref, person_ref
from .errors import HubError
from .policy import Permission, by_grant, require
from .runtime_settings import HubRuntimeSettings
from .storage import allocate_command_counter, create_command
from .storage.devices import get_device
from .storage.models_commands import Command
from .storage.models_registry import DeviceHealth

ACTIONS: dict[str, tuple[type, Permission]] = {
    "unlock": (UnlockDoor, Permission.UNLOCK),
    "snapshot": (TakeSnapshot, Permission.LIVE_VIEW),
    "live_view": (StartLiveView, Permission.LIVE_VIEW),
    "stop_live_view": (StopLiveView, Permission.LIVE_VIEW),
    "set_privacy": (SetPrivacy, Permission.SET_PRIVACY),
    # Indoor cue (issue 9): sent by the hub itself (hub.cues) on a carer's check-in.
    "cue": (IndoorCue, Permission.CHECK_IN),
}


class CommandError(HubError):
    """Root of the command service's refusals."""


class DeviceUnavailable(CommandError, ConnectionError):
    """The door is offline or has not told the hub its clock yet."""


class RateLimited(CommandError, RuntimeError):
    """Too many commands to this door in a short time."""


class PrivacyOn(DeviceUnavailable):
    """The door reports its privacy switch on: no picture is asked for (the door would refuse)."""


PICTURE_ACTIONS = frozenset({"snapshot", "live_view"})


class UnknownAction(CommandError, ValueError):
    """Not an action the protocol defines."""


def check_action(action: str) -> None:
    if action not in ACTIONS:
        raise UnknownAction(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")


def record_request(
    s: Session,
    device_id: str,
    action: str,
    *,
    person_id: str,
    reason: str,
    within: Callable[[Session], None] | None,
    authorise: Callable[[Session, Any], dict[str, Any]] | None,
    settings: HubRuntimeSettings,
    now: datetime,
    params: dict[str, Any],
) -> tuple[Any, str | None]:
    """Authorise and record the command in ``s``; returns it (not yet signed) and its home.

    ``within`` and ``authorise`` are ``CommandService.request``'s (see there).
    """
    model, permission = ACTIONS[action]
    lifetime = settings.command_lifetime_s
    device = get_device(s, device_id)
    extra: dict[str, Any] = {}
    if authorise is None:
        require(s, person_id, device.home_id, permission)
    else:
        extra = authorise(s, device)
    if within is not None:
        within(s)
    check_available(device)
    if action in PICTURE_ACTIONS and device.privacy:
        raise PrivacyOn(
            f"the door {device.name!r} has its privacy switch on: no snapshot or live "
            "view until the family turns privacy off"
        )
    if action == "unlock":
        check_rate(s, device_id, now, settings.unlocks_per_minute)
    counter = allocate_command_counter(s, device_id, at_least=device.device_command_counter or 0)
    age_ms = int((now - device.telemetry_received_at).total_seconds() * 1000)
    command = model(
        # v2 only to a door that reported it speaks v2 (telemetry); else v1.
        v=command_version_for(device.protocol_version),
        device=device_id,
        id=new_message_id(),
        counter=counter,
        issued_at=now,
        expires_at=now + timedelta(seconds=lifetime),
        boot_id=device.boot_id,
        not_after_monotonic_ms=device.monotonic_ms + max(age_ms, 0) + lifetime * 1000,
        requested_by=person_id,
        **params,
    )
    create_command(
        s,
        command_id=command.id,
        device_id=device_id,
        action=action,
        counter=counter,
        requested_by=person_id,
        reason=reason,
        at=now,
        expires_at=command.expires_at,
    )
    details: dict[str, Any] = {"action": action, "reason": reason, "counter": counter}
    if authorise is None and by_grant(s, person_id, device.home_id, permission):  # type: ignore[arg-type]
        details["by_grant"] = permission.value
    details |= extra
    if action == "unlock":
        append(
            s,
            AuditAction.UNLOCK_REQUESTED,
            actor=person_ref(person_id),
            at=now,
            subjects=[device_ref(device_id), command_ref(command.id)],
            details=details,
        )
    return command, device.home_id


def check_available(device: Any) -> None:
    if device.health not in (DeviceHealth.ONLINE, DeviceHealth.DEGRADED):
        raise DeviceUnavailable(
            f"the door {device.name!r} is {device.health.value}: nothing was sent; "
            "check its power and network"
        )
    if (
        device.boot_id is None
        or device.monotonic_ms is None
        or device.telemetry_received_at is None
    ):
        raise DeviceUnavailable(
            f"the door {device.name!r} has not reported its clock yet; try again shortly"
        )


def check_rate(s: Session, device_id: str, now: datetime, per_minute: int) -> None:
    # A count in the database: loading the recent commands themselves cost a row
    # object each, on the path of every unlock.
    stmt = select(func.count()).where(
        Command.device_id == device_id,
        Command.action == "unlock",
        Command.created_at > now - timedelta(minutes=1),
    )
    recent = int(s.execute(stmt).scalar_one())
    if recent >= per_minute:
        raise RateLimited(f"{recent} unlocks of this door in the last minute: wait a minute")
