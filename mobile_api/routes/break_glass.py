"""Break-glass: an officer's emergency unlock with a stated reason, and its later review.

POST /api/doors/{device}/break-glass          BREAK_GLASS + step-up + reason: opens a
                                              15-minute box on the door and unlocks it
POST /api/break-glass/{break_glass_id}/unlock another unlock inside the officer's own box
GET  /api/homes/{home}/break-glass            the home's boxes, newest first (?unreviewed=true)
POST /api/break-glass/{break_glass_id}/review the family owner or an administrator marks it reviewed

The box is recorded, audited and the family told before the door is asked to open:
an offline door leaves the box open (and the family told) so the unlock can be retried.
"""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from hub.break_glass import (
    MAX_REASON,
    BreakGlassRefused,
    describe,
    open_box,
    review,
    unlock_within,
)
from hub.errors import NotFound
from hub.policy import NotAuthorised, Permission, permissions
from hub.storage.care import boxes_of, get_box
from hub.storage.devices import get_device

from ..commanding import send_command
from ..deps import CurrentPerson, CurrentSession, HubDep, Now, SettingsDep, authorise
from ..security import SessionContext, stepped_up
from ..settings import WebSettings
from .auth import step_up_with

router = APIRouter(prefix="/api", tags=["break-glass"])


class OpenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(
        ..., max_length=MAX_REASON, description="Why: at least 20 characters, read by the family."
    )
    totp: str | None = Field(None, max_length=10, description="A fresh code (steps up).")


class UnlockBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    totp: str | None = Field(None, max_length=10)


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(..., min_length=1, max_length=1000)


def _require_step_up(
    ctx: SessionContext, settings: WebSettings, now: Now, code: str | None
) -> None:
    if code is None and not stepped_up(ctx, settings, now):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"confirm it is you: step up with your code (valid {settings.step_up_window_s} s)",
        )


def _unlock(hub: HubDep, ctx: SessionContext, box_id: str, device: str, now: Now) -> dict[str, str]:
    return send_command(
        hub,
        device,
        "unlock",
        person_id=ctx.person_id,
        reason="break-glass",
        authorise=unlock_within(box_id, ctx.person_id, now),
    )


@router.post("/doors/{device}/break-glass", status_code=201)
def open_break_glass(
    device: str,
    body: OpenBody,
    ctx: CurrentSession,
    hub: HubDep,
    settings: SettingsDep,
    now: Now,
) -> dict[str, object]:
    with hub.db.session() as s:
        try:
            home = get_device(s, device).home_id
        except NotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no door {device!r}") from None
        authorise(s, ctx.person_id, home, Permission.BREAK_GLASS)
        _require_step_up(ctx, settings, now, body.totp)
        if body.totp is not None:
            step_up_with(s, ctx=ctx, code=body.totp, now=now)
        try:
            box, notice = open_box(
                s, person_id=ctx.person_id, device_id=device, reason=body.reason, now=now
            )
        except BreakGlassRefused as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        opened = describe(box, now)
    if notice is not None:
        hub.bus.post(notice)  # the family hears at once, whatever the door does next
    try:
        unlock: dict[str, object] = dict(_unlock(hub, ctx, str(opened["id"]), device, now))
    except HTTPException as exc:  # offline, rate-limited: the box stays open for a retry
        unlock = {"status": "not_sent", "detail": exc.detail}
    return {"break_glass": opened, "unlock": unlock}


@router.post("/break-glass/{break_glass_id}/unlock", status_code=202)
def unlock_again(
    break_glass_id: str,
    ctx: CurrentSession,
    hub: HubDep,
    settings: SettingsDep,
    now: Now,
    body: UnlockBody | None = None,
) -> dict[str, str]:
    with hub.db.read_session() as s:
        box = get_box(s, break_glass_id)
        if box is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such break-glass")
        if box.person_id != ctx.person_id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "only the officer who opened it")
        device = box.device_id
    code = body.totp if body is not None else None
    _require_step_up(ctx, settings, now, code)
    step_up = None if code is None else partial(step_up_with, ctx=ctx, code=code, now=now)
    return send_command(
        hub,
        device,
        "unlock",
        person_id=ctx.person_id,
        reason="break-glass",
        within=step_up,
        authorise=unlock_within(break_glass_id, ctx.person_id, now),
    )


@router.get("/homes/{home}/break-glass")
def list_boxes(
    home: str,
    person: CurrentPerson,
    hub: HubDep,
    now: Now,
    unreviewed: bool = Query(False),
) -> list[dict[str, object]]:
    readers = {Permission.REVIEW_BREAK_GLASS, Permission.READ_AUDIT, Permission.BREAK_GLASS}
    with hub.db.read_session() as s:
        if not readers & permissions(s, person, home):
            authorise(s, person, home, Permission.REVIEW_BREAK_GLASS)
        return [describe(b, now) for b in boxes_of(s, home, unreviewed_only=unreviewed)]


@router.post("/break-glass/{break_glass_id}/review")
def review_box(
    break_glass_id: str, body: ReviewBody, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, object]:
    with hub.db.session() as s:
        try:
            box = review(s, break_glass_id, person_id=person, note=body.note, now=now)
        except NotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such break-glass") from None
        except NotAuthorised as exc:
            raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from None
        except BreakGlassRefused as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        return describe(box, now)
