"""Live view of a door's camera: snapshots every interval for a short time, on request.

POST /api/doors/{device}/live {"seconds": 30}   -> 202 {command_id, status}   (live_view)
POST /api/doors/{device}/live/stop              -> 202 {command_id, status}

Frames arrive on the stream as "snapshot" notices with reason "live_view". The
command service signs, sends and audits each request (command_sent / rejected).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from hub.service import Hub

from ..commanding import send_command
from ..deps import CurrentPerson, HubDep

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


def _send(hub: Hub, device: str, person: str, action: str, **params: Any) -> dict[str, str]:
    # The command service checks LIVE_VIEW for these actions, per home.
    return send_command(hub, device, action, person_id=person, **params)
