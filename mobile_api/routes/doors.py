"""Doors of a home as their devices report them, and unlocking one.

GET  /api/homes/{home}/doors        lock/door state as reported + its age, health
POST /api/doors/{device}/unlock     needs UNLOCK and a recent step-up -> command id
GET  /api/commands/{id}             the command's status
"""

from __future__ import annotations

import json
from functools import partial

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from hub.errors import NotFound
from hub.policy import Permission, permissions
from hub.storage import get_command, list_devices
from hub.storage.devices import get_device

from ..commanding import send_command
from ..deps import CurrentPerson, CurrentSession, HubDep, Now, SettingsDep, authorise
from ..security import stepped_up
from .auth import step_up_with

router = APIRouter(prefix="/api", tags=["doors"])


class UnlockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=200)
    totp: str | None = Field(
        None,
        max_length=10,
        description="A fresh authenticator code: steps up and unlocks in one request.",
    )


@router.get("/homes/{home}/doors")
def doors(home: str, person: CurrentPerson, hub: HubDep, now: Now) -> list[dict[str, object]]:
    with hub.db.read_session() as s:
        authorise(s, person, home, Permission.VIEW_HEALTH)
        rows = list_devices(s, home_id=home)
        return [
            {
                "device": d.id,
                "name": d.name,
                "health": d.health.value,
                "last_seen": d.last_seen.isoformat() if d.last_seen else None,
                "lock": d.lock_state.value,
                "door": d.door_state.value,
                "privacy": d.privacy,
                "state_reported_at": d.state_received_at.isoformat()
                if d.state_received_at
                else None,
                "state_age_s": (now - d.state_received_at).total_seconds()
                if d.state_received_at
                else None,
                "software_version": d.software_version,
            }
            for d in rows
        ]


@router.post("/doors/{device}/unlock", status_code=202)
def unlock(
    device: str,
    ctx: CurrentSession,
    hub: HubDep,
    settings: SettingsDep,
    now: Now,
    body: UnlockRequest | None = None,
) -> dict[str, str]:
    code = body.totp if body is not None else None
    if code is None and not stepped_up(ctx, settings, now):
        with hub.db.read_session() as s:
            try:
                home = get_device(s, device).home_id
            except NotFound:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no door {device!r}") from None
            authorise(s, ctx.person_id, home, Permission.UNLOCK)
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"confirm it is you: step up with your code (valid {settings.step_up_window_s} s)",
        )

    # With a code, the step-up happens in the command's own transaction: one commit
    # records both (and a refused code or door leaves neither).
    step_up = None if code is None else partial(step_up_with, ctx=ctx, code=code, now=now)
    return send_command(
        hub,
        device,
        "unlock",
        person_id=ctx.person_id,
        reason=body.reason if body else "",
        within=step_up,
    )


@router.get("/commands/{command_id}")
def command_status(command_id: str, person: CurrentPerson, hub: HubDep) -> dict[str, object]:
    with hub.db.read_session() as s:
        try:
            command = get_command(s, command_id)
            home = get_device(s, command.device_id).home_id
        except NotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such command") from None
        mine = command.requested_by == person
        if not mine and (
            home is None or Permission.VIEW_EVENTS not in permissions(s, person, home)
        ):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "not your command, not your home")
        return {
            "command_id": command.id,
            "device": command.device_id,
            "action": command.action,
            "status": command.status.value,
            "reject_reason": command.reject_reason,
            "relock_in_s": _relock_in_s(command.ack_payload),
        }


def _relock_in_s(ack_payload: str | None) -> float | None:
    """When the door said it re-locks, from its signed answer (verified when it came in)."""
    if not ack_payload:
        return None
    try:
        value = json.loads(ack_payload).get("relock_in_s")
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None
