"""The care schedule of a home: who is expected now, visit windows, carers, check-in.

GET    /api/homes/{home}/expected             view_events
GET    /api/homes/{home}/visits               view_events or manage_carers
POST   /api/homes/{home}/visits               manage_carers -> 201 {window_id}
DELETE /api/homes/{home}/visits/{window_id}   manage_carers -> 204
GET    /api/homes/{home}/carers               manage_carers
POST   /api/visits/{window_id}/check-in       check_in, the window's own carer -> 201
                                              {checked_in_at, then: none | approval_requested
                                               | auto_unlock | auto_unlock_failed, ...}
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from hub.audit import AuditAction, RefKind, append, person_ref, ref
from hub.bus import Notice
from hub.check_in_policy import after_check_in
from hub.cues import send_cue
from hub.errors import InvalidValue, NotFound
from hub.policy import Permission, permissions
from hub.storage import get_person, members_of
from hub.storage.models_registry import Role
from hub.storage.models_visits import VisitWindow
from hub.storage.visits import add_window, find_window, remove_window, windows_of_home
from hub.visits import CheckInRefused, Expected, check_in, expected_at

from ..deps import CurrentPerson, HubDep, Now, authorise
from .carer_photos import photo_url

router = APIRouter(prefix="/api", tags=["visits"])


class NewWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    carer: str = Field(min_length=1, max_length=36, description="person id of the carer")
    agency: str = Field("", max_length=200)
    weekday: int | None = Field(None, ge=0, le=6, description="0 = Monday .. 6 = Sunday")
    on_date: date | None = Field(None, alias="date", description="a one-off visit on this day")
    start: time = Field(description="HH:MM in the home's time zone")
    end: time = Field(description="HH:MM; at or before start means past midnight")
    tolerance_min: int = Field(15, ge=0, le=240)


def expected_json(items: list[Expected]) -> list[dict[str, Any]]:
    """The shape shared by /expected and the stream's ring notices."""
    return [
        {
            "window_id": e.window_id,
            "carer": e.carer,
            "name": e.name,
            "agency": e.agency,
            "start": f"{e.start:%H:%M}",
            "end": f"{e.end:%H:%M}",
            "starts_at": e.start.isoformat(),
            "ends_at": e.end.isoformat(),
            "checked_in_at": e.checked_in_at.isoformat() if e.checked_in_at else None,
            # issue 9: shown next to the name, only where the carer consented for this home
            "photo_url": photo_url(e.photo_id) if e.photo_id else None,
        }
        for e in items
    ]


def window_json(w: VisitWindow, name: str | None) -> dict[str, Any]:
    return {
        "window_id": w.id,
        "carer": w.carer_id,
        "name": name,
        "agency": w.agency,
        "weekday": w.weekday,
        "date": w.on_date.isoformat() if w.on_date else None,
        "start": f"{w.start:%H:%M}",
        "end": f"{w.end:%H:%M}",
        "tolerance_min": w.tolerance_min,
    }


@router.get("/homes/{home}/expected")
def expected(home: str, person: CurrentPerson, hub: HubDep, now: Now) -> dict[str, Any]:
    with hub.db.read_session() as s:
        authorise(s, person, home, Permission.VIEW_EVENTS)
        items = expected_at(s, home, now)
    # True when a ring now would come outside every visit window: worth a closer look.
    return {"at": now.isoformat(), "expected": expected_json(items), "outside_windows": not items}


@router.get("/homes/{home}/visits")
def visits(home: str, person: CurrentPerson, hub: HubDep) -> list[dict[str, Any]]:
    with hub.db.read_session() as s:
        rights = permissions(s, person, home)
        if not rights & {Permission.VIEW_EVENTS, Permission.MANAGE_CARERS}:
            authorise(s, person, home, Permission.VIEW_EVENTS)  # raises the plain 403
        names: dict[str, str | None] = {}
        out = []
        for w in windows_of_home(s, home):
            if w.carer_id not in names:
                names[w.carer_id] = _name(s, w.carer_id)
            out.append(window_json(w, names[w.carer_id]))
        return out


