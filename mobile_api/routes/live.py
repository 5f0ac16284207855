"""Live view of a door's camera: snapshots every interval for a short time, on request.

POST /api/doors/{device}/live {"seconds": 30}   -> 202 {command_id, status}   (live_view)
POST /api/doors/{device}/live/stop              -> 202 {command_id, status}

Frames arrive on the stream as "snapshot" notices with reason "live_view". The
command service signs, sends and audits each request (command_sent / rejected).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from hub.commands import DeviceUnavailable, RateLimited
from hub.errors import NotFound
from hub.policy import NotAuthorised, Permission
from hub.storage.devices import get_device

from ..deps import CurrentPerson, HubDep, authorise

router = APIRouter(prefix="/api", tags=["live"])


class LiveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: int = Field(30, ge=1, le=60, description="how long the door sends frames")
    interval_ms: int = Field(1000, ge=200, le=5000, description="time between frames")


@router.post("/doors/{device}/live", status_code=202)
def start_live(
    device: str, person: CurrentPerson, hub: HubDep, body: LiveRequest | None = None
) -> dict[str, str]:
    body = body or LiveRequest()
    return _send(
        hub,
        device,
        person,
        "live_view",
        duration_s=body.seconds,
        interval_ms=body.interval_ms,
    )


@router.post("/doors/{device}/live/stop", status_code=202)
def stop_live(device: str, person: CurrentPerson, hub: HubDep) -> dict[str, str]:
    return _send(hub, device, person, "stop_live_view")


def _send(hub: Any, device: str, person: str, action: str, **params: Any) -> dict[str, str]:
    with hub.db.read_session() as s:
        try:
            home = get_device(s, device).home_id
        except NotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no door {device!r}") from None
        authorise(s, person, home, Permission.LIVE_VIEW)
    try:
        ticket = hub.commands.request(device, action, person_id=person, **params)
    except NotAuthorised as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
    except DeviceUnavailable as exc:
        # 409, not 503: the server is fine, the door is not; a 5xx invites automatic retries.
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except RateLimited as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(exc)) from None
    return {"command_id": ticket.id, "status": ticket.status}
