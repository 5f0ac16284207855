"""What the logged-in person is: their homes, roles and rights; a carer's own visits.

GET /api/me          -> {person_id, display_name, homes: [{home, name, timezone, role, ...}]}
GET /api/my/visits   -> the carer's own windows still to come (a one-off drops off once
                        its day is over), with "now" and this visit's check-in
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter

from hub.errors import NotFound
from hub.policy import Permission, permissions, permissions_by_home
from hub.storage import get_home, get_person, memberships_of
from hub.storage.homes import homes_by_id
from hub.storage.models_registry import Role
from hub.storage.visits import windows_of_carer
from hub.visits import checked_in, occurrence_at

from ..deps import CurrentPerson, HubDep, Now

router = APIRouter(prefix="/api", tags=["me"])

# When a person holds several roles in one home, the page shows the first of these.
ROLE_ORDER = (
    Role.FAMILY_OWNER,
    Role.FAMILY_MEMBER,
    Role.ADMIN,
    Role.TELECARE_OFFICER,
    Role.CARER,
)


@router.get("/me")
def me(person: CurrentPerson, hub: HubDep) -> dict[str, Any]:
    with hub.db.read_session() as s:
        try:
            display_name: str | None = get_person(s, person).display_name
        except NotFound:
            display_name = None
        roles: dict[str, set[Role]] = {}
        for m in memberships_of(s, person):
            roles.setdefault(m.home_id, set()).add(Role(m.role))
        # One read of rights and one of homes, however many homes (an officer's hundreds).
        rights = permissions_by_home(s, person)
        found = {h.id: h for h in homes_by_id(s, roles)}
        homes = []
        for home_id, held in roles.items():
            home = found[home_id]
            ordered = [r.value for r in ROLE_ORDER if r in held]
            homes.append(
                {
                    "home": home.id,
                    "name": home.name,
                    "timezone": home.timezone,
                    "role": ordered[0],
                    "roles": ordered,
                    "permissions": sorted(p.value for p in rights.get(home_id, set())),
                }
            )
    return {"person_id": person, "display_name": display_name, "homes": homes}


@router.get("/my/visits")
def my_visits(person: CurrentPerson, hub: HubDep, now: Now) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    with hub.db.read_session() as s:
        rights: dict[str, set[Permission]] = {}
        for w in windows_of_carer(s, person):
            if w.home_id not in rights:
                rights[w.home_id] = permissions(s, person, w.home_id)
            if Permission.CHECK_IN not in rights[w.home_id]:
                continue  # no longer this home's carer: the window is not theirs to see
            home = get_home(s, w.home_id)
            tz = ZoneInfo(home.timezone)
            occurrence = occurrence_at(w, tz, now)
            over = w.on_date is not None and w.on_date < now.astimezone(tz).date()
            if over and occurrence is None:
                continue  # a one-off visit whose day (the home's) is over: it will not come again
            at = checked_in(s, w.id, occurrence) if occurrence else None
            out.append(
                {
                    "window_id": w.id,
                    "home": home.id,
                    "home_name": home.name,
                    "start": f"{w.start:%H:%M}",
                    "end": f"{w.end:%H:%M}",
                    "weekday": w.weekday,
                    "date": w.on_date.isoformat() if w.on_date else None,
                    "tolerance_min": w.tolerance_min,
                    "agency": w.agency,
                    "now": occurrence is not None,
                    "checked_in_at": at.isoformat() if at else None,
                }
            )
    out.sort(key=lambda v: (not v["now"], v["start"]))
    return out
