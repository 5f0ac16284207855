"""A home's check-in policy (owner only) and the family's one-tap approval of a check-in.

GET    /api/homes/{home}/check-in-policy                  manage_carers
PUT    /api/homes/{home}/check-in-policy                  manage_carers  {"family_approves": bool}
PUT    /api/homes/{home}/carers/{carer}/auto-unlock       manage_carers  (audited)
DELETE /api/homes/{home}/carers/{carer}/auto-unlock       manage_carers  (audited)
GET    /api/homes/{home}/check-in-approvals               unlock: pending ones
POST   /api/check-in-approvals/{approval_id}/approve      unlock + a fresh step-up -> command

An approval is an ordinary unlock: the same step-up, command, signature and audit as
``POST /api/doors/{device}/unlock``, plus a ``check_in_approved`` entry in the same
transaction. The notification only opens the page that asks for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from hub.audit import AuditAction, RefKind, append, person_ref, ref
from hub.check_in_policy import door_for
from hub.errors import NotFound
from hub.policy import Permission
from hub.storage.homes import get_person
from hub.storage.models_visit_records import ApprovalStatus
from hub.storage.visit_records import (
    auto_unlock_carers,
    decide_approval,
    disable_auto_unlock,
    enable_auto_unlock,
    family_approves,
    get_approval,
    pending_approvals,
    set_approval_command,
    set_family_approves,
)
from hub.storage.visits import find_window, is_carer_of

from ..commanding import send_command
from ..deps import CurrentPerson, CurrentSession, HubDep, Now, SettingsDep, authorise
from ..security import SessionContext, stepped_up
from .auth import step_up_with

router = APIRouter(prefix="/api", tags=["visits"])


class PolicyChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    family_approves: bool = Field(description="the family may let a checked-in carer in")


class Approve(BaseModel):
    model_config = ConfigDict(extra="forbid")
    totp: str | None = Field(None, max_length=10, description="a fresh code: steps up too")


@router.get("/homes/{home}/check-in-policy")
def get_policy(home: str, person: CurrentPerson, hub: HubDep) -> dict[str, Any]:
    with hub.db.read_session() as s:
        authorise(s, person, home, Permission.MANAGE_CARERS)
        return {
            "family_approves": family_approves(s, home),
            "auto_unlock": [
                {
                    "carer": row.carer_id,
                    "name": _name(s, row.carer_id),
                    "enabled_by": row.enabled_by,
                    "enabled_at": row.enabled_at.isoformat(),
                }
                for row in auto_unlock_carers(s, home)
            ],
        }


@router.put("/homes/{home}/check-in-policy")
def put_policy(
    home: str, body: PolicyChange, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, bool]:
    with hub.db.session() as s:
        authorise(s, person, home, Permission.MANAGE_CARERS)
        before = family_approves(s, home)
        set_family_approves(s, home, body.family_approves, by=person, at=now)
        if before != body.family_approves:
            append(
                s,
                AuditAction.CHECK_IN_POLICY_CHANGED,
                actor=person_ref(person),
                at=now,
                subjects=[ref(RefKind.HOME, home)],
                details={"family_approves": body.family_approves},
            )
    return {"family_approves": body.family_approves}


@router.put("/homes/{home}/carers/{carer}/auto-unlock")
def put_auto_unlock(
    home: str, carer: str, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, bool]:
    with hub.db.session() as s:
        authorise(s, person, home, Permission.MANAGE_CARERS)
        if not is_carer_of(s, carer, home):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such carer in this home")
        if enable_auto_unlock(s, home, carer, by=person, at=now):
            _audit_auto(s, AuditAction.AUTO_UNLOCK_ENABLED, person, home, carer, now)
    return {"auto_unlock": True}


@router.delete("/homes/{home}/carers/{carer}/auto-unlock")
def delete_auto_unlock(
    home: str, carer: str, person: CurrentPerson, hub: HubDep, now: Now
) -> dict[str, bool]:
    with hub.db.session() as s:
        authorise(s, person, home, Permission.MANAGE_CARERS)
        if disable_auto_unlock(s, home, carer):
            _audit_auto(s, AuditAction.AUTO_UNLOCK_DISABLED, person, home, carer, now)
    return {"auto_unlock": False}


@router.get("/homes/{home}/check-in-approvals")
def approvals(home: str, person: CurrentPerson, hub: HubDep, now: Now) -> list[dict[str, Any]]:
    with hub.db.read_session() as s:
        authorise(s, person, home, Permission.UNLOCK)
        out = []
        for a in pending_approvals(s, home, now):
            window = find_window(s, a.window_id)
            out.append(
                {
                    "approval_id": a.id,
                    "window_id": a.window_id,
                    "carer": a.carer_id,
                    "name": _name(s, a.carer_id),
                    "agency": window.agency if window else "",
                    "requested_at": a.requested_at.isoformat(),
                    "expires_at": a.expires_at.isoformat(),
                }
            )
        return out


@router.post("/check-in-approvals/{approval_id}/approve", status_code=202)
def approve(
    approval_id: str,
    ctx: CurrentSession,
    hub: HubDep,
    settings: SettingsDep,
    now: Now,
    body: Approve | None = None,
) -> dict[str, str]:
    with hub.db.read_session() as s:
        try:
            approval = get_approval(s, approval_id)
        except NotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such check-in approval") from None
        home = approval.home_id
        authorise(s, ctx.person_id, home, Permission.UNLOCK)
        if approval.status is not ApprovalStatus.PENDING or approval.expires_at <= now:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                "this check-in was answered already or its visit has ended: unlock from the "
                "ring screen if someone is still at the door",
            )
        door = door_for(s, home, approval.requested_at)
    if door is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "this home has several doors: unlock the right one"
        )
    code = body.totp if body is not None else None
    if code is None and not stepped_up(ctx, settings, now):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"confirm it is you: step up with your code (valid {settings.step_up_window_s} s)",
        )

    def within(s: Session) -> None:
        # Step-up, approval and command in one transaction: all land, or none.
        if code is not None:
            step_up_with(s, ctx, code, now)
        _decide(s, ctx, approval_id, home, approval.window_id, approval.carer_id, now)

    answer = send_command(
        hub,
        door,
        "unlock",
        person_id=ctx.person_id,
        reason="approved a carer's check-in",
        within=within,
    )
    with hub.db.session() as s:
        set_approval_command(s, approval_id, answer["command_id"])
    return answer | {"approval_id": approval_id}


def _decide(
    s: Session,
    ctx: SessionContext,
    approval_id: str,
    home: str,
    window_id: str,
    carer: str,
    now: datetime,
) -> None:
    if not decide_approval(s, approval_id, by=ctx.person_id, at=now):
        raise HTTPException(status.HTTP_409_CONFLICT, "someone answered this check-in already")
    append(
        s,
        AuditAction.CHECK_IN_APPROVED,
        actor=person_ref(ctx.person_id),
        at=now,
        subjects=[ref(RefKind.HOME, home), ref(RefKind.VISIT, window_id), person_ref(carer)],
        details={"approval": approval_id},
    )


def _audit_auto(
    s: Session, action: AuditAction, person: str, home: str, carer: str, now: datetime
) -> None:
    append(
        s,
        action,
        actor=person_ref(person),
        at=now,
        subjects=[ref(RefKind.HOME, home), person_ref(carer)],
    )


def _name(s: Session, person_id: str) -> str | None:
    try:
        return get_person(s, person_id).display_name
    except NotFound:
        return None
