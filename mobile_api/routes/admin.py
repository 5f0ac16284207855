"""Administration: homes, devices, people and their roles, for people who administer homes.

An admin acts only on the homes where they hold ``administer`` (an admin membership);
someone with no such home gets 403 everywhere here. Devices not yet in any home
are visible to every admin, so a newly provisioned door can be placed.

The two lists are filtered in SQL and paged by id: while a page is full, the
response's ``Link: <...>; rel="next"`` header gives the next page's address
(``after=<the last id>``); ``q`` keeps ids or names starting with it.

GET  /api/admin/homes                       POST /api/admin/homes {name, timezone}
GET  /api/admin/devices?limit=100&after=ID&q=PREFIX   POST /api/admin/devices/{device}/home {home}
GET  /api/admin/people?limit=100&after=ID&q=PREFIX
POST   /api/admin/homes/{home}/members {person_id, role}
DELETE /api/admin/homes/{home}/members/{person_id}/{role}
POST   /api/admin/homes/{home}/grants {person_id, role, grant}
DELETE /api/admin/homes/{home}/grants?person_id=..&role=..&grant=..
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from hub.audit import AuditAction, RefKind, append, device_ref, person_ref, ref
from hub.carer_photos import delete_photo
from hub.errors import InvalidValue, NotFound
from hub.policy import GRANT_PERMISSIONS, ROLE_PERMISSIONS, Permission
from hub.storage import (
    add_membership,
    assign_home,
    create_home,
    get_device,
    get_home,
    members_of,
    memberships_of,
    remove_membership,
)
from hub.storage.admin_pages import devices_page, people_page
from hub.storage.models_registry import Grant, Role

from ..deps import CurrentPerson, HubDep, Now, authorise
from .paging import AFTER_HELP, MAX_PAGE, PAGE, PREFIX_HELP, PRINTABLE, link_next

router = APIRouter(prefix="/api/admin", tags=["admin"])


class NewHome(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field("Europe/London", min_length=1, max_length=64)


class Placement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    home: str | None = Field(description="the home's id; null takes the door out of its home")


class NewMember(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_id: str = Field(min_length=1, max_length=36)
    role: Role


class NewGrant(NewMember):
    grant: Grant


def administered(s: Session, person: str) -> set[str]:
    """Homes where ``person`` holds administer: their admin memberships, as the admin role
    carries administer. One read of their memberships (``permissions()`` per home would
    read them again for every home: quadratic for a council admin of 100,000 homes)."""
    if Permission.ADMINISTER not in ROLE_PERMISSIONS[Role.ADMIN]:
        return set()
    return {m.home_id for m in memberships_of(s, person) if Role(m.role) is Role.ADMIN}


def _admin_somewhere(s: Session, person: str) -> set[str]:
    homes = administered(s, person)
    if not homes:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "only administrators may do this: ask your hub's admin"
        )
    return homes


def _audit(
    s: Session, person: str, action: AuditAction, now: Any, *subjects: str, **d: Any
) -> None:
    append(s, action, actor=person_ref(person), at=now, subjects=list(subjects), details=d)


@router.get("/homes")
def homes(person: CurrentPerson, hub: HubDep) -> list[dict[str, Any]]:
    with hub.db.read_session() as s:
        out = []
        for home_id in sorted(_admin_somewhere(s, person)):
            home = get_home(s, home_id)
            out.append({"home": home.id, "name": home.name, "timezone": home.timezone})
        return out


@router.post("/homes", status_code=201)
def new_home(body: NewHome, person: CurrentPerson, hub: HubDep, now: Now) -> dict[str, str]:
    with hub.db.session() as s:
        _admin_somewhere(s, person)
        try:
            home = create_home(s, name=body.name, timezone=body.timezone, at=now)
        except InvalidValue as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        # The creator administers the new home, or nobody could.
        add_membership(s, person_id=person, home_id=home.id, role=Role.ADMIN, at=now)
        _audit(s, person, AuditAction.HOME_CREATED, now, ref(RefKind.HOME, home.id))
        _audit(
            s,
            person,
            AuditAction.ROLE_CHANGED,
            now,
            ref(RefKind.HOME, home.id),
            person_ref(person),
            change="added",
            role=Role.ADMIN.value,
        )
        return {"home": home.id, "name": home.name, "timezone": home.timezone}


@router.get("/devices")
def devices(
    person: CurrentPerson,
    hub: HubDep,
    response: Response,
    limit: int = Query(PAGE, ge=1, le=MAX_PAGE),
    after: str | None = Query(None, max_length=63, pattern=PRINTABLE, description=AFTER_HELP),
    q: str | None = Query(None, max_length=200, pattern=PRINTABLE, description=PREFIX_HELP),
) -> list[dict[str, Any]]:
    with hub.db.read_session() as s:
        _admin_somewhere(s, person)
        found = devices_page(s, admin_id=person, after=after, limit=limit + 1, prefix=q)
        link_next(response, "/api/admin/devices", found, limit, {"q": q}, lambda d: d.id)
        return [
            {
                "device": d.id,
                "name": d.name,
                "home": d.home_id,
                "health": d.health.value,
                "last_seen": d.last_seen.isoformat() if d.last_seen else None,
                "software_version": d.software_version,
            }
            for d in found[:limit]
        ]


@router.post("/devices/{device}/home")
def place_device(
    device: str, body: Placement, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, str | None]:
    with hub.db.session() as s:
        _admin_somewhere(s, person)
        try:
            current = get_device(s, device).home_id
        except NotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no door {device!r}") from None
        if current is not None:
            authorise(s, person, current, Permission.ADMINISTER)
        if body.home is not None:
            authorise(s, person, body.home, Permission.ADMINISTER)
        assign_home(s, device, body.home)
        _audit(
            s,
            person,
            AuditAction.DEVICE_ASSIGNED,
            now,
            device_ref(device),
            *(ref(RefKind.HOME, h) for h in (current, body.home) if h),
            before=current,
            after=body.home,
        )
        return {"device": device, "home": body.home}


@router.get("/people")
def people(
    person: CurrentPerson,
    hub: HubDep,
    response: Response,
    limit: int = Query(PAGE, ge=1, le=MAX_PAGE),
    after: str | None = Query(None, max_length=36, pattern=PRINTABLE, description=AFTER_HELP),
    q: str | None = Query(None, max_length=200, pattern=PRINTABLE, description=PREFIX_HELP),
) -> list[dict[str, Any]]:
    with hub.db.read_session() as s:
        _admin_somewhere(s, person)
        found = people_page(s, admin_id=person, after=after, limit=limit + 1, prefix=q)
        link_next(response, "/api/admin/people", found, limit, {"q": q}, lambda p: p.person_id)
        return [
            {
                "person_id": p.person_id,
                "name": p.display_name,
                "memberships": [
                    {"home": m.home_id, "role": Role(m.role).value, "grants": list(m.grants)}
                    for m in p.memberships
                ],
            }
            for p in found[:limit]
        ]


def _visible_person(s: Session, mine: set[str], person_id: str) -> None:
    """Admins act only on people already in one of their homes (no probing for ids)."""
    if not any(m.home_id in mine for m in memberships_of(s, person_id)):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "no such person in your homes: invite them into one of your homes first",
        )


@router.post("/homes/{home}/members", status_code=201)
def add_member(
    home: str, body: NewMember, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, str]:
    with hub.db.session() as s:
        authorise(s, person, home, Permission.ADMINISTER)
        _visible_person(s, administered(s, person), body.person_id)
        add_membership(s, person_id=body.person_id, home_id=home, role=body.role, at=now)
        _audit(
            s,
            person,
            AuditAction.ROLE_CHANGED,
            now,
            ref(RefKind.HOME, home),
            person_ref(body.person_id),
            change="added",
            role=body.role.value,
        )
        return {"person_id": body.person_id, "home": home, "role": body.role.value}


@router.delete("/homes/{home}/members/{person_id}/{role}", status_code=204)
def remove_member(
    home: str, person_id: str, role: Role, person: CurrentPerson, hub: HubDep, now: Now
) -> None:
    with hub.db.session() as s:
        authorise(s, person, home, Permission.ADMINISTER)
        admins = {m.person_id for m in members_of(s, home, Role.ADMIN)}
        if role is Role.ADMIN and admins == {person_id}:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                "this is the home's last administrator: make someone else admin first",
            )
        if not remove_membership(s, person_id=person_id, home_id=home, role=role):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such member in this role")
        if role is Role.CARER:  # no longer visiting: the family has no use for their photo
            delete_photo(s, home, person_id, by=person, at=now, reason="carer_removed")
        _audit(
            s,
            person,
            AuditAction.ROLE_CHANGED,
            now,
            ref(RefKind.HOME, home),
            person_ref(person_id),
            change="removed",
            role=role.value,
        )


def _change_grant(
    s: Session, home: str, person: str, who: str, role: Role, grant: Grant, add: bool, now: Any
) -> list[str]:
    authorise(s, person, home, Permission.ADMINISTER)
    if role not in GRANT_PERMISSIONS.get(grant, {}):
        roles = ", ".join(r.value for r in GRANT_PERMISSIONS.get(grant, {}))
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the grant {grant.value} applies to {roles or 'no role'}, not {role.value}",
        )
    held = next(
        (m for m in members_of(s, home, role) if m.person_id == who),
        None,
    )
    if held is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such member in this role")
    grants = set(held.grants) | {grant.value} if add else set(held.grants) - {grant.value}
    add_membership(s, person_id=who, home_id=home, role=role, at=now, grants=grants)
    _audit(
        s,
        person,
        AuditAction.ROLE_CHANGED,
        now,
        ref(RefKind.HOME, home),
        person_ref(who),
        change="grant_added" if add else "grant_removed",
        role=role.value,
        grant=grant.value,
    )
    return sorted(grants)


@router.post("/homes/{home}/grants", status_code=201)
def add_grant(
    home: str, body: NewGrant, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, Any]:
    with hub.db.session() as s:
        grants = _change_grant(s, home, person, body.person_id, body.role, body.grant, True, now)
    return {"person_id": body.person_id, "role": body.role.value, "grants": grants}


@router.delete("/homes/{home}/grants", status_code=204)
def remove_grant(
    home: str,
    person: CurrentPerson,
    hub: HubDep,
    now: Now,
    person_id: Annotated[str, Query(min_length=1, max_length=36)],
    role: Annotated[Role, Query()],
    grant: Annotated[Grant, Query()],
) -> None:
    with hub.db.session() as s:
        _change_grant(s, home, person, person_id, role, grant, False, now)