@router.post("/homes/{home}/visits", status_code=201)
def add_visit(
    home: str, body: NewWindow, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, str]:
    with hub.db.session() as s:
        authorise(s, person, home, Permission.MANAGE_CARERS)
        try:
            window = add_window(
                s,
                home_id=home,
                carer_id=body.carer,
                agency=body.agency,
                weekday=body.weekday,
                on_date=body.on_date,
                start=body.start,
                end=body.end,
                tolerance_min=body.tolerance_min,
                created_by=person,
                at=now,
            )
        except (InvalidValue, NotFound) as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        append(
            s,
            AuditAction.VISIT_WINDOW_ADDED,
            actor=person_ref(person),
            at=now,
            subjects=[
                ref(RefKind.HOME, home),
                ref(RefKind.VISIT, window.id),
                person_ref(body.carer),
            ],
            details={
                "weekday": body.weekday,
                "date": body.on_date.isoformat() if body.on_date else None,
                "start": f"{window.start:%H:%M}",
                "end": f"{window.end:%H:%M}",
                "tolerance_min": body.tolerance_min,
            },
        )
        return {"window_id": window.id}


@router.delete("/homes/{home}/visits/{window_id}", status_code=204)
def delete_visit(home: str, window_id: str, person: CurrentPerson, hub: HubDep, now: Now) -> None:
    with hub.db.session() as s:
        authorise(s, person, home, Permission.MANAGE_CARERS)
        window = find_window(s, window_id)
        if window is None or window.home_id != home:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such visit window in this home")
        carer = window.carer_id
        remove_window(s, window_id)
        append(
            s,
            AuditAction.VISIT_WINDOW_REMOVED,
            actor=person_ref(person),
            at=now,
            subjects=[ref(RefKind.HOME, home), ref(RefKind.VISIT, window_id), person_ref(carer)],
        )


@router.get("/homes/{home}/carers")
def carers(home: str, person: CurrentPerson, hub: HubDep) -> list[dict[str, Any]]:
    with hub.db.read_session() as s:
        authorise(s, person, home, Permission.MANAGE_CARERS)
        return [
            {"person_id": m.person_id, "name": _name(s, m.person_id)}
            for m in members_of(s, home, Role.CARER)
        ]


@router.post("/visits/{window_id}/check-in", status_code=201)
def visit_check_in(
    window_id: str, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, str | None]:
    with hub.db.session() as s:
        window = find_window(s, window_id)
        if window is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such visit window")
        authorise(s, person, window.home_id, Permission.CHECK_IN)
        if window.carer_id != person:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "this visit is someone else's: check in on your own"
            )
        try:
            result = check_in(s, window_id, person, at=now)
        except CheckInRefused as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        name = _name(s, person)
    if result.new:  # after the commit: listeners may read what they hear about
        # The home's policy first: nothing, ask the family to approve, or (only where the
        # owner enabled it for this carer) unlock through the signed command path; the
        # notice then tells the family's page about a waiting approval too.
        outcome = after_check_in(hub.db, hub.bus, hub.commands, result)
        hub.bus.post(
            Notice(
                "check_in",
                "",
                {
                    "window_id": result.window_id,
                    "carer": result.carer,
                    "name": name,
                    "at": result.at.isoformat(),
                    "then": outcome.kind,
                    "approval_id": outcome.approval_id,
                },
                result.home_id,
                result.at,
            )
        )
        # The person inside hears who is at the door (a courtesy: a door offline is skipped).
        send_cue(hub, result.home_id, "carer_at_door", who=name, person_id=person)
        return {
            "checked_in_at": result.at.isoformat(),
            "then": outcome.kind,
            "command_id": outcome.command_id,
            "detail": outcome.detail,
        }
    return {"checked_in_at": result.at.isoformat(), "then": "none"}


def _name(s: Any, person_id: str) -> str | None:
    try:
        return get_person(s, person_id).display_name
    except NotFound:
        return None
