"""Home Assistant discovery per door, for the home's administrators (off by default).

GET    /api/admin/devices/{device}/home-assistant   whether the door is announced, to whom linked
PUT    /api/admin/devices/{device}/home-assistant   {person_id, share_snapshots}: opt in / change
DELETE /api/admin/devices/{device}/home-assistant   opt out: Home Assistant deletes the entities

``person_id`` names the one family member whose authenticator code Home Assistant must
pass with an unlock; they need UNLOCK in the door's home. Every change is audited.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from hub.audit import AuditAction, RefKind, append, device_ref, person_ref, ref
from hub.errors import NotFound
from hub.homeassistant.store import find_link, remove_link, set_link
from hub.policy import Permission, permissions
from hub.storage.devices import get_device

from ..deps import CurrentPerson, HubDep, Now, authorise

router = APIRouter(prefix="/api/admin/devices", tags=["home assistant"])


class HomeAssistantLinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: str | None = Field(
        None,
        min_length=1,
        max_length=36,
        description="Family member whose authenticator code unlocks from Home Assistant; "
        "null: the lock is shown but refuses every request.",
    )
    share_snapshots: bool = Field(
        False, description="Send each ring's picture to Home Assistant (an access: audited)."
    )


def _home_of(s: Session, device: str, person: str) -> str:
    """The door's home, once the caller is known to administer it (404 / 403 otherwise)."""
    try:
        home = get_device(s, device).home_id
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no door {device!r}") from None
    authorise(s, person, home, Permission.ADMINISTER)
    assert home is not None  # authorise refuses a door in no home
    return home


def _view(device: str, link: Any) -> dict[str, Any]:
    return {
        "device": device,
        "enabled": link is not None,
        "person_id": link.person_id if link is not None else None,
        "share_snapshots": bool(link.share_snapshots) if link is not None else False,
    }


@router.get("/{device}/home-assistant")
def show(device: str, person: CurrentPerson, hub: HubDep) -> dict[str, Any]:
    with hub.db.read_session() as s:
        _home_of(s, device, person)
        return _view(device, find_link(s, device))


@router.put("/{device}/home-assistant")
def enable(
    device: str, body: HomeAssistantLinkIn, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, Any]:
    with hub.db.session() as s:
        home = _home_of(s, device, person)
        if body.person_id is not None and Permission.UNLOCK not in permissions(
            s, body.person_id, home
        ):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "link a member who may unlock this door (a family member of its home)",
            )
        before = find_link(s, device)
        change = "enabled" if before is None else "changed"
        link = set_link(
            s, device, person_id=body.person_id, share_snapshots=body.share_snapshots, at=now
        )
        subjects = [device_ref(device), ref(RefKind.HOME, home)]
        if body.person_id:
            subjects.append(person_ref(body.person_id))
        append(
            s,
            AuditAction.HOME_ASSISTANT_CHANGED,
            actor=person_ref(person),
            at=now,
            subjects=subjects,
            details={"change": change, "share_snapshots": body.share_snapshots},
        )
        view = _view(device, link)
    hub.home_assistant.start()  # idempotent; announces every opted-in door
    hub.home_assistant.announce(device)
    return view


@router.delete("/{device}/home-assistant", status_code=204)
def disable(device: str, person: CurrentPerson, hub: HubDep, now: Now) -> None:
    with hub.db.session() as s:
        home = _home_of(s, device, person)
        if not remove_link(s, device):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "this door is not in Home Assistant")
        append(
            s,
            AuditAction.HOME_ASSISTANT_CHANGED,
            actor=person_ref(person),
            at=now,
            subjects=[device_ref(device), ref(RefKind.HOME, home)],
            details={"change": "disabled"},
        )
    hub.home_assistant.withdraw(device)
