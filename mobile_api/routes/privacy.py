"""Privacy: a home's consent record, the privacy switch, subject access and erasure.

GET  /api/homes/{home}/consent               manage_consent: in force + history
POST /api/homes/{home}/consent               manage_consent -> 201 (a new decision)
GET  /api/consent/reviews-due                manage_consent or review_consent, own homes
GET  /api/homes/{home}/privacy               view_health: each door's reported switch
PUT  /api/homes/{home}/retention             manage_consent: days snapshots are kept
POST /api/doors/{device}/privacy             set_privacy -> 202 {command_id, status}
GET  /api/admin/people/{person_id}/export    administer (every home of the person): a zip
POST /api/admin/people/{person_id}/erase     administer (every home) + a recent step-up
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from hub.audit import person_ref
from hub.consent import ConsentInput, consent_json, record_consent
from hub.erasure import ErasureRefused, erase_person_data, homes_of
from hub.errors import InvalidValue, NotFound
from hub.policy import Permission, permissions
from hub.privacy import privacy_of_home, set_retention
from hub.storage.homes import get_home, memberships_of
from hub.storage.privacy import consent_history, reviews_due
from hub.subject_access import export_person

from ..commanding import send_command
from ..deps import CurrentPerson, CurrentSession, HubDep, Now, SettingsDep, authorise
from ..security import stepped_up

router = APIRouter(prefix="/api", tags=["privacy"])


class Retention(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(ge=1, le=3650, description="days the home's snapshots are kept")


class PrivacySwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    privacy: bool = Field(description="true pauses the door's camera, false resumes it")


@router.get("/homes/{home}/consent")
def consent(home: str, person: CurrentPerson, hub: HubDep, now: Now) -> dict[str, Any]:
    with hub.db.read_session() as s:
        authorise(s, person, home, Permission.MANAGE_CONSENT)
        today = _today(s, home, now)
        history = [consent_json(r, today=today) for r in consent_history(s, home)]
        days = get_home(s, home).retention_days
    return {
        "home": home,
        "current": history[0] if history else None,
        "history": history,
        "retention_days": days,
    }


@router.post("/homes/{home}/consent", status_code=201)
def new_consent(
    home: str, body: ConsentInput, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, Any]:
    with hub.db.session() as s:
        authorise(s, person, home, Permission.MANAGE_CONSENT)
        try:
            record = record_consent(s, home, body, by=person, at=now)
        except (NotFound, InvalidValue) as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        return consent_json(record, today=_today(s, home, now))


@router.get("/consent/reviews-due")
def consent_reviews_due(
    person: CurrentPerson,
    hub: HubDep,
    now: Now,
    within_days: int = Query(30, ge=0, le=366, description="also list reviews due this soon"),
) -> list[dict[str, Any]]:
    rights = {Permission.MANAGE_CONSENT, Permission.REVIEW_CONSENT}
    with hub.db.read_session() as s:
        mine = sorted({m.home_id for m in memberships_of(s, person)})
        homes = [h for h in mine if rights & permissions(s, person, h)]
        if not homes:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "only a home's family owner, its telecare officers or an administrator may "
                "see consent reviews",
            )
        # Each home's own date: a review due today in Auckland is due before London's today.
        today = {h: _today(s, h, now) for h in homes}
        ahead = timedelta(days=within_days)
        due = reviews_due(s, homes, on=max(today.values()) + ahead)
        due = [r for r in due if r.review_on <= today[r.home_id] + ahead]
        names = {h: get_home(s, h).name for h in {r.home_id for r in due}}
        return [
            {
                "home": r.home_id,
                "home_name": names[r.home_id],
                "consent_id": r.id,
                "basis": r.basis.value,
                "review_on": r.review_on.isoformat(),
                "overdue": r.review_on < today[r.home_id],
            }
            for r in due
        ]


def _today(s: Session, home: str, now: datetime) -> date:
    """The date in the home's own time zone (review dates are the home's dates)."""
    return now.astimezone(ZoneInfo(get_home(s, home).timezone)).date()


@router.get("/homes/{home}/privacy")
def home_privacy(home: str, person: CurrentPerson, hub: HubDep) -> list[dict[str, Any]]:
    with hub.db.read_session() as s:
        authorise(s, person, home, Permission.VIEW_HEALTH)
        return privacy_of_home(s, home)


@router.put("/homes/{home}/retention")
def retention(
    home: str, body: Retention, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, int | str]:
    with hub.db.session() as s:
        authorise(s, person, home, Permission.MANAGE_CONSENT)
        before = set_retention(s, home, body.days, by=person, at=now)
    return {"home": home, "retention_days": body.days, "before_days": before}


@router.post("/doors/{device}/privacy", status_code=202)
def set_privacy(
    device: str, body: PrivacySwitch, person: CurrentPerson, hub: HubDep
) -> dict[str, str]:
    # The command service checks SET_PRIVACY for the door's home, signs, sends, audits;
    # the state shown afterwards is the one the door reports back.
    return send_command(hub, device, "set_privacy", person_id=person, privacy=body.privacy)


@router.get("/admin/people/{person_id}/export")
def export(person_id: str, person: CurrentPerson, hub: HubDep, now: Now) -> Response:
    with hub.db.read_session() as s:
        _administers_all_homes_of(s, person, person_id)
    buffer = io.BytesIO()
    export_person(hub.db, hub.files, person_id, buffer, by=person_ref(person), at=now)
    name = f"doorstep-person-{person_id}-{now:%Y%m%d}.zip"
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/admin/people/{person_id}/erase")
def erase(
    person_id: str, ctx: CurrentSession, hub: HubDep, settings: SettingsDep, now: Now
) -> dict[str, Any]:
    with hub.db.read_session() as s:
        _administers_all_homes_of(s, ctx.person_id, person_id)
    if not stepped_up(ctx, settings, now):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"confirm it is you: step up with your code (valid {settings.step_up_window_s} s)",
        )
    try:
        summary = erase_person_data(
            hub.db, hub.files, person_id, by=person_ref(ctx.person_id), at=now
        )
    except ErasureRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such person") from None
    return {
        "person_id": summary.person_id,
        "erased_at": summary.erased_at,
        "already_erased": summary.already_erased,
        "snapshots_deleted": summary.snapshots_deleted,
        "memberships_removed": summary.memberships,
    }


def _administers_all_homes_of(s: Session, admin: str, person_id: str) -> None:
    """An admin acts on a person only if they administer every home the person is in:
    an export must not carry another home's data to them."""
    homes = homes_of(s, person_id)
    mine = [h for h in homes if Permission.ADMINISTER in permissions(s, admin, h)]
    if not mine:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "no such person in your homes: check the person id"
        )
    if len(mine) < len(homes):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "this person is also in a home you do not administer: ask its administrator",
        )
